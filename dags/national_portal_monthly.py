"""National portal (Cổng DVCQG), one run per calendar month.

partition, reference data, then for each of the registry's national-portal datasets
(config/datasets.yaml) a task group: extract -> validate -> load. Each load publishes its
table's Asset; the marts DAG rebuilds the month's indicators from it. The extracts run one
after the other (the portal asks for ~1 request/s) and one dataset's failure does not stop
another's. Backfill a year with `airflow backfill create --dag-id national_portal_monthly
--from-date 2025-01-01 --to-date 2025-12-31` (month-partition runs).
"""

from __future__ import annotations

from airflow.sdk import TaskGroup, task

from plugins.assets import announce_month, asset_of
from plugins.monthly import opening_tasks, pipeline_dag
from registry.settings import load_registry

DATASETS = load_registry().of_source("national_portal", kind="fact")


@task(trigger_rule="all_done")  # after the previous dataset's extract, whatever its outcome
def extract(dataset: str, month: str) -> dict:
    from domain.periods import Month
    from plugins.hooks import NationalPortalHook, pipeline_settings
    from steps.national_portal import extract

    settings = pipeline_settings()
    return extract(dataset, Month.parse(month), NationalPortalHook(settings).get_config(),
                   settings)


@task
def validate(ref: dict) -> dict:
    from plugins.hooks import pipeline_settings
    from steps.national_portal import validate

    return validate(ref, pipeline_settings())


@task
def load(validated: dict, run_id: str | None = None, outlet_events=None) -> dict:
    from plugins.hooks import pipeline_settings
    from steps.national_portal import load

    audit = load(validated, run_id or "manual", pipeline_settings())
    dataset = next(d for d in DATASETS if d.name == validated["dataset"])
    announce_month(outlet_events, dataset, validated["month"])
    return audit


@pipeline_dag("national_portal_monthly", doc=__doc__, tags=["national_portal", "monthly"],
              max_active_runs=3)
def national_portal_monthly() -> None:
    month, reference = opening_tasks()
    previous = None
    for dataset in DATASETS:
        with TaskGroup(group_id=dataset.name):
            fetched = extract.override(task_id="extract")(dataset.name, month)
            loaded = load.override(task_id="load", outlets=[asset_of(dataset)])(
                validate.override(task_id="validate")(fetched))
        reference >> loaded
        if previous is not None:
            previous >> fetched
        previous = fetched


national_portal_monthly()
