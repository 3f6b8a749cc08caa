"""National portal (DVCQG) steps: extract -> validate -> load, one period per call.

A period is a month, quarter, half, year or year to date (domain.periods.Period), each a
partition of its own. Each step is a plain function of a small reference dict and returns
one, so Airflow tasks stay thin and XCom never carries data. All three are idempotent:
extract adds a new raw-zone version; validate writes files named by fetch; load replaces
the partition (or, when nothing good came, rejects it and keeps the last good one).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from domain.periods import Month, Period
from domain.reference_units import provinces_on
from domain.units import UnitRegistry
from expectations.outcomes import CheckOutcome, held_share, rejection
from registry.datasets import Dataset
from registry.settings import Settings
from sources.errors import NotPublishedError, SourceHTTPError
from sources.http import HttpSource
from sources.national_portal import (
    METRIC_GROUPS,
    TREE_GROUPS,
    LegacyGatewayClient,
    NationalPortalConfig,
    ReportingApiClient,
)
from sources.raw_zone import FetchRef, RawZone, read_manifest, read_records
from steps.units import match_frame, read_learned, register_units, unit_matcher, write_learned
from transforms import national_portal as normalise
from transforms.national_portal import NATIONAL_LIST
from warehouse.publish import PartitionRejected as PartitionRejected  # load raises it

SOURCE = "national_portal"

log = logging.getLogger(__name__)

Records = list[tuple[str | None, dict[str, Any]]]


# -- extract ---------------------------------------------------------------------------
@dataclass
class Fetched:
    """What one dataset's fetch function got: the records, keyed by the list they came in,
    and what the answers said about themselves (period covered, configured units)."""

    records: Records
    covered: str | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)


SCHEME = {"legacy_gateway": "legacy_766", "reporting_api": "reporting"}
# Failed checks that keep a partition from replacing the last good one (no silent
# success). A province without a monthly-counter ID is reported, not a reason to reject
# the provinces that have one.
# What an answer says about itself that rejects its partition (critical); a configured
# province without a legacy ID only loses its own counters (error).
ANSWER_SEVERITY = {"configured_unit_id_known": "error"}


def _problem(check: str, unit_code: str | None, details: str) -> dict[str, Any]:
    return {"check": check, "unit_code": unit_code, "details": details}


def _score_lists(http: HttpSource, api: str, period: Period, provinces: Sequence[str],
                 settings: Settings, page_size: int) -> tuple[Fetched, dict[str, str]]:
    """The national list of provinces, then each covered province's departments and
    communes, from the API generation that serves the period; and the portal's IDs of the
    covered provinces it listed (their lists' roots). The provinces' IDs come from the
    national list itself (matched to our units), never from configuration."""
    if api == "legacy_gateway":
        legacy = LegacyGatewayClient(http, page_size=page_size)
        national = legacy.report_766(period, "0")
        children = lambda source_id: legacy.report_766(period, source_id)  # noqa: E731
        covered = None  # the gateway's answers do not say which period they cover
    else:
        reporting = ReportingApiClient(http, page_size=min(page_size, 200))
        national = reporting.evaluation("service-results", period)
        covered = reporting.covered
        children = lambda source_id: reporting.evaluation(  # noqa: E731
            "service-results", period, source_id)
    records: Records = [(NATIONAL_LIST, r) for r in national]
    listed, _ = match_frame(RESOURCES["portal_score"].normalisers[api](records, period,
                                                                       settings.units),
                            unit_matcher(settings, period), SCHEME[api], NATIONAL_LIST)
    ids = {code: source_id for code, source_id
           in zip(listed["unit_code"], listed["source_unit_id"], strict=True) if code}
    problems, roots = [], {}
    for code in provinces:
        if code not in ids:
            problems.append(_problem("configured_unit_listed", code,
                                     f"province {code} is not on the national list of "
                                     f"{period} (or did not match a unit)"))
            continue
        roots[code] = ids[code]
        rows = children(ids[code])
        if not rows:
            problems.append(_problem("configured_unit_not_empty", code,
                                     f"the portal listed no department or commune of "
                                     f"province {code} for {period}"))
        records += [(code, r) for r in rows]
    if not national:
        problems.append(_problem("national_list_not_empty", None,
                                 f"the national list of {period} is empty"))
    return Fetched(records, covered, problems), roots


def _portal_score(http: HttpSource, api: str, period: Period, provinces: Sequence[str],
                  settings: Settings, page_size: int) -> Fetched:
    """The 766 scores of the national list and of each covered province's list."""
    return _score_lists(http, api, period, provinces, settings, page_size)[0]


def _portal_metric(http: HttpSource, api: str, period: Period, provinces: Sequence[str],
                   settings: Settings, page_size: int) -> Fetched:
    """Every metric group and tree group of the reporting API, for the national list and
    each covered province's list. Those lists' `service-results` come first: they give
    the provinces' IDs (as for portal_score), what period the answers cover, and each
    unit's `childGroup` (its level), which the metric answers do not carry. Records:
    `{"group", "item", "childGroup"}` keyed by list. Nothing before the reporting API."""
    if api != "reporting_api":
        raise NotPublishedError(f"the {api} publishes no 766 metrics ({period}); the "
                                "reporting API does")
    lists, roots = _score_lists(http, api, period, provinces, settings, page_size)
    child_groups = {(scope, item.get("departmentId")): item.get("childGroup")
                    for scope, item in lists.records}
    reporting = ReportingApiClient(http, page_size=min(page_size, 200))
    records: Records = []
    for scope, root in [(NATIONAL_LIST, None), *roots.items()]:
        for group in (*METRIC_GROUPS, *TREE_GROUPS):
            items = (reporting.tree(group, period, root) if group in TREE_GROUPS
                     else reporting.evaluation(group, period, root))
            records += [(scope, {"group": group, "item": item,
                                 "childGroup": child_groups.get((scope, item.get(
                                     "departmentId")))}) for item in items]
    return Fetched(records, lists.covered, lists.problems)


def _portal_monthly_counters(http: HttpSource, api: str, period: Period,
                             provinces: Sequence[str], settings: Settings,
                             page_size: int) -> Fetched:
    """One record per covered province whose report_by_month_sum_service ID is configured
    (config/units/source_ids.csv, scheme legacy_tinh: no portal list carries it); a
    province without one is a data-quality result, not a crash."""
    legacy = LegacyGatewayClient(http, page_size=page_size)
    records: Records = []
    problems = []
    for code in provinces:
        try:
            tinh_id = settings.units.source_id("legacy_tinh", code, period.first_day)
        except KeyError:
            problems.append(_problem(
                "configured_unit_id_known", code,
                f"no report_by_month_sum_service ID (scheme legacy_tinh) for province {code}"
                " in config/units/source_ids.csv: its monthly counters were not requested"))
            continue
        records.append((tinh_id, legacy.monthly_sum(period.last_month, tinh_id)))
    return Fetched(records, None, problems)


Normaliser = Callable[[Records, Period, UnitRegistry], pd.DataFrame]


def _without_units(normaliser: Callable[..., pd.DataFrame]) -> Normaliser:
    """A normaliser that leaves units to matching (no configured crosswalk needed)."""
    return lambda records, period, units: normaliser(records, period)


@dataclass(frozen=True)
class PortalResource:
    """What the code knows of one national-portal dataset of the registry: how to fetch a
    period, how to normalise what each API generation answered, the derived columns its
    suite checks, and whether its units are matched from the answer (else: configured
    IDs)."""

    fetch: Callable[..., Fetched]
    normalisers: Mapping[str, Normaliser]  # API generation -> normaliser
    check_columns: Callable[[pd.DataFrame], pd.DataFrame]
    matches_units: bool


RESOURCES: dict[str, PortalResource] = {
    "portal_score": PortalResource(
        fetch=_portal_score,
        normalisers={"legacy_gateway": _without_units(normalise.legacy_766_scores),
                     "reporting_api": _without_units(normalise.reporting_766_scores)},
        check_columns=normalise.score_check_columns, matches_units=True),
    "portal_metric": PortalResource(
        fetch=_portal_metric,
        normalisers={"reporting_api": _without_units(normalise.reporting_766_metrics)},
        check_columns=normalise.metric_check_columns, matches_units=True),
    "portal_monthly_counters": PortalResource(
        fetch=_portal_monthly_counters,
        normalisers={"legacy_gateway": normalise.legacy_monthly_counters},
        check_columns=normalise.monthly_counter_check_columns, matches_units=False),
}


def periods_to_load(month: Month, period_types: Sequence[str]) -> list[Period]:
    """The periods of these types a run for `month` loads now: those ending with it, the
    year to date only while it is the latest complete month (the DAG's `periods` task and
    the embedded backfill alike)."""
    from domain.periods import latest_complete_month, periods_ending
    from registry.runtime import present

    return periods_ending(month, list(period_types),
                          latest_complete=latest_complete_month(present()))


def _entry(dataset: str, settings: Settings) -> tuple[Dataset, PortalResource]:
    entry = settings.registry[dataset]
    if entry.source != SOURCE or dataset not in RESOURCES:
        raise ValueError(f"{dataset!r} is not a national-portal dataset the code knows; "
                         f"known: {sorted(RESOURCES)} (steps/national_portal.py RESOURCES)")
    return entry, RESOURCES[dataset]


def extract(dataset: str, period: Period | Month, portal: NationalPortalConfig,
            settings: Settings) -> dict[str, Any]:
    """Fetch one dataset for one period (a Month: that month) into a new raw-zone version;
    return its FetchRef (with `not_published` when the API generation has no such period:
    nothing to load)."""
    if isinstance(period, Month):
        period = Period.of_month(period)
    _, resource = _entry(dataset, settings)
    config = settings.sources.national_portal
    api = config.api_for(dataset, period.last_month)
    writer = RawZone(settings.raw_dir).new_fetch(SOURCE, dataset, period)
    http = portal.http(on_response=writer.record_response)
    # today's provinces, or before July 2025 the provinces they were made of
    provinces = provinces_on(config.provinces, period.last_day)
    try:
        fetched = resource.fetch(http, api, period, provinces, settings, portal.page_size)
        count = writer.write_records(fetched.records)
    except NotPublishedError as exc:
        writer.finish("not_published", api=api, period=str(period), reason=str(exc))
        log.info("%s %s: %s", dataset, period, exc)
        return {**writer.ref.to_dict(), "not_published": str(exc)}
    except Exception as exc:
        writer.finish("failed", api=api, period=str(period),
                      error=f"{type(exc).__name__}: {exc}", attempts=http.attempts)
        if isinstance(exc, SourceHTTPError) and exc.status in (400, 404, 410):
            cutover = config.reporting_api_from.get(dataset)
            raise SourceHTTPError(
                f"{exc}; {dataset} {period} was asked of the {api}, as config/sources.yaml's "
                f"reporting_api_from says ({dataset}: "
                f"{cutover or 'none: legacy gateway only'}): a generation refuses periods it "
                "does not serve, so check the cut-over month", exc.status) from exc
        raise  # credentials and the like: as they are
    manifest = writer.finish("complete", api=api, period=str(period), records=count,
                             attempts=http.attempts, covered=fetched.covered,
                             problems=fetched.problems)
    log.info("extracted %s %s via %s: %d records in %d responses (%d attempts), fetch %s%s",
             dataset, period, api, count, manifest["responses"], http.attempts,
             writer.ref.fetch_id, "".join(f"; {p['details']}" for p in fetched.problems))
    return writer.ref.to_dict()


# -- validate --------------------------------------------------------------------------
def normalise_fetch(ref: FetchRef, settings: Settings) -> pd.DataFrame:
    """The conformed frame of a raw-zone fetch, units not yet matched (pure given the
    fetch and the registry)."""
    _, resource = _entry(ref.dataset, settings)
    api = (read_manifest(ref.path) or {}).get("api", "legacy_gateway")
    if api not in resource.normalisers:
        raise ValueError(f"{ref.dataset}: no normaliser for answers of the {api} "
                         f"(fetch {ref.fetch_id}); known: {sorted(resource.normalisers)}")
    return resource.normalisers[api](read_records(ref), Period.parse(ref.month),
                                     settings.units)


def _answer_outcomes(manifest: Mapping[str, Any], period: Period) -> list[CheckOutcome]:
    """What the answers said about themselves, as critical checks: the period covered,
    and configured units missing or empty."""
    outcomes = []
    covered = manifest.get("covered")
    if covered is not None:
        outcomes.append(CheckOutcome(
            "period_covered", None, "critical", covered == str(period), None,
            None if covered == str(period) else 1,
            f"the answer covers {covered}; {period} was asked for"))
    for problem in manifest.get("problems", []):
        outcomes.append(CheckOutcome(problem["check"], None,
                                     ANSWER_SEVERITY.get(problem["check"], "critical"), False,
                                     None, 1, problem["details"], problem["unit_code"]))
    return outcomes


def _distinct(learned: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """What the rows taught, each item once (every metric row of a unit teaches the same)."""
    return {kind: list({json.dumps(item, sort_keys=True, default=str): item
                        for item in items}.values()) for kind, items in learned.items()}


def validate(ref_dict: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Normalise a fetch, match its units, run its suite, split rows into good and
    quarantined; say why the partition must be rejected, if it must."""
    from expectations.gx_runner import validate_frame
    from expectations.outcomes import write_outcomes

    if ref_dict.get("not_published"):
        return ref_dict
    ref = FetchRef.from_dict(ref_dict)
    entry, resource = _entry(ref.dataset, settings)
    period = Period.parse(ref.month)
    manifest = read_manifest(ref.path) or {}
    frame = normalise_fetch(ref, settings)
    learned: dict[str, Any] = {"ids": [], "departments": [], "issues": []}
    if resource.matches_units:
        frame, learned = match_frame(frame, unit_matcher(settings, period),
                                     SCHEME[manifest.get("api", "legacy_gateway")],
                                     NATIONAL_LIST)
        learned = _distinct(learned)
    # The frame's codes came from matching against the period's units (unmatched rows are
    # NULL), so they are the known codes of the period: GX gets those, not the ~10,000 units
    # of the 63-province era (it copies its parameters on every access).
    known = sorted(set(frame["unit_code"].dropna()))
    report = validate_frame(resource.check_columns(frame), entry.validation.suite,
                            {"known_unit_codes": known},
                            unit_column=entry.unit_column, table=entry.table)
    outcomes = [*report.outcomes, *_answer_outcomes(manifest, period)]
    held = report.quarantined_positions
    if entry.validation.max_held_share is not None:
        outcomes.append(held_share(len(frame), len(held), entry.validation.max_held_share))
    rejected = "; ".join(filter(None, [
        rejection(outcomes),
        f"no good row of {len(frame)} for {period}" if len(held) == len(frame) else None,
    ])) or None
    # A rejected partition is not published: every row it brought waits in quarantine.
    bad_positions = list(range(len(frame))) if rejected else held
    reasons = {p: list(report.row_reasons.get(p, [])) for p in bad_positions}
    if "unit_problem" in frame:
        for p in bad_positions:
            problem = frame["unit_problem"].iat[p]
            if isinstance(problem, str):
                reasons[p].insert(0, problem)
    if rejected:
        for p in bad_positions:
            reasons[p].insert(0, f"partition rejected: {rejected}")
    good = frame.drop(index=bad_positions).reset_index(drop=True)
    bad = frame.loc[bad_positions].copy()
    bad["reasons"] = ["; ".join(reasons[p]) for p in bad_positions]

    folder = settings.staging_folder(ref.source, ref.dataset, ref.month, ref.fetch_id)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(good.drop(columns=["unit_problem"], errors="ignore"),
                                        preserve_index=False), folder / "good.parquet")
    pq.write_table(pa.Table.from_pandas(bad, preserve_index=False),
                   folder / "quarantine.parquet")
    write_outcomes(folder / "dq_results.json", outcomes)
    write_learned(folder, learned)
    log.info("validated %s %s: %d rows, %d good, %d quarantined; failed checks: %s%s",
             ref.dataset, period, len(frame), len(good), len(bad),
             sorted({o.check_name for o in outcomes if not o.success}) or "none",
             f"; REJECTED: {rejected}" if rejected else "")
    return {**ref.to_dict(), "staging": str(folder), "rows_in": len(frame),
            "rows_good": len(good), "rows_quarantined": len(bad), "rejected": rejected}


# -- load ------------------------------------------------------------------------------
def load(validated: dict[str, Any], run_id: str, settings: Settings) -> dict[str, Any]:
    """Replace the period's partition of the dataset's table, quarantine, dq_result, audit
    and the units the answer registered in one transaction; a rejected partition writes
    all but the facts, then fails."""
    from expectations.outcomes import read_outcomes
    from warehouse.publish import PartitionLoad, load_partition, raw_sha256

    if validated.get("not_published"):
        return {"status": "not_published", "reason": validated["not_published"]}
    ref = FetchRef.from_dict(validated)
    period = Period.parse(ref.month)
    folder = Path(validated["staging"])
    learned = read_learned(folder)
    audit = load_partition(PartitionLoad(
        dataset=_entry(ref.dataset, settings)[0], source=ref.source, month=period,
        fetch_id=ref.fetch_id, run_id=run_id, rows_in=int(validated["rows_in"]),
        raw_sha256=raw_sha256(read_manifest(ref.path) or {}),
        facts=pq.read_table(folder / "good.parquet", partitioning=None),
        partition={"period_id": period.period_id},
        quarantined=pq.read_table(folder / "quarantine.parquet", partitioning=None),
        outcomes=read_outcomes(folder / "dq_results.json"),
        rejected=validated.get("rejected"),
        also=lambda conn: register_units(conn, learned, dataset=ref.dataset, period=period,
                                         fetch_id=ref.fetch_id, run_id=run_id)),
        settings.warehouse_url)
    return audit
