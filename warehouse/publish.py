"""Loading one partition: facts, quarantine, data-quality results and the audit row, all in
one transaction, through each engine's bulk path (warehouse.loader.replace_partition)."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from domain.periods import Month
from registry.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class PartitionLoad:
    """Everything one (source, dataset, month) load writes."""

    source: str
    dataset: str
    month: Month
    fetch_id: str
    run_id: str
    rows_in: int
    raw_sha256: str
    # (table, rows without lineage columns, partition) for each fact table written
    facts: list[tuple[sa.Table, pa.Table, dict[str, Any]]] = field(default_factory=list)
    # each: record_index, unit_code, source_unit_id, reasons, row (dict)
    quarantined: list[dict[str, Any]] = field(default_factory=list)
    # each: check_name, column, severity, success, element_count, unexpected_count, details
    outcomes: list[dict[str, Any]] = field(default_factory=list)


def raw_sha256(manifest: dict[str, Any]) -> str:
    """One hash over a fetch's response hashes, in order (what load_audit records)."""
    return hashlib.sha256("".join(manifest.get("sha256", [])).encode()).hexdigest()


def _with_lineage(rows: pa.Table, table: sa.Table, lineage: dict[str, Any]) -> pa.Table:
    for name, value in lineage.items():
        if name in table.columns and name not in rows.column_names:
            rows = rows.append_column(name, pa.array([value] * rows.num_rows))
    return rows


def load_partition(load: PartitionLoad, settings: Settings) -> dict[str, Any]:
    """Write the partition in one transaction; return the audit row (JSON-able)."""
    from warehouse.engine import ensure_schema, make_engine, utc_now
    from warehouse.loader import arrow_schema, replace_partition
    from warehouse.schema import dq_result, load_audit, quarantine_row

    now = utc_now()
    period_id = load.month.period_id
    lineage = {"fetch_id": load.fetch_id, "run_id": load.run_id, "loaded_at": now}
    quarantine = pa.Table.from_pylist([{
        "dataset": load.dataset, "period_id": period_id, "fetch_id": load.fetch_id,
        "record_index": int(q["record_index"]), "source": load.source,
        "unit_code": q.get("unit_code"), "source_unit_id": q.get("source_unit_id"),
        "reasons": q["reasons"], "run_id": load.run_id, "quarantined_at": now,
        "row_json": json.dumps(q["row"], ensure_ascii=False, default=str),
    } for q in load.quarantined], schema=arrow_schema(quarantine_row))
    dq_rows = pa.Table.from_pylist([{
        "run_id": load.run_id, "source": load.source, "dataset": load.dataset,
        "period_id": period_id, "check_name": o["check_name"], "fetch_id": load.fetch_id,
        "column_name": o.get("column"), "severity": o["severity"], "success": o["success"],
        "element_count": o.get("element_count"),
        "unexpected_count": o.get("unexpected_count"), "details": o.get("details"),
        "checked_at": now,
    } for o in load.outcomes], schema=arrow_schema(dq_result))
    engine = make_engine(settings.warehouse_url)
    try:
        ensure_schema(engine)
        with engine.begin() as conn:
            loaded = sum(replace_partition(conn, table, _with_lineage(rows, table, lineage),
                                           partition)
                         for table, rows, partition in load.facts)
            replace_partition(conn, quarantine_row, quarantine, {
                "source": load.source, "dataset": load.dataset, "period_id": period_id})
            replace_partition(conn, dq_result, dq_rows, {
                "run_id": load.run_id, "source": load.source, "dataset": load.dataset,
                "period_id": period_id})
            audit = {"run_id": load.run_id, "source": load.source, "dataset": load.dataset,
                     "period_id": period_id, "fetch_id": load.fetch_id,
                     "rows_in": int(load.rows_in), "rows_loaded": loaded,
                     "rows_quarantined": quarantine.num_rows, "raw_sha256": load.raw_sha256,
                     "status": "loaded", "loaded_at": now}
            replace_partition(conn, load_audit,
                              pa.Table.from_pylist([audit], schema=arrow_schema(load_audit)),
                              {k: audit[k] for k in ("run_id", "source", "dataset",
                                                     "period_id")})
    finally:
        engine.dispose()
    log.info("loaded %s/%s %s: %d rows, %d quarantined (fetch %s)", load.source, load.dataset,
             load.month, loaded, quarantine.num_rows, load.fetch_id)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in audit.items()}
