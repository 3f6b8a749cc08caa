"""Publishing one partition: its facts, quarantined rows, data-quality results and audit
row, all in one transaction, through each engine's bulk path (loader.replace_partition).

What a dataset's table and partition are comes from the registry entry; a rerun of the
same partition converges to the same state, and an analyst never sees half of it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

from domain.periods import Month, Period
from expectations.outcomes import CheckOutcome
from registry.datasets import Dataset

log = logging.getLogger(__name__)


@dataclass
class PartitionLoad:
    """Everything one (source, dataset, partition) load writes."""

    dataset: Dataset
    source: str                   # e.g. national_portal, onestop_H97, marts
    month: Month | Period         # the partition's period (period_id)
    fetch_id: str                 # raw-zone fetch (or input version) the rows come from
    run_id: str
    rows_in: int
    raw_sha256: str
    facts: pa.Table               # rows of dataset.table, lineage columns not needed
    partition: Mapping[str, Any]  # values of dataset.partition
    quarantined: pa.Table | None = None   # rows with a `reasons` column
    outcomes: Sequence[CheckOutcome] = field(default_factory=list)
    # Why the partition must not replace the last good one (no silent success): its
    # facts are not written, the rest is, with status "rejected".
    rejected: str | None = None
    # More writes that belong to the same transaction (e.g. units the answer registered).
    also: Callable[[sa.Connection], Any] | None = None


def raw_sha256(manifest: Mapping[str, Any]) -> str:
    """One hash over a fetch's response hashes, in order (what load_audit records)."""
    return hashlib.sha256("".join(manifest.get("sha256", [])).encode()).hexdigest()


def _with_constants(rows: pa.Table, table: sa.Table, values: Mapping[str, Any]) -> pa.Table:
    """Add the table's lineage (and partition) columns the rows do not carry."""
    for name, value in values.items():
        if name in table.columns and name not in rows.column_names:
            rows = rows.append_column(name, pa.array([value] * rows.num_rows))
    return rows


def quarantine_table(load: PartitionLoad, now: Any) -> pa.Table:
    """quarantine_row rows from the rows that failed a critical check."""
    from expectations.schema_limits import for_quarantine
    from warehouse.loader import arrow_schema
    from warehouse.schema import quarantine_row

    bad = (for_quarantine(load.quarantined).to_pylist() if load.quarantined is not None
           else [])
    return pa.Table.from_pylist([{
        "dataset": load.dataset.name, "period_id": load.month.period_id,
        "fetch_id": load.fetch_id, "record_index": int(row.get("record_index", position)),
        "source": load.source, "unit_code": row.get("unit_code"),
        "source_unit_id": row.get("source_unit_id"), "reasons": row["reasons"],
        "run_id": load.run_id, "quarantined_at": now,
        "row_json": json.dumps({k: v for k, v in row.items() if k != "reasons"},
                               ensure_ascii=False, default=str),
    } for position, row in enumerate(bad)], schema=arrow_schema(quarantine_row))


def partition_name(table: str, partition: Mapping[str, Any]) -> str:
    """A partition as text, e.g. `fact_dossier_monthly:period_id=202603,province_code=91`."""
    return f"{table}:" + ",".join(f"{k}={partition[k]}" for k in sorted(partition))


def result_id(run_id: str, source: str, dataset: str, period_id: int, check_name: str,
              unit_code: str | None) -> str:
    """dq_result's key: one row per (run, partition, check, unit); migration 0002 gave the
    rows it kept the same key with an empty unit."""
    text = "|".join((run_id, source, dataset, str(period_id), check_name, unit_code or ""))
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def dq_table(load: PartitionLoad, now: Any) -> pa.Table:
    from warehouse.loader import arrow_schema
    from warehouse.schema import dq_result

    return pa.Table.from_pylist([{
        "result_id": result_id(load.run_id, load.source, load.dataset.name,
                               load.month.period_id, o.check_name, o.unit_code),
        "run_id": load.run_id, "source": load.source, "dataset": load.dataset.name,
        "period_id": load.month.period_id, "check_name": o.check_name,
        "unit_code": o.unit_code, "fetch_id": load.fetch_id, "column_name": o.column,
        "severity": o.severity, "success": o.success, "element_count": o.element_count,
        "unexpected_count": o.unexpected_count, "details": o.details, "checked_at": now,
    } for o in load.outcomes], schema=arrow_schema(dq_result))


def load_partition(load: PartitionLoad, warehouse_url: str) -> dict[str, Any]:
    """Write the partition in one transaction; return the audit row (JSON-able)."""
    from warehouse.engine import lock_for_write, transaction, utc_now
    from warehouse.loader import arrow_schema, replace_partition
    from warehouse.schema import dq_result, load_audit, metadata, quarantine_row

    if not load.dataset.table:
        raise ValueError(f"dataset {load.dataset.name} has no table to load")
    table = metadata.tables[load.dataset.table]
    if set(load.partition) != set(load.dataset.partition):
        raise ValueError(f"{load.dataset.name}: partition {dict(load.partition)} does not "
                         f"match the registry's {list(load.dataset.partition)}")
    now = utc_now()
    period_id = load.month.period_id
    lineage = {"fetch_id": load.fetch_id, "run_id": load.run_id, "loaded_at": now,
               **load.partition}
    quarantine = quarantine_table(load, now)
    key = {"source": load.source, "dataset": load.dataset.name, "period_id": period_id}
    with transaction(warehouse_url) as conn:
        # Two loads of one partition (a rerun while the run is still going, a backfill)
        # take their turns instead of interleaving their deletes and inserts.
        lock_for_write(conn, partition_name(table.name, load.partition),
                       partition_name("load_audit", key))
        loaded = 0 if load.rejected else replace_partition(
            conn, table, _with_constants(load.facts, table, lineage), load.partition)
        if load.also is not None:
            load.also(conn)
        replace_partition(conn, quarantine_row, quarantine, key)
        replace_partition(conn, dq_result, dq_table(load, now), {"run_id": load.run_id, **key})
        audit = {"run_id": load.run_id, **key, "fetch_id": load.fetch_id,
                 "rows_in": int(load.rows_in), "rows_loaded": loaded,
                 "rows_quarantined": quarantine.num_rows, "raw_sha256": load.raw_sha256,
                 "status": "rejected" if load.rejected else "loaded", "loaded_at": now}
        replace_partition(conn, load_audit,
                          pa.Table.from_pylist([audit], schema=arrow_schema(load_audit)),
                          {"run_id": load.run_id, **key})
    if load.rejected:
        log.error("rejected %s/%s %s, the last good partition stays: %s (fetch %s)",
                  load.source, load.dataset.name, load.month, load.rejected, load.fetch_id)
    else:
        log.info("loaded %s/%s %s: %d rows, %d quarantined (fetch %s)", load.source,
                 load.dataset.name, load.month, loaded, quarantine.num_rows, load.fetch_id)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in audit.items()}
