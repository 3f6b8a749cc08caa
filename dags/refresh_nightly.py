"""Nightly refresh: sources revise past months (late entries, late syncs to the portal), so
every night at 03:00 Vietnam time each fact DAG runs again for the latest complete month and
the month before it. Each is an ordinary run of the monthly DAG for that month: its loads
replace the month's partitions, so a changed answer replaces the figures (the warehouse keeps
the latest, with its fetch id; the raw zone keeps every answer), and the marts follow on the
loads' Asset events. The month in progress is not loaded: its figures are not a month's yet.

A refresh run's logical date is the month's second day, 00:00 Vietnam time (the first is the
scheduler's own run of the month); the next night clears and runs it again
(`reset_dag_run`), so the run list holds one refresh run per DAG and month.
"""

from __future__ import annotations

from airflow.sdk import CronTriggerTimetable, task

from plugins.monthly import pipeline_dag, refresh_runs
from plugins.notifiers import fail_fast

FACT_DAGS = ("national_portal_monthly", "onestop_monthly", "eoffice_monthly")


@task
@fail_fast()
def months_to_refresh(logical_date=None) -> list[str]:
    """The month before the latest complete one, then the latest, as of the run (its
    logical date; the clock or REFORMSTATS_AS_OF without one): their refresh runs'
    logical dates."""
    from domain.periods import latest_complete_month
    from plugins.monthly import refresh_logical_date
    from registry.runtime import present

    latest = latest_complete_month(logical_date or present())
    return [refresh_logical_date(m) for m in (latest.previous(), latest)]


@pipeline_dag("refresh_nightly", doc=__doc__, tags=["nightly", "refresh"], max_active_runs=1,
              schedule=CronTriggerTimetable("0 3 * * *", timezone="Asia/Ho_Chi_Minh"))
def refresh_nightly() -> None:
    months = months_to_refresh()
    for dag_id in FACT_DAGS:
        refresh_runs(dag_id, months)


refresh_nightly()
