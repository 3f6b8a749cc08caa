"""Provincial one-stop systems: dossiers -> counters -> indicators, one province and month
per call, streamed in parts so memory stays bounded whatever the volume.

extract_dossiers   pages of the export, minimised page by page, written as Parquet parts
extract_aggregates the vendor's aggregated statistics (bytes kept: no personal data)
validate_dossiers  de-duplicate, apply expectations/dossiers_rules.yaml, split good / bad
load_month         counters (transforms.dossiers), indicators (marts.indicators),
                   cross-check against the aggregates, one transaction into the warehouse
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from domain.periods import Month
from marts.indicators import Catalogue, indicator_rows
from registry.settings import Settings
from sources.errors import IncompleteFetchError
from sources.onestop import OneStopConfig, make_source
from sources.raw_zone import FetchRef, RawZone, read_manifest, read_records
from transforms.dossiers import (
    DOSSIER_SCHEMA,
    counters_by_unit,
    monthly_counters,
    parquet_source,
)
from warehouse.publish import PartitionLoad, load_partition, raw_sha256

log = logging.getLogger(__name__)

# Counters the vendors' aggregated endpoints publish, compared with the export's.
CROSS_CHECKED = ("received_total", "received_online", "received_in_person", "received_postal",
                 "resolved_total", "resolved_early", "resolved_on_time", "resolved_late",
                 "in_progress_on_time", "in_progress_overdue")


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
                     part_rows: int = 100_000) -> dict[str, str]:
    """Page through the export, minimise each page, write parts; check the distinct count
    against the source's total. Nothing with personal data is written."""
    writer = RawZone(settings.raw_dir).new_fetch(source_name(province), "dossiers", month)
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
                f"{source_name(province)} {month}: {distinct} distinct dossiers received, "
                f"the source reports {source.total}")
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
    writer = RawZone(settings.raw_dir).new_fetch(source_name(province), "aggregates", month)
    source = make_source(config, on_response=writer.record_response)
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
    from expectations.sql_rules import run_rules

    ref = FetchRef.from_dict(ref_dict)
    folder = settings.staging_folder(ref.source, ref.dataset, ref.month, ref.fetch_id)
    folder.mkdir(parents=True, exist_ok=True)
    parts = sorted(Path(ref.path, "parts").glob("part-*.parquet"))
    manifest = read_manifest(ref.path) or {}
    # Extract counted rows and distinct keys; when they agree no page repeated a dossier.
    unique = manifest.get("records") is not None and manifest.get("records") == manifest.get(
        "distinct")
    result = run_rules("dossiers", parts, folder / "good.parquet",
                       folder / "quarantine.parquet", key="dossier_key",
                       order_by="received_at NULLS LAST, finished_at NULLS LAST",
                       known_unique=unique)
    (folder / "dq_results.json").write_text(json.dumps(
        [o.__dict__ | {"failing_rows": 0} for o in result.outcomes], ensure_ascii=False,
        indent=1), encoding="utf-8")
    log.info("validated %s %s: %d dossiers, %d duplicates dropped, %d quarantined",
             ref.source, ref.month, result.rows_in, result.duplicates_dropped,
             result.rows_quarantined)
    return {**ref.to_dict(), "staging": str(folder), "rows_in": result.rows_in,
            "rows_good": result.rows_good, "rows_quarantined": result.rows_quarantined,
            "duplicates_dropped": result.duplicates_dropped}


# -- counters, indicators, cross-check -------------------------------------------------
def balance_outcome(counters: list[dict[str, Any]]) -> dict[str, Any]:
    broken = [r for r in counters
              if r["carried_over"] + r["received_total"] != r["resolved_total"]
              + r["in_progress_on_time"] + r["in_progress_overdue"] + r["paused"]
              + r["returned"] + r["withdrawn"]]
    return {"check_name": "balance:carried_over+received=resolved+open+paused+returned"
                          "+withdrawn",
            "column": None, "severity": "warning", "success": not broken,
            "element_count": len(counters), "unexpected_count": len(broken),
            "details": json.dumps([{k: r[k] for k in ("unit_code", "procedure_code")}
                                   for r in broken[:20]]) if broken else None}


def cross_check(by_unit: dict[str, dict[str, int]], aggregates: list[dict[str, Any]],
                agencies: dict[str, str]) -> list[dict[str, Any]]:
    """Compare the export's counters with the vendor's aggregates, per unit and counter.

    Aggregates name units by the vendor's agency ID (iGate) or agency code (OpenCPS)."""
    published: dict[str, dict[str, Any]] = {}
    for row in aggregates:
        code = row.get("published_unit_code") or agencies.get(row.get("source_unit_id", ""))
        published[code or f"unmapped:{row.get('source_unit_id')}"] = row
    outcomes = []
    units = sorted(set(by_unit) | set(published))
    for counter in CROSS_CHECKED:
        compared, differences = 0, []
        for unit in units:
            agg = published.get(unit, {})
            if counter not in agg and agg:
                continue  # this vendor does not publish that counter
            ours = by_unit.get(unit, {}).get(counter, 0)
            theirs = int(agg.get(counter, 0))
            compared += 1
            if ours != theirs:
                differences.append({"unit_code": unit, "export": ours, "aggregate": theirs})
        if compared == 0 or not any(counter in a for a in published.values()):
            continue
        outcomes.append({
            "check_name": f"crosscheck:{counter}", "column": counter, "severity": "warning",
            "success": not differences, "element_count": compared,
            "unexpected_count": len(differences),
            "details": json.dumps(differences[:20]) if differences else None})
    return outcomes


def load_month(validated: dict[str, Any], aggregates_ref: dict[str, str] | None, run_id: str,
               settings: Settings) -> dict[str, Any]:
    """Counters, indicators and cross-check for one province and month, in one transaction."""
    from warehouse.schema import fact_dossier_monthly, fact_indicator_monthly

    ref = FetchRef.from_dict({k: validated[k] for k in
                              ("source", "dataset", "month", "fetch_id", "path")})
    province = ref.source.removeprefix("onestop_")
    month = Month.parse(ref.month)
    folder = Path(validated["staging"])
    counters = monthly_counters(folder / "good.parquet", month)
    counters = counters.append_column("province_code",
                                      pa.array([province] * counters.num_rows, pa.string()))
    counter_rows = counters.to_pylist()
    by_unit = counters_by_unit(counter_rows)
    catalogue = Catalogue.from_file(settings.config_dir / "indicators.yaml")
    indicators = indicator_rows(
        [{"unit_code": u, "period_id": month.period_id, **c} for u, c in by_unit.items()],
        catalogue, settings.units.level_of(month.last_day), month.year)
    for row in indicators:
        row["province_code"] = province

    outcomes = json.loads((folder / "dq_results.json").read_text(encoding="utf-8"))
    outcomes.append(balance_outcome(counter_rows))
    if aggregates_ref:
        aggregates = [r for _, r in read_records(FetchRef.from_dict(aggregates_ref))]
        outcomes += cross_check(by_unit, aggregates,
                                settings.units.mapping("onestop_agency", month.first_day))

    bad = pq.read_table(folder / "quarantine.parquet", partitioning=None)
    quarantined = [{
        "record_index": index, "unit_code": row.get("unit_code"),
        "source_unit_id": row.get("source_unit_id"), "reasons": row["reasons"],
        "row": {k: v for k, v in row.items() if k != "reasons"},
    } for index, row in enumerate(bad.to_pylist())]
    from warehouse.loader import arrow_schema

    partition = {"province_code": province, "period_id": month.period_id}
    indicator_table = pa.Table.from_pylist(
        indicators, schema=pa.schema([f for f in arrow_schema(fact_indicator_monthly)
                                      if f.name not in {"run_id", "loaded_at"}]))
    return load_partition(PartitionLoad(
        source=ref.source, dataset="dossiers", month=month, fetch_id=ref.fetch_id,
        run_id=run_id, rows_in=int(validated["rows_in"]),
        raw_sha256=raw_sha256(read_manifest(ref.path) or {}),
        facts=[(fact_dossier_monthly, counters, partition),
               (fact_indicator_monthly, indicator_table, partition)],
        quarantined=quarantined, outcomes=outcomes,
    ), settings)
