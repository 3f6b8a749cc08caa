"""National portal (DVCQG) steps: extract -> validate -> load, one month per call.

Each step is a plain function of a small reference dict and returns one, so Airflow tasks
stay thin and XCom never carries data. All three are idempotent: extract adds a new
raw-zone version; validate writes files named by fetch; load replaces the partition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from domain.periods import Month
from domain.units import UnitRegistry
from registry.datasets import Dataset
from registry.settings import Settings
from sources.http import HttpSource
from sources.national_portal import (
    LegacyGatewayClient,
    NationalPortalConfig,
    ReportingApiClient,
)
from sources.raw_zone import FetchRef, RawZone, read_manifest, read_records
from transforms import national_portal as normalise

SOURCE = "national_portal"

log = logging.getLogger(__name__)

Records = list[tuple[str | None, dict[str, Any]]]


# -- extract ---------------------------------------------------------------------------
def _portal_score(http: HttpSource, api: str, month: Month, provinces: Sequence[str],
                  units: UnitRegistry, page_size: int) -> Records:
    """The national list of provinces, then each covered province's departments and
    communes, from the API generation that serves the month."""
    if api == "legacy_gateway":
        legacy = LegacyGatewayClient(http, page_size=page_size)
        records: Records = [("national", r) for r in legacy.report_766(month, "0")]
        for code in provinces:
            tinh_id = units.source_id("legacy_766", code, month.first_day)
            records += [(code, r) for r in legacy.report_766(month, tinh_id)]
        return records
    reporting = ReportingApiClient(http, page_size=min(page_size, 200))
    records = [("national", r) for r in reporting.evaluation("service-results", month)]
    for code in provinces:
        root = units.source_id("reporting", code, month.first_day)
        records += [(code, r) for r in reporting.evaluation("service-results", month, root)]
    return records


def _portal_monthly_counters(http: HttpSource, api: str, month: Month,
                             provinces: Sequence[str], units: UnitRegistry,
                             page_size: int) -> Records:
    """One record per covered province (report_by_month_sum_service, legacy gateway)."""
    legacy = LegacyGatewayClient(http, page_size=page_size)
    records: Records = []
    for code in provinces:
        tinh_id = units.source_id("legacy_tinh", code, month.first_day)
        records.append((tinh_id, legacy.monthly_sum(month, tinh_id)))
    return records


Normaliser = Callable[[Records, Month, UnitRegistry], pd.DataFrame]


def _records_only(normaliser: Callable[..., pd.DataFrame]) -> Normaliser:
    """A normaliser of bare records (the request key each was asked with is not needed)."""
    return lambda records, month, units: normaliser([r for _, r in records], month, units)


@dataclass(frozen=True)
class PortalResource:
    """What the code knows of one national-portal dataset of the registry: how to fetch a
    month, how to normalise what each API generation answered, and the derived columns its
    suite checks."""

    fetch: Callable[..., Records]
    normalisers: Mapping[str, Normaliser]  # API generation -> normaliser
    check_columns: Callable[[pd.DataFrame], pd.DataFrame]


RESOURCES: dict[str, PortalResource] = {
    "portal_score": PortalResource(
        fetch=_portal_score,
        normalisers={"legacy_gateway": _records_only(normalise.legacy_766_scores),
                     "reporting_api": _records_only(normalise.reporting_766_scores)},
        check_columns=normalise.score_check_columns),
    "portal_monthly_counters": PortalResource(
        fetch=_portal_monthly_counters,
        normalisers={"legacy_gateway": normalise.legacy_monthly_counters},
        check_columns=normalise.monthly_counter_check_columns),
}


def _entry(dataset: str, settings: Settings) -> tuple[Dataset, PortalResource]:
    entry = settings.registry[dataset]
    if entry.source != SOURCE or dataset not in RESOURCES:
        raise ValueError(f"{dataset!r} is not a national-portal dataset the code knows; "
                         f"known: {sorted(RESOURCES)} (steps/national_portal.py RESOURCES)")
    return entry, RESOURCES[dataset]


def extract(dataset: str, month: Month, portal: NationalPortalConfig,
            settings: Settings) -> dict[str, str]:
    """Fetch one dataset for one month into a new raw-zone version; return its FetchRef."""
    _, resource = _entry(dataset, settings)
    config = settings.sources.national_portal
    api = config.api_for(dataset, month)
    writer = RawZone(settings.raw_dir).new_fetch(SOURCE, dataset, month)
    http = portal.http(on_response=writer.record_response)
    try:
        records = resource.fetch(http, api, month, config.provinces, settings.units,
                                 portal.page_size)
        count = writer.write_records(records)
    except Exception as exc:
        writer.finish("failed", api=api, error=f"{type(exc).__name__}: {exc}",
                      attempts=http.attempts)
        raise
    manifest = writer.finish("complete", api=api, records=count, attempts=http.attempts)
    log.info("extracted %s %s via %s: %d records in %d responses (%d attempts), fetch %s",
             dataset, month, api, count, manifest["responses"], http.attempts,
             writer.ref.fetch_id)
    return writer.ref.to_dict()


# -- validate --------------------------------------------------------------------------
def normalise_fetch(ref: FetchRef, settings: Settings) -> pd.DataFrame:
    """The conformed frame of a raw-zone fetch (pure given the fetch and the registry)."""
    _, resource = _entry(ref.dataset, settings)
    api = (read_manifest(ref.path) or {}).get("api", "legacy_gateway")
    if api not in resource.normalisers:
        raise ValueError(f"{ref.dataset}: no normaliser for answers of the {api} "
                         f"(fetch {ref.fetch_id}); known: {sorted(resource.normalisers)}")
    return resource.normalisers[api](read_records(ref), Month.parse(ref.month), settings.units)


def validate(ref_dict: dict[str, str], settings: Settings) -> dict[str, Any]:
    """Normalise a fetch, run its suite, split rows into good and quarantined."""
    from expectations.gx_runner import validate_frame
    from expectations.outcomes import write_outcomes

    ref = FetchRef.from_dict(ref_dict)
    entry, resource = _entry(ref.dataset, settings)
    month = Month.parse(ref.month)
    frame = normalise_fetch(ref, settings)
    checked = resource.check_columns(frame)
    report = validate_frame(checked, entry.validation.suite, {
        "known_unit_codes": settings.units.known_codes(month.first_day)},
        unit_column=entry.unit_column)
    bad_positions = report.quarantined_positions
    good = frame.drop(index=bad_positions).reset_index(drop=True)
    bad = frame.loc[bad_positions].copy()
    bad["reasons"] = ["; ".join(report.row_reasons[p]) for p in bad_positions]

    folder = settings.staging_folder(ref.source, ref.dataset, ref.month, ref.fetch_id)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pandas(good, preserve_index=False), folder / "good.parquet")
    pq.write_table(pa.Table.from_pandas(bad, preserve_index=False),
                   folder / "quarantine.parquet")
    write_outcomes(folder / "dq_results.json", report.outcomes)
    failed = [o.check_name for o in report.failed]
    log.info("validated %s %s: %d rows, %d good, %d quarantined; failed checks: %s",
             ref.dataset, ref.month, len(frame), len(good), len(bad), failed or "none")
    return {**ref.to_dict(), "staging": str(folder), "rows_in": len(frame),
            "rows_good": len(good), "rows_quarantined": len(bad)}


# -- load ------------------------------------------------------------------------------
def load(validated: dict[str, Any], run_id: str, settings: Settings) -> dict[str, Any]:
    """Replace the month's partition of the dataset's table, quarantine, dq_result and
    audit in one transaction."""
    from expectations.outcomes import read_outcomes
    from warehouse.publish import PartitionLoad, load_partition, raw_sha256

    ref = FetchRef.from_dict(validated)
    month = Month.parse(ref.month)
    folder = Path(validated["staging"])
    return load_partition(PartitionLoad(
        dataset=_entry(ref.dataset, settings)[0], source=ref.source, month=month,
        fetch_id=ref.fetch_id, run_id=run_id, rows_in=int(validated["rows_in"]),
        raw_sha256=raw_sha256(read_manifest(ref.path) or {}),
        facts=pq.read_table(folder / "good.parquet", partitioning=None),
        partition={"period_id": month.period_id},
        quarantined=pq.read_table(folder / "quarantine.parquet", partitioning=None),
        outcomes=read_outcomes(folder / "dq_results.json")), settings.warehouse_url)
