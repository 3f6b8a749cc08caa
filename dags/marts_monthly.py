"""Marts: a month's indicators from the warehouse facts of every source, then the scores of
every rule set in force (config/schemes/) for the periods ending with the month, each in
its own transaction, so rescoring never needs re-extraction; then the scorecards of those
periods (reports/, config/reports.yaml), read from the warehouse.

Scheduled on the Assets the fact loads publish (the registry's `indicators.inputs` and
`scores.inputs` that no marts task makes): a run rebuilds every month its triggering
events name. Triggered by hand for one month with the
`month` param (`airflow dags trigger marts_monthly --conf '{"month": "2025-10"}'`).
"""

from __future__ import annotations

from airflow.sdk import AssetAny, Param, task

from plugins.assets import asset_of
from plugins.monthly import pipeline_dag, prepared_warehouse
from plugins.notifiers import fail_fast
from registry.settings import load_registry

REGISTRY = load_registry()
INDICATORS = REGISTRY["indicators"]
SCORES = REGISTRY["scores"]
INPUTS = [asset_of(REGISTRY[name]) for name in dict.fromkeys(
    (*INDICATORS.inputs, *SCORES.inputs)) if REGISTRY[name].source != "marts"]


@task
@fail_fast()
def months(params=None, triggering_asset_events=None) -> list[str]:
    """The months to rebuild: the `month` param, else those the asset events name."""
    from domain.periods import Month
    from plugins.assets import months_from_events

    if params and params.get("month"):
        return [str(Month.parse(params["month"]))]
    found = months_from_events(triggering_asset_events)
    if not found:
        raise ValueError("no month to build: trigger with conf {\"month\": \"YYYY-MM\"} or "
                         "let a fact load's Asset event name one")
    return found


@task(outlets=[asset_of(INDICATORS)])
@fail_fast()
def build_indicators(month: str, run_id: str | None = None, outlet_events=None) -> dict:
    from domain.periods import Month
    from plugins.assets import announce_month
    from plugins.hooks import pipeline_settings
    from steps.marts import build_indicators

    audit = build_indicators(Month.parse(month), run_id or "manual", pipeline_settings())
    announce_month(outlet_events, INDICATORS, month)
    return audit


@task(outlets=[asset_of(SCORES)])
@fail_fast()
def score(month: str, run_id: str | None = None, outlet_events=None) -> list[dict]:
    from domain.periods import Month
    from plugins.assets import announce_month
    from plugins.hooks import pipeline_settings
    from steps.scoring import score_month

    # a criterion set that does not check out fails at once (fail_fast): the same files
    # fail again; `reformstats scoring check` says why
    audits = score_month(Month.parse(month), run_id or "manual", pipeline_settings())
    announce_month(outlet_events, SCORES, month)
    return audits


@task
@fail_fast()
def report(month: str) -> list[dict]:
    """The scorecards of the periods the month ends (HTML, .xlsx, CSV), read-only."""
    from domain.periods import Month
    from plugins.hooks import pipeline_settings
    from steps.reports import write_reports

    return write_reports(Month.parse(month), pipeline_settings())


@pipeline_dag("marts_monthly", doc=__doc__, tags=["marts", "monthly"], max_active_runs=1,
              schedule=AssetAny(*INPUTS),
              params={"month": Param(None, type=["null", "string"], pattern=r"^\d{4}-\d{2}$",
                                     description="YYYY-MM: rebuild this month only")})
def marts_monthly() -> None:
    wanted = months()
    built = build_indicators.expand(month=wanted)
    prepared_warehouse() >> built >> score.expand(month=wanted) >> report.expand(month=wanted)


marts_monthly()
