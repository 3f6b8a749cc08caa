"""Provincial one-stop systems (một cửa điện tử), one run per calendar month.

partition -> reference data -> for each province (mapped): extract dossiers (minimised,
in parts) and aggregated statistics -> validate dossiers -> counters, indicators and
cross-check loaded in one transaction. Provinces and vendors come from config/onestop.yaml.
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


@dag(
    dag_id="onestop_monthly",
    schedule=monthly_schedule(),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=2,
    default_args=DEFAULT_ARGS,
    tags=["onestop", "monthly"],
    doc_md=__doc__,
)
def onestop_monthly() -> None:
    @task
    def provinces() -> list[str]:
        import yaml

        from plugins.hooks import pipeline_settings

        path = pipeline_settings().config_dir / "onestop.yaml"
        return sorted(yaml.safe_load(path.read_text(encoding="utf-8"))["provinces"])

    @task
    def extract_dossiers(province: str, month: str) -> dict:
        import yaml

        from domain.periods import Month
        from plugins.hooks import OneStopHook, pipeline_settings
        from steps.onestop import extract_dossiers

        settings = pipeline_settings()
        part_rows = yaml.safe_load((settings.config_dir / "onestop.yaml").read_text(
            encoding="utf-8"))["part_rows"]
        return extract_dossiers(province, Month.parse(month),
                                OneStopHook(province).get_config(settings), settings,
                                part_rows=part_rows)

    @task
    def extract_aggregates(province: str, month: str) -> dict:
        from domain.periods import Month
        from plugins.hooks import OneStopHook, pipeline_settings
        from steps.onestop import extract_aggregates

        settings = pipeline_settings()
        return extract_aggregates(province, Month.parse(month),
                                  OneStopHook(province).get_config(settings), settings)

    @task
    def validate_dossiers(ref: dict) -> dict:
        from plugins.hooks import pipeline_settings
        from steps.onestop import validate_dossiers

        return validate_dossiers(ref, pipeline_settings())

    @task
    def load_month(pair: tuple, run_id: str | None = None) -> dict:
        from plugins.hooks import pipeline_settings
        from steps.onestop import load_month

        validated, aggregates = pair
        return load_month(validated, aggregates, run_id or "manual", pipeline_settings())

    month = partition()
    reference = refresh_reference()
    codes = provinces()
    dossiers = extract_dossiers.partial(month=month).expand(province=codes)
    aggregates = extract_aggregates.partial(month=month).expand(province=codes)
    validated = validate_dossiers.expand(ref=dossiers)
    loaded = load_month.expand(pair=validated.zip(aggregates))
    reference >> loaded


onestop_monthly()
