"""Provincial e-office systems (hệ thống quản lý văn bản và điều hành), one run per calendar
month: partition, reference data, then one task group per province whose figures come from
its API (config/sources.yaml eoffice.provinces): extract the month's document statistics
-> validate (suite `documents`) -> load fact_document_monthly's partition of the province
and month in one transaction. One province failing does not stop the others; the load
publishes the table's Asset and the marts DAG rebuilds the month's indicators.

Offices without an API send files instead: the eoffice_inbox DAG takes them.
"""

from __future__ import annotations

from airflow.sdk import task, task_group

from plugins.assets import announce_month, asset_of
from plugins.monthly import opening_tasks, pipeline_dag
from plugins.notifiers import fail_fast
from registry.settings import load_registry

DOCUMENTS = load_registry()["documents"]


@task
@fail_fast()
def provinces() -> list[str]:
    from plugins.hooks import pipeline_settings

    return sorted(pipeline_settings().sources.eoffice.provinces)


@task
@fail_fast()
def extract(province: str, month: str) -> dict:
    from domain.periods import Month
    from plugins.hooks import EOfficeHook, pipeline_settings, source_config
    from steps.eoffice import extract

    settings = pipeline_settings()
    return extract(province, Month.parse(month),
                   source_config(EOfficeHook(province, settings)), settings)


@task
@fail_fast()
def validate(ref: dict) -> dict:
    from plugins.hooks import pipeline_settings
    from steps.eoffice import validate

    return validate(ref, pipeline_settings())


@task(outlets=[asset_of(DOCUMENTS)])
@fail_fast()
def load(validated: dict, run_id: str | None = None, outlet_events=None) -> dict:
    from plugins.hooks import pipeline_settings
    from steps.eoffice import load

    audit = load(validated, run_id or "manual", pipeline_settings())
    announce_month(outlet_events, DOCUMENTS, validated["month"], source=validated["source"])
    return audit


@task_group
def province(province: str, month: str) -> None:
    """One province's month: extract, validate, load."""
    load(validate(extract(province, month)))


@pipeline_dag("eoffice_monthly", doc=__doc__, tags=["eoffice", "monthly"], max_active_runs=2)
def eoffice_monthly() -> None:
    month, reference = opening_tasks()
    reference >> province.partial(month=month).expand(province=provinces())


eoffice_monthly()
