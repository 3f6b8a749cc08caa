"""National portal (Cổng DVCQG), one run per calendar month.

partition -> for each dataset: extract -> validate -> load; reference data refreshed first.
Backfill a year with `airflow backfill create --dag-id national_portal_monthly
--from-date 2025-01-01 --to-date 2025-12-31` (12 month-partition runs).
"""

from __future__ import annotations

from airflow.sdk import dag, task

from plugins.monthly import (
    DEFAULT_ARGS,
    START_DATE,
    monthly_schedule,
    partition,
    refresh_reference,
)

DATASETS = ["portal_score", "portal_monthly_counters"]


@dag(
    dag_id="national_portal_monthly",
    schedule=monthly_schedule(),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=3,
    default_args=DEFAULT_ARGS,
    tags=["national_portal", "monthly"],
    doc_md=__doc__,
)
def national_portal_monthly() -> None:
    @task(max_active_tis_per_dag=1)  # the portal asks for ~1 request/s: one extract at a time
    def extract(dataset: str, month: str) -> dict:
        from domain.periods import Month
        from plugins.hooks import NationalPortalHook, pipeline_settings
        from steps.national_portal import extract

        return extract(dataset, Month.parse(month), NationalPortalHook().get_config(),
                       pipeline_settings())

    @task
    def validate(ref: dict) -> dict:
        from plugins.hooks import pipeline_settings
        from steps.national_portal import validate

        return validate(ref, pipeline_settings())

    @task
    def load(validated: dict, run_id: str | None = None) -> dict:
        from plugins.hooks import pipeline_settings
        from steps.national_portal import load

        return load(validated, run_id or "manual", pipeline_settings())

    month = partition()
    reference = refresh_reference()
    fetched = extract.partial(month=month).expand(dataset=DATASETS)
    loaded = load.expand(validated=validate.expand(ref=fetched))
    reference >> loaded


national_portal_monthly()
