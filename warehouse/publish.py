"""Publishing one partition: its facts, quarantined rows, data-quality results and audit
row, all in one transaction, through each engine's bulk path (loader.replace_partition).

What a dataset's table and partition are comes from the registry entry; a rerun of the
same partition converges to the same state, and an analyst never sees half of it.
"""

from __future__ import annotations

import dataclasses
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


class PartitionRejected(Exception):
    """A partition failed a critical check and was not published (no silent success): the
    last good one stays visible, its rows wait in quarantine; fixing the cause and rerunning
    validate and load (the raw zone is kept) publishes it."""


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
    # Only these units' rows of the partition are replaced (a report file holding some of
    # a province's units); None: the partition whole.
    units: Sequence[str] | None = None
    # whether `also` still runs for a rejected partition (what it writes is not published
    # from the facts, e.g. the units an answer taught); False for results made from them
    also_if_rejected: bool = True


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


def _unit_totals(rows: Any, unit_column: str, measures: Sequence[str]
                 ) -> dict[str, dict[str, float]]:
    totals: dict[str, dict[str, float]] = {}
    for row in rows:
        unit = row[unit_column]
        if unit is None:
            continue
        bucket = totals.setdefault(unit, dict.fromkeys(measures, 0.0))
        for m in measures:
            bucket[m] += float(row.get(m) or 0)
    return totals


def history_checks(conn: sa.Connection, load: PartitionLoad) -> list[CheckOutcome]:
    """The registry's history checks of this partition against the one before it (read
    from the warehouse, in the load's transaction), per unit."""
    from expectations.history import history_outcomes, previous_period
    from warehouse.schema import dim_unit, metadata

    history, unit_column = load.dataset.validation.history, load.dataset.unit_column
    period = load.month if isinstance(load.month, Period) else Period.of_month(load.month)
    before = previous_period(period)
    if history is None or unit_column is None or before is None or (
            period.period_type not in history.period_types):
        return []
    table = metadata.tables[load.dataset.table]
    where = [table.c.period_id == before.period_id,
             *(table.c[k] == v for k, v in load.partition.items() if k != "period_id"),
             *([table.c[unit_column].in_(list(load.units))] if load.units is not None else [])]
    previous = _unit_totals(
        (r._mapping for r in conn.execute(
            sa.select(table.c[unit_column],
                      *(sa.func.sum(table.c[m]).label(m) for m in history.measures))
            .where(*where).group_by(table.c[unit_column]))),
        unit_column, history.measures)
    if not previous:
        return []
    current = _unit_totals(load.facts.select([unit_column, *history.measures]).to_pylist(),
                           unit_column, history.measures)
    gone = sorted(set(previous) - set(current))
    day = period.last_day
    valid = {r[0] for r in conn.execute(
        sa.select(dim_unit.c.unit_code).where(
            dim_unit.c.unit_code.in_(gone), dim_unit.c.valid_from <= day,
            sa.or_(dim_unit.c.valid_to.is_(None), dim_unit.c.valid_to > day)))} if gone else set()
    return history_outcomes(current, previous, history, previous_label=before.label,
                            still_valid=valid.__contains__)


def load_partition(load: PartitionLoad, warehouse_url: str) -> dict[str, Any]:
    """Write the partition in one transaction; return the audit row (JSON-able). A
    partition with a failed critical check (or `rejected` by its validation) writes all
    but its facts, then raises PartitionRejected."""
    from expectations.outcomes import rejection
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
    if not load.rejected and (found := rejection(load.outcomes)):
        # rejected here (a critical check of the results): its rows wait in quarantine
        # (results made in the warehouse; a source's rows were held by its validation)
        if load.quarantined is None or not load.quarantined.num_rows:
            load = dataclasses.replace(load, quarantined=load.facts.append_column(
                "reasons", pa.array([f"partition rejected: {found}"] * load.facts.num_rows,
                                    pa.string())))
        load = dataclasses.replace(load, rejected=found)
    quarantine = quarantine_table(load, now)
    key = {"source": load.source, "dataset": load.dataset.name, "period_id": period_id}
    with transaction(warehouse_url) as conn:
        # Two loads of one partition (a rerun while the run is still going, a backfill)
        # take their turns instead of interleaving their deletes and inserts.
        lock_for_write(conn, partition_name(table.name, load.partition),
                       partition_name("load_audit", key))
        if not load.rejected:
            load = dataclasses.replace(load, outcomes=[*load.outcomes,
                                                       *history_checks(conn, load)])
        loaded = 0 if load.rejected else replace_partition(
            conn, table, _with_constants(load.facts, table, lineage), load.partition,
            among=None if load.units is None else {load.dataset.unit_column or "unit_code":
                                                   list(load.units)})
        if load.also is not None and (load.also_if_rejected or not load.rejected):
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
        raise PartitionRejected(
            f"{load.dataset.name} {load.month}: {load.rejected} (fetch {load.fetch_id}); the "
            "last good partition stays and the new rows wait in quarantine_row; see dq_result"
            " and `reformstats units unmatched`, then rerun validate and load once fixed")
    else:
        log.info("loaded %s/%s %s: %d rows, %d quarantined (fetch %s)", load.source,
                 load.dataset.name, load.month, loaded, quarantine.num_rows, load.fetch_id)
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in audit.items()}
