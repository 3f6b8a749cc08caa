"""Provincial one-stop systems (một cửa điện tử), one run per calendar month.

partition, reference data, then one task group per province (mapped over the provinces of
config/sources.yaml): extract dossiers (minimised, in parts) and the vendor's aggregated
statistics -> validate dossiers -> counters and checks loaded in one transaction. Each
province's group runs on its own: one province failing does not stop the others. The load
publishes fact_dossier_monthly's Asset; the marts DAG rebuilds the month's indicators.
"""

from __future__ import annotations

from airflow.sdk import task, task_group

from plugins.assets import announce_month, asset_of
from plugins.monthly import opening_tasks, pipeline_dag
from plugins.notifiers import fail_fast
from registry.settings import load_registry

DOSSIERS = load_registry()["dossiers"]


@task
@fail_fast()
def provinces() -> list[str]:
    from plugins.hooks import pipeline_settings

    return sorted(pipeline_settings().sources.onestop.provinces)


@task
@fail_fast()
def extract_dossiers(province: str, month: str) -> dict:
    from domain.periods import Month
    from plugins.hooks import OneStopHook, pipeline_settings, source_config
    from steps.onestop import extract_dossiers

    settings = pipeline_settings()
    return extract_dossiers(province, Month.parse(month),
                            source_config(OneStopHook(province, settings)), settings)


@task
@fail_fast()
def extract_aggregates(province: str, month: str) -> dict:
    from domain.periods import Month
    from plugins.hooks import OneStopHook, pipeline_settings, source_config
    from steps.onestop import extract_aggregates

    settings = pipeline_settings()
    return extract_aggregates(province, Month.parse(month),
                              source_config(OneStopHook(province, settings)), settings)


@task
@fail_fast()
def validate_dossiers(ref: dict) -> dict:
    from plugins.hooks import pipeline_settings
    from steps.onestop import validate_dossiers

    return validate_dossiers(ref, pipeline_settings())


@task(outlets=[asset_of(DOSSIERS)])
@fail_fast()
def load_month(validated: dict, aggregates: dict, run_id: str | None = None,
               outlet_events=None) -> dict:
    from plugins.hooks import pipeline_settings
    from steps.onestop import load_month

    audit = load_month(validated, aggregates, run_id or "manual", pipeline_settings())
    announce_month(outlet_events, DOSSIERS, validated["month"],
                   source=validated["source"])
    return audit


@task_group
def province(province: str, month: str) -> None:
    """One province's month: both extracts, validation, and the load."""
    load_month(validate_dossiers(extract_dossiers(province, month)),
               extract_aggregates(province, month))


@pipeline_dag("onestop_monthly", doc=__doc__, tags=["onestop", "monthly"], max_active_runs=2)
def onestop_monthly() -> None:
    month, reference = opening_tasks()
    reference >> province.partial(month=month).expand(province=provinces())


onestop_monthly()
