"""What every month-partitioned DAG shares: schedule, defaults, and the opening tasks.

Light on purpose: DAG files import this at parse time (airflow.sdk and pendulum only).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from airflow.sdk import XComArg, dag, task

from plugins.notifiers import OpsNotifier, fail_fast
from plugins.timetables import VietnamMonths
from registry.runtime import runtime_settings

START_DATE = pendulum.datetime(2019, 1, 1, tz="Asia/Ho_Chi_Minh")


RUNTIME = runtime_settings()
DEFAULT_ARGS: dict[str, Any] = {
    "retries": int(RUNTIME["retries"]),
    "retry_delay": dt.timedelta(minutes=RUNTIME["retry_delay_minutes"]),
    "retry_exponential_backoff": True,
    "execution_timeout": dt.timedelta(minutes=RUNTIME["task_timeout_minutes"]),
    "on_failure_callback": OpsNotifier(),
}


def monthly_schedule() -> VietnamMonths:
    """Runs after each calendar month (Vietnam time); the data interval is that month, and
    a manual run's is the month its logical date falls in (plugins/timetables.py)."""
    return VietnamMonths()


def pipeline_dag(dag_id: str, *, doc: str | None, tags: list[str], max_active_runs: int,
                 schedule: Any = None, **options: Any) -> Any:
    """The `@dag` decorator with what every DAG here shares: start date, no catch-up
    (backfills are explicit), the ops notifier on every task and on the run; the monthly schedule
    unless another is given."""
    timeout = options.pop("dagrun_timeout", dt.timedelta(hours=RUNTIME["dagrun_timeout_hours"]))
    return dag(dag_id=dag_id, schedule=schedule or monthly_schedule(), start_date=START_DATE,
               catchup=False, max_active_runs=max_active_runs, default_args=DEFAULT_ARGS,
               dagrun_timeout=timeout,
               on_failure_callback=OpsNotifier(), tags=tags, doc_md=doc, **options)


@task
@fail_fast()
def partition(logical_date=None, data_interval_start=None, data_interval_end=None) -> str:
    """The month this run loads ('YYYY-MM'): the one its logical date falls in (Vietnam
    time), else its one-month data interval's; fails loudly with neither. The same month
    whether the run was scheduled, backfilled or triggered by hand for that date (the CLI's
    `airflow dags trigger -l` gives its run the interval of the day it ran: logged)."""
    import logging

    from domain.periods import month_of_interval, month_of_run

    month = month_of_run(logical_date, data_interval_start, data_interval_end)
    try:
        covered = month_of_interval(data_interval_start, data_interval_end)
    except ValueError:
        covered = None
    if covered is not None and covered != month:
        logging.getLogger(__name__).warning(
            "loading %s, the month of the logical date %s; the run's data interval says %s",
            month, logical_date, covered)
    return str(month)


@task
@fail_fast()
def migrate_warehouse() -> dict:
    """`reformstats db upgrade`: create or upgrade the warehouse schema (a no-op when it is
    current; concurrent upgrades wait for each other). Loads themselves never run DDL."""
    from plugins.hooks import pipeline_settings
    from warehouse.migrate import upgrade

    before, after = upgrade(pipeline_settings().warehouse_url)
    return {"before": before, "after": after}


@task
@fail_fast()
def refresh_reference() -> dict:
    """Units, crosswalk, procedures and indicator catalogue from config/ (idempotent)."""
    from plugins.hooks import pipeline_settings
    from steps.reference import refresh_reference

    return refresh_reference(pipeline_settings())


def prepared_warehouse() -> XComArg:
    """Schema migrated, then reference data refreshed: what every load waits for."""
    reference = refresh_reference()
    migrate_warehouse() >> reference
    return reference


def opening_tasks() -> tuple[XComArg, XComArg]:
    """(the month, the prepared warehouse): what every monthly DAG starts with."""
    return partition(), prepared_warehouse()


def refresh_logical_date(month: Any) -> str:
    """The logical date of a month's refresh run: its second day, 00:00 in Vietnam time
    (any instant of a month selects it; its first is the scheduler's own run of it)."""
    second = month.first_day.replace(day=2)
    return f"{second.isoformat()}T00:00:00+07:00"


def refresh_runs(dag_id: str, logical_dates: XComArg) -> XComArg:
    """One run of `dag_id` per logical date, cleared and run again if it exists
    (`reset_dag_run`), not waited for: each alerts on its own failures."""
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    return TriggerDagRunOperator.partial(
        task_id=f"refresh_{dag_id}", trigger_dag_id=dag_id, reset_dag_run=True,
        wait_for_completion=False, conf={"refresh": True}).expand(logical_date=logical_dates)
