"""National portal (Cổng DVCQG), one run per calendar month.

partition, reference data, then for each of the registry's national-portal datasets
(config/datasets.yaml) a task group mapped over the periods that end with the month (the
month and the year to date; a quarter, half or year when one ends): extract -> validate ->
load, each period a partition of its own. Each load publishes its table's Asset; the marts
DAG rebuilds a month's indicators from it. Extracts take turns in the Airflow pool of
config/sources.yaml (the portal asks for ~1 request/s); datasets otherwise run side by side,
and one dataset's or
period's failure does not stop another's. A rejected partition (nothing good came, a
configured province missing or empty, the wrong period answered) fails without retries:
the same answer would be rejected again. A period an
API generation does not publish (a half year on the reporting API) is skipped; so is the
year to date of a month that is no longer the latest complete one (the portal answers only
the year so far). Backfill a year with `airflow backfill create --dag-id
national_portal_monthly --from-date 2025-01-01 --to-date 2025-12-31` (12 month runs).
"""

from __future__ import annotations

from airflow.sdk import task, task_group

from plugins.assets import announce_month, asset_of
from plugins.monthly import opening_tasks, pipeline_dag
from plugins.notifiers import fail_fast
from registry.settings import Settings, load_registry

DATASETS = {d.name: d for d in load_registry().of_source("national_portal", kind="fact")}
PORTAL = Settings.from_env().sources.national_portal


@task
@fail_fast()
def periods(month: str, period_types: list[str]) -> list[str]:
    """The periods of the dataset's types that end with this month, as labels (the year
    to date only in the month after it: see domain.periods.periods_ending)."""
    from domain.periods import Month
    from steps.national_portal import periods_to_load

    return [str(p) for p in periods_to_load(Month.parse(month), period_types)]


# One extract at a time against the portal (it asks for ~1 request/s), whichever run or
# dataset it belongs to: the pool of config/sources.yaml.
@task(max_active_tis_per_dagrun=1, pool=PORTAL.pool)
@fail_fast()
def extract(dataset: str, period: str) -> dict:
    from airflow.sdk.exceptions import AirflowSkipException

    from domain.periods import Period
    from plugins.hooks import NationalPortalHook, pipeline_settings, source_config
    from steps.national_portal import extract

    settings = pipeline_settings()
    ref = extract(dataset, Period.parse(period), source_config(NationalPortalHook(settings)),
                  settings)
    if ref.get("not_published"):
        raise AirflowSkipException(ref["not_published"])
    return ref


@task
@fail_fast()
def validate(ref: dict) -> dict:
    from plugins.hooks import pipeline_settings
    from steps.national_portal import validate

    return validate(ref, pipeline_settings())


@task
@fail_fast()
def load(validated: dict, run_id: str | None = None, outlet_events=None) -> dict:
    from plugins.hooks import pipeline_settings
    from steps.national_portal import load

    # a rejected partition fails at once (fail_fast): the same answer would be rejected again
    audit = load(validated, run_id or "manual", pipeline_settings())
    from domain.periods import Period

    label = validated["month"]  # the period's label: the marts rebuild its last month,
    # whose scores cover every period ending with it (this quarter, this year to date)
    announce_month(outlet_events, DATASETS[validated["dataset"]],
                   str(Period.parse(label).last_month), period=label)
    return audit


@task_group
def period_partition(dataset: str, period: str) -> None:
    """One dataset for one period: extract, validate, load."""
    fetched = extract(dataset, period)
    load.override(outlets=[asset_of(DATASETS[dataset])])(validate(fetched))


@pipeline_dag("national_portal_monthly", doc=__doc__, tags=["national_portal", "monthly"],
              max_active_runs=3)
def national_portal_monthly() -> None:
    month, reference = opening_tasks()
    for name, dataset in DATASETS.items():
        chosen = periods.override(task_id=f"periods_{name}")(month, list(dataset.period_types))
        reference >> period_partition.override(group_id=name).partial(dataset=name).expand(
            period=chosen)


national_portal_monthly()
