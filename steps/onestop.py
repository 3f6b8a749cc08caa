"""Provincial one-stop systems: dossiers -> counters, one province and month per call,
streamed in parts so memory stays bounded whatever the volume.

extract_dossiers   pages of the export, minimised page by page, written as Parquet parts
extract_aggregates the vendor's aggregated statistics (bytes kept: no personal data; of
                   refusals and error pages, which may echo anything, only metadata)
validate_dossiers  de-duplicate, apply the registry's rules (expectations/rules/) and the
                   limits of its table's columns the dossiers fill, split good / bad
load_month         counters (transforms.dossiers) and the registry's checks (balance,
                   cross-check against the aggregates), one transaction into the warehouse

Indicators are not computed here: the marts step reads the loaded facts (steps/marts.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from domain.periods import Month
from registry.settings import Settings
from sources.errors import IncompleteFetchError
from sources.http import FetchedResponse
from sources.onestop import OneStopConfig, make_source
from sources.raw_zone import FetchRef, RawZone, read_manifest, read_records
from transforms.dossiers import (
    DOSSIER_SCHEMA,
    monthly_counters,
    parquet_source,
)

log = logging.getLogger(__name__)

DATASET = "dossiers"
AGGREGATES = "aggregates"


def source_name(province: str) -> str:
    return f"onestop_{province}"


def _count_distinct(parts: list[Path], column: str) -> int:
    import duckdb

    # Bounded memory whatever the number of rows: DuckDB spills the hash table to disk.
    with duckdb.connect(config={"memory_limit": "512MB"}) as con:
        return con.execute(f"SELECT count(DISTINCT {column}) FROM {parquet_source(parts)}"
                           ).fetchone()[0]


# -- extract ---------------------------------------------------------------------------
def extract_dossiers(province: str, month: Month, config: OneStopConfig, settings: Settings,
                     part_rows: int | None = None) -> dict[str, str]:
    """Page through the export, minimise each page, write parts of `part_rows` rows
    (default: config/sources.yaml); check the distinct count against the source's total.
    Nothing with personal data is written."""
    part_rows = part_rows or settings.sources.onestop.part_rows
    writer = RawZone(settings.raw_dir).new_fetch(source_name(province), DATASET, month)
    source = make_source(config, on_response=writer.record_response_metadata)
    agencies = settings.units.mapping("onestop_agency", month.first_day)
    rows, parts, batch, pending = 0, [], [], 0
    try:
        for page in source.dossier_pages(month, agencies):
            batch.append(page)
            pending += page.num_rows
            if pending >= part_rows:
                parts.append(writer.write_part(pa.concat_tables(batch)))
                rows, batch, pending = rows + pending, [], 0
        if batch or not parts:
            parts.append(writer.write_part(
                pa.concat_tables(batch) if batch else DOSSIER_SCHEMA.empty_table()))
            rows += pending
        distinct = _count_distinct(parts, "dossier_key")
        if source.total is not None and distinct != source.total:
            raise IncompleteFetchError(
                f"{source_name(province)} {month}: {distinct} distinct dossiers received "
                f"from {source.export_url}, the source reports {source.total}")
    except Exception as exc:
        writer.finish("failed", error=f"{type(exc).__name__}: {exc}",
                      attempts=source.http.attempts)
        raise
    manifest = writer.finish("complete", records=rows, distinct=distinct,
                             source_total=source.total, parts=len(parts),
                             attempts=source.http.attempts,
                             token_renewals=getattr(source.http.auth, "renewals", None))
    log.info("extracted %s dossiers %s: %d rows (%d distinct) in %d responses, %d attempts",
             province, month, rows, distinct, manifest["responses"], source.http.attempts)
    return writer.ref.to_dict()


def extract_aggregates(province: str, month: Month, config: OneStopConfig,
                       settings: Settings) -> dict[str, str]:
    """The vendor's aggregated statistics. Their answers hold counts, not people, and are
    kept byte for byte; a refusal or error page of the same system may echo anything (an
    applicant it was serving), so of those only the metadata, size and sha256 are kept."""
    writer = RawZone(settings.raw_dir).new_fetch(source_name(province), AGGREGATES, month)

    def keep(response: FetchedResponse) -> None:
        if response.status >= 400:
            writer.record_response_metadata(
                response, because="a refusal or error page of a personal-data source")
        else:
            writer.record_response(response)

    source = make_source(config, on_response=keep)
    try:
        records = source.aggregates(month)
        count = writer.write_records([(config.vendor, r) for r in records])
    except Exception as exc:
        writer.finish("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    writer.finish("complete", records=count, vendor=config.vendor)
    return writer.ref.to_dict()


# -- validate --------------------------------------------------------------------------
def validate_dossiers(ref_dict: dict[str, str], settings: Settings) -> dict[str, Any]:
    from expectations.outcomes import write_outcomes
    from expectations.sql_rules import run_rules

    entry = settings.registry[DATASET]
    ref = FetchRef.from_dict(ref_dict)
    folder = settings.staging_folder(ref.source, ref.dataset, ref.month, ref.fetch_id)
    folder.mkdir(parents=True, exist_ok=True)
    parts = sorted(Path(ref.path, "parts").glob("part-*.parquet"))
    manifest = read_manifest(ref.path) or {}
    # Extract counted rows and distinct keys; when they agree no page repeated a dossier.
    unique = manifest.get("records") is not None and manifest.get("records") == manifest.get(
        "distinct")
    result = run_rules(entry.validation.rules, parts, folder / "good.parquet",
                       folder / "quarantine.parquet", key="dossier_key",
                       order_by="received_at NULLS LAST, finished_at NULLS LAST",
                       known_unique=unique, unit_column=entry.unit_column,
                       table=entry.table, max_held_share=entry.validation.max_held_share)
    write_outcomes(folder / "dq_results.json", result.outcomes)
    log.info("validated %s %s: %d dossiers, %d duplicates dropped, %d quarantined%s",
             ref.source, ref.month, result.rows_in, result.duplicates_dropped,
             result.rows_quarantined, f"; REJECTED: {result.rejected}" if result.rejected
             else "")
    return {**ref.to_dict(), "staging": str(folder), "rows_in": result.rows_in,
            "rows_good": result.rows_good, "rows_quarantined": result.rows_quarantined,
            "duplicates_dropped": result.duplicates_dropped, "rejected": result.rejected}


# -- counters and checks, loaded -------------------------------------------------------
def with_provinces(counters: pa.Table, system: str, month: Month,
                   settings: Settings) -> pa.Table:
    """The counters with each unit's province in the month's own hierarchy: the system's
    province from July 2025; before, the province of the 63 the unit belonged to (a merged
    province's system serves its predecessors' history)."""
    from steps.units import known_units

    units = known_units(settings, month.first_day)
    provinces = [units.province_of(code, month.first_day) or system
                 for code in counters.column("unit_code").to_pylist()]
    return counters.append_column("province_code", pa.array(provinces, pa.string()))


def load_month(validated: dict[str, Any], aggregates_ref: dict[str, str] | None, run_id: str,
               settings: Settings) -> dict[str, Any]:
    """Counters and the registry's checks for one province and month, in one transaction;
    a rejected month (validate_dossiers, or a critical check here) writes all but the
    counters, then raises PartitionRejected."""
    from expectations.checks import run_checks
    from expectations.outcomes import read_outcomes
    from warehouse.publish import PartitionLoad, load_partition, raw_sha256

    entry = settings.registry[DATASET]
    ref = FetchRef.from_dict(validated)
    province = ref.source.removeprefix("onestop_")
    month = Month.parse(ref.month)
    folder = Path(validated["staging"])
    counters = monthly_counters(folder / "good.parquet", month)
    aggregates = ([r for _, r in read_records(FetchRef.from_dict(aggregates_ref))]
                  if aggregates_ref else [])
    outcomes = read_outcomes(folder / "dq_results.json")
    if not validated.get("rejected"):  # a rejected month has no counters to compare
        outcomes += run_checks(
            entry.validation.checks, counters.to_pylist(), aggregates=aggregates,
            agencies=settings.units.mapping("onestop_agency", month.first_day))
    return load_partition(PartitionLoad(
        dataset=entry, source=ref.source, month=month, fetch_id=ref.fetch_id, run_id=run_id,
        rows_in=int(validated["rows_in"]),
        raw_sha256=raw_sha256(read_manifest(ref.path) or {}),
        facts=with_provinces(counters, province, month, settings),
        partition={"source": ref.source, "period_id": month.period_id},
        quarantined=pq.read_table(folder / "quarantine.parquet", partitioning=None),
        outcomes=outcomes, rejected=validated.get("rejected")), settings.warehouse_url)
