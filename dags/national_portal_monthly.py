"""National portal (Cổng DVCQG), one run per calendar month.

partition -> for each dataset: extract -> validate -> load; reference data refreshed first.
Backfill a year with `airflow backfill create --dag-id national_portal_monthly
--from-date 2025-01-01 --to-date 2025-12-31` (12 month-partition runs).
"""

from __future__ import annotations

import datetime as dt

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

from plugins.notifiers import notify_ops

DATASETS = ["portal_score", "portal_monthly_counters"]


@dag(
    dag_id="national_portal_monthly",
    schedule=CronDataIntervalTimetable("0 0 1 * *", timezone="Asia/Ho_Chi_Minh"),
    start_date=pendulum.datetime(2019, 1, 1, tz="Asia/Ho_Chi_Minh"),
    catchup=False,
    max_active_runs=3,
    default_args={
        "retries": 3,
        "retry_delay": dt.timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "on_failure_callback": notify_ops,
    },
    tags=["national_portal", "monthly"],
    doc_md=__doc__,
)
def national_portal_monthly() -> None:
    @task
    def partition(data_interval_start=None, data_interval_end=None) -> str:
        from transforms.periods import month_of_interval

        return str(month_of_interval(data_interval_start, data_interval_end))

    @task
    def refresh_reference() -> dict:
        from pipeline.reference import refresh_reference
        from plugins.hooks import pipeline_settings

        return refresh_reference(pipeline_settings())

    @task(max_active_tis_per_dag=1)  # the portal asks for ~1 request/s: one extract at a time
    def extract(dataset: str, month: str) -> dict:
        from pipeline.national_portal import extract
        from plugins.hooks import NationalPortalHook, pipeline_settings
        from transforms.periods import Month

        return extract(dataset, Month.parse(month), NationalPortalHook().get_config(),
                       pipeline_settings())

    @task
    def validate(ref: dict) -> dict:
        from pipeline.national_portal import validate
        from plugins.hooks import pipeline_settings

        return validate(ref, pipeline_settings())

    @task
    def load(validated: dict, run_id: str | None = None) -> dict:
        from pipeline.national_portal import load
        from plugins.hooks import pipeline_settings

        return load(validated, run_id or "manual", pipeline_settings())

    month = partition()
    reference = refresh_reference()
    fetched = extract.partial(month=month).expand(dataset=DATASETS)
    loaded = load.expand(validated=validate.expand(ref=fetched))
    reference >> loaded


national_portal_monthly()
