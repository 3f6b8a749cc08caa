"""Units in the steps: match a frame's source units, and register what the answers taught.

The validate step matches every row's unit (transforms/unit_matching.py) against the units
valid on the period's last day: the reference units, the configured ones, and those the
portal's lists registered earlier (departments, known agency codes). It writes what it
learned beside the good rows; the load step registers it in the same transaction as the
partition (`register_units`), so the crosswalk never claims more than the warehouse holds.
What does not fit the columns of the table it would go to (an ID or name longer than the
warehouse holds: its row is quarantined for the same limit) is not registered, so that
PostgreSQL, which would refuse it, and DuckDB, which would not, register the same.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from domain.names import agency_code
from domain.periods import Period
from domain.units import Unit, UnitRegistry
from registry.settings import Settings
from transforms.unit_matching import SourceUnit, UnitMatcher, read_overrides

log = logging.getLogger(__name__)

ISSUE_COLUMNS = ["scheme", "source_id", "problem", "unit_name", "published_unit_code",
                 "unit_level", "parent_code", "candidates", "reason"]


def overrides_path(settings: Settings) -> Path:
    return settings.config_dir / "units" / "overrides.csv"


def _registered(url: str, on: dt.date) -> tuple[dict[tuple[str, str], str], list[Unit]]:
    """Source IDs ({(scheme, ID): unit code}, agency codes under the scheme agency_code)
    and departments the portal registered earlier (none while the warehouse file does not
    exist yet). Any other failure to read (a lock, a schema behind the code)
    raises: matching without them would silently differ."""
    from warehouse.engine import make_engine
    from warehouse.schema import dim_unit, unit_source_id

    try:
        engine = make_engine(url, create=False, read_only=True)
    except FileNotFoundError:
        return {}, []
    try:
        with engine.connect() as conn:
            ids = {(scheme, source_id): code for scheme, source_id, code in conn.execute(
                sa.select(unit_source_id.c.scheme, unit_source_id.c.source_id,
                          unit_source_id.c.unit_code).where(
                unit_source_id.c.origin != "config",
                unit_source_id.c.valid_from <= on,
                sa.or_(unit_source_id.c.valid_to.is_(None), unit_source_id.c.valid_to > on)))}
            rows = conn.execute(sa.select(dim_unit).where(
                dim_unit.c.origin != "reference", dim_unit.c.origin != "config",
                dim_unit.c.valid_from <= on,
                sa.or_(dim_unit.c.valid_to.is_(None), dim_unit.c.valid_to > on))).all()
    finally:
        engine.dispose()
    return ids, [Unit.from_row(r) for r in rows]


def known_units(settings: Settings, on: dt.date) -> UnitRegistry:
    """The configured units (reference and config/) and those the portal registered in the
    warehouse (departments), e.g. for a unit's level and province."""
    _, registered = _registered(settings.warehouse_url, on)
    return UnitRegistry([*settings.units.units, *registered], settings.units.source_ids)


def unit_matcher(settings: Settings, period: Period, *, warehouse: bool = True) -> UnitMatcher:
    """The matcher for a period: units valid on its last day (the portal lists units as
    they are then), with what the warehouse registered earlier unless `warehouse` is off."""
    on = period.last_day
    units = dict(settings.units.valid(on))
    ids: dict[tuple[str, str], str] = {}
    if warehouse:
        ids, registered = _registered(settings.warehouse_url, on)
        units.update({u.unit_code: u for u in registered if u.unit_code not in units})
    return UnitMatcher(units, on, known_agency_codes={
        source_id: code for (scheme, source_id), code in ids.items()
        if scheme == "agency_code"}, known_ids={
        key: code for key, code in ids.items() if key[0] != "agency_code"},
        overrides=read_overrides(overrides_path(settings)))


def match_frame(frame: pd.DataFrame, matcher: UnitMatcher, scheme: str,
                national_scope: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fill `unit_code` of a portal frame by matching each row's unit; returns the frame
    (with `unit_problem`, the reason for rows that matched nothing or twice) and what was
    learned: source IDs and agency codes to register, new departments, issues."""
    out = frame.copy()
    codes, problems, learned = [], [], {"ids": [], "departments": [], "issues": []}
    for row in out.itertuples(index=False):
        scope = row.list_scope
        parent = None if scope == national_scope else scope
        source = SourceUnit(scheme=scheme, source_id=row.source_unit_id, name=row.unit_name,
                            agency_code=row.published_unit_code, level=row.unit_level,
                            parent_code=parent)
        found = matcher.match(source)
        codes.append(found.unit_code)
        problems.append(f"unit {found.problem}: {found.reason}" if found.problem else None)
        if found.problem:
            learned["issues"].append({
                "scheme": scheme, "source_id": row.source_unit_id or "", "problem":
                found.problem, "unit_name": row.unit_name,
                "published_unit_code": row.published_unit_code, "unit_level": row.unit_level,
                "parent_code": parent, "candidates": ",".join(found.candidates) or None,
                "reason": found.reason})
            continue
        unit = found.registered or matcher.units.get(found.unit_code)
        validity = ((unit.valid_from, unit.valid_to) if unit
                    else (matcher.on, None))
        if row.source_unit_id:
            learned["ids"].append({"scheme": scheme, "source_id": row.source_unit_id,
                                   "unit_code": found.unit_code, "matched_by": found.matched_by,
                                   "valid_from": validity[0], "valid_to": validity[1]})
        agency = agency_code(source.agency_code)
        if agency:
            learned["ids"].append({"scheme": "agency_code", "source_id": agency,
                                   "unit_code": found.unit_code, "matched_by": found.matched_by,
                                   "valid_from": validity[0], "valid_to": validity[1]})
        if found.registered is not None:
            learned["departments"].append(found.registered.__dict__)
    out["unit_code"] = codes
    out["unit_problem"] = problems
    return out, learned


def write_learned(folder: Path, learned: dict[str, Any]) -> None:
    (folder / "units_learned.json").write_text(
        json.dumps(learned, ensure_ascii=False, default=str, indent=1), encoding="utf-8")


def read_learned(folder: Path) -> dict[str, Any]:
    path = folder / "units_learned.json"
    if not path.exists():
        return {"ids": [], "departments": [], "issues": []}
    return json.loads(path.read_text(encoding="utf-8"))


def _day(value: object) -> dt.date | None:
    """A date as units_learned.json holds it (ISO text, or null)."""
    return None if value is None else dt.date.fromisoformat(str(value))


def _fitting(items: list[dict[str, Any]], table: str, what: str) -> list[dict[str, Any]]:
    """The learned items whose values fit `table`'s columns; the others are logged."""
    from expectations.schema_limits import violations

    kept = []
    for item in items:
        broken = violations(table, item)
        if broken:
            log.warning("%s not registered: %s", what, "; ".join(b.notes for b in broken))
        else:
            kept.append(item)
    return kept


def register_units(conn: sa.Connection, learned: dict[str, Any], *, dataset: str,
                   period: Period, fetch_id: str, run_id: str) -> dict[str, int]:
    """In the load's transaction: upsert the source IDs (keeping when and where each was
    first seen), add new departments, and replace the partition's unit issues; what does
    not fit its table's columns is left out (logged)."""
    from warehouse.engine import lock_for_write, utc_now
    from warehouse.loader import arrow_schema, insert_rows, replace_partition
    from warehouse.schema import dim_unit, unit_match_issue, unit_source_id

    # Loads of other partitions (and every DAG's reference sync) write these tables too.
    lock_for_write(conn, "unit tables")

    learned = {"ids": _fitting(learned["ids"], unit_source_id.name, "source ID"),
               "departments": _fitting(learned["departments"], dim_unit.name, "department"),
               "issues": _fitting([{k: v for k, v in i.items() if k != "reason"}
                                   for i in learned["issues"]], unit_match_issue.name,
                                  "unit issue")}
    ids = {(i["scheme"], i["source_id"], str(i["valid_from"])): i for i in learned["ids"]}
    # Set-wise, not row by row: what exists of these IDs, in one read.
    existing = {(r.scheme, r.source_id, str(r.valid_from)): r._mapping for r in conn.execute(
        sa.select(unit_source_id).where(
            unit_source_id.c.scheme.in_(sorted({k[0] for k in ids})),
            unit_source_id.c.source_id.in_(sorted({k[1] for k in ids}))))} if ids else {}
    rows, replaced = [], defaultdict(list)
    for key, item in ids.items():
        scheme, source_id, valid_from = key
        old = existing.get(key)
        if old is not None and old["origin"] == "config":
            continue  # configured IDs are the config's business
        if old is not None:
            replaced[(scheme, valid_from)].append(source_id)
        first = old if old is not None and old["unit_code"] == item["unit_code"] else None
        rows.append({
            "scheme": scheme, "source_id": source_id, "unit_code": item["unit_code"],
            "valid_from": _day(valid_from), "valid_to": _day(item["valid_to"]),
            "matched_by": item["matched_by"],
            "origin": "override" if item["matched_by"] == "override" else "portal",
            "source_dataset": dataset,
            "first_seen_period_id": first["first_seen_period_id"] if first else period.period_id,
            "first_fetch_id": first["first_fetch_id"] if first else fetch_id,
            "last_fetch_id": fetch_id})
    for (scheme, valid_from), source_ids in replaced.items():
        conn.execute(sa.delete(unit_source_id).where(
            unit_source_id.c.scheme == scheme, unit_source_id.c.valid_from == _day(valid_from),
            unit_source_id.c.source_id.in_(source_ids)))
    insert_rows(conn, unit_source_id, pa.Table.from_pylist(
        rows, schema=arrow_schema(unit_source_id)))
    departments = {(u.unit_code, u.valid_from): u for u in (
        Unit(**{**raw, "valid_from": _day(raw["valid_from"]), "valid_to": _day(raw["valid_to"])})
        for raw in learned["departments"])}
    known = {(r.unit_code, r.valid_from) for r in conn.execute(
        sa.select(dim_unit.c.unit_code, dim_unit.c.valid_from).where(
            dim_unit.c.unit_code.in_(sorted({k[0] for k in departments}))))
             } if departments else set()
    new_units = [replace(u, origin=u.origin if u.origin == "override" else "portal")
                 for key, u in departments.items() if key not in known]
    insert_rows(conn, dim_unit, pa.Table.from_pylist([{
        "unit_code": u.unit_code, "valid_from": u.valid_from, "valid_to": u.valid_to,
        "name_vi": u.name_vi, "level": u.level, "parent_code": u.parent_code,
        "stat_code": None, "agency_code": u.agency_code, "origin": u.origin,
        "is_current": u.valid_to is None} for u in new_units], schema=arrow_schema(dim_unit)))
    added = len(new_units)
    now = utc_now()
    issues = pa.Table.from_pylist([
        {**i, "dataset": dataset,
         "period_id": period.period_id, "fetch_id": fetch_id, "run_id": run_id,
         "seen_at": now} for i in {(i["scheme"], i["source_id"]): i
                                   for i in learned["issues"]}.values()],
        schema=arrow_schema(unit_match_issue))
    replace_partition(conn, unit_match_issue, issues,
                      {"dataset": dataset, "period_id": period.period_id})
    return {"source_ids": len(ids), "departments_added": added, "unit_issues": issues.num_rows}
