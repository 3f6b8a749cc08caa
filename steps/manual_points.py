"""The offices' manual points in the warehouse: importing a sheet into fact_manual_points,
writing the blank template, and reading the latest round for scoring.

The rule set is the version of the scheme in force on the period's last day; the units
are those of its level valid that day in its provinces (reference units, configured ones
and the departments the portal registered). A sheet loads whole or not at all: its
problems, and a round whose previous round a unit lacks in the warehouse, raise
`ManualPointsError`. A file replaces its round for the units it holds, in one transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa

from domain.periods import Period
from domain.units import Unit, province_in
from marts.manual_points import (
    ROUND_NAMES_VI,
    ROUNDS,
    TEXT_LIMIT,
    ManualPointsError,
    ManualPointsSheet,
    identity_problems,
    latest_round,
    manual_leaves,
    previous_round,
    read_points,
    write_template,
    written_for,
)
from marts.rulesets import RuleSet
from registry.settings import Settings


@dataclass(frozen=True)
class ImportResult:
    scheme: str
    version: str
    period: Period
    round: str
    sheet: ManualPointsSheet
    replaced: int  # rows of the same round and units loaded earlier, now replaced

    @property
    def rows(self) -> int:
        return len(self.sheet.rows)


@dataclass(frozen=True)
class TemplateResult:
    scheme: str
    version: str
    path: Path
    units: int
    criteria: int
    rows: int
    provinces: tuple[str, ...]


def rule_set_for(settings: Settings, scheme: str, period: Period, round: str) -> RuleSet:
    """The version of `scheme` in force on the period's last day, if it scores the period
    type and has manual criteria; ManualPointsError otherwise."""
    from steps.scoring import rule_sets

    if round not in ROUNDS:
        raise ManualPointsError([f"unknown round {round!r} (known: {', '.join(ROUNDS)})"])
    sets = rule_sets(settings)
    rule_set = sets.in_force(scheme, period.last_day)
    if rule_set is None:
        known = [s for s in sets.sets if s.scheme == scheme]
        hint = (f"versions: {', '.join(f'{s.version} from {s.valid_from}' for s in known)}"
                if known else f"known schemes: {', '.join(sets.schemes())}")
        raise ManualPointsError([f"no version of scheme {scheme!r} is in force on "
                                 f"{period.last_day}, the last day of {period.label} ({hint})"])
    problems = []
    # A year's points apply to every period of the year the rule set scores.
    if period.period_type != "year" and period.period_type not in rule_set.period_types:
        problems.append(f"{scheme} {rule_set.version} scores {', '.join(rule_set.period_types)}"
                        f" periods, not a {period.period_type} ({period.label}); a year's "
                        "points apply to each of them")
    if not manual_leaves(rule_set):
        problems.append(f"{scheme} {rule_set.version} has no manual criteria")
    if problems:
        raise ManualPointsError(problems)
    return rule_set


def scored_units(settings: Settings, rule_set: RuleSet, on: dt.date,
                 provinces: Collection[str] | None = None) -> dict[str, tuple[Unit, str]]:
    """{code: (unit, its province)} of the units the rule set scores on a date (its level,
    its provinces), within `provinces` when given."""
    from steps.units import known_units

    valid = known_units(settings, on).valid(on)
    units = {}
    for code, unit in valid.items():
        province = province_in(valid, code)
        if province is not None and rule_set.applies_to(unit.level, province) \
                and (provinces is None or province in provinces):
            units[code] = (unit, province)
    return units


def _lock_name(scheme: str, period: Period) -> str:
    return f"fact_manual_points/{scheme}/{period.period_id}"


def _units_with_round(conn: sa.Connection, rule_set: RuleSet, period: Period, round: str,
                      units: Iterable[str]) -> dict[str, int]:
    """{unit: rows} of the units holding rows of `round` for the rule set and period."""
    from warehouse.schema import fact_manual_points as t

    return {unit: count for unit, count in conn.execute(
        sa.select(t.c.unit_code, sa.func.count()).where(
            t.c.scheme == rule_set.scheme, t.c.version == rule_set.version,
            t.c.period_id == period.period_id, t.c.round == round,
            t.c.unit_code.in_(list(units))).group_by(t.c.unit_code))}


def import_points(path: Path, scheme: str, period: Period, round: str, entered_by: str,
                  settings: Settings) -> ImportResult:
    """Check a sheet and load its rows as `round` of the scheme's version in force for the
    period, replacing that round for the units it holds (other units and rounds stay);
    ManualPointsError with every problem, and nothing loaded, when it cannot."""
    from warehouse.engine import lock_for_write, transaction, utc_now
    from warehouse.loader import arrow_schema, replace_partition
    from warehouse.schema import fact_manual_points

    path = Path(path)
    entered_by = (entered_by or "").strip()
    if not entered_by or len(entered_by) > TEXT_LIMIT:
        raise ManualPointsError([f"who entered the points (--entered-by) must be given, at "
                                 f"most {TEXT_LIMIT} characters"], path.name)
    rule_set = rule_set_for(settings, scheme, period, round)
    data = path.read_bytes()  # read once: its identity, then its rows
    mismatch = identity_problems(written_for(path.name, data), {
        "scheme": rule_set.scheme, "version": rule_set.version, "period": period.label,
        "round": round})
    if mismatch:
        raise ManualPointsError(mismatch, path.name)
    sheet = read_points(path.name, data, rule_set,
                        scored_units(settings, rule_set, period.last_day))
    now = utc_now()
    partition = {"scheme": rule_set.scheme, "version": rule_set.version,
                 "period_id": period.period_id, "round": round}
    lineage = {**partition, "source_file": sheet.file_name[:255], "file_sha256": sheet.sha256,
               "imported_at": now}
    rows = pa.Table.from_pylist([{
        **lineage, "unit_code": row.unit_code, "criterion_code": row.criterion_code,
        "points": row.points, "evidence": row.evidence,
        "entered_by": row.entered_by or entered_by, "row_number": row.row_number}
        for row in sheet.rows], schema=arrow_schema(fact_manual_points))
    units = sheet.units
    with transaction(settings.warehouse_url) as conn:
        lock_for_write(conn, _lock_name(rule_set.scheme, period))
        before = previous_round(round)
        if before is not None:
            missing = sorted(set(units) - set(_units_with_round(conn, rule_set, period, before,
                                                                units)))
            if missing:
                raise ManualPointsError([
                    f"{round} ({ROUND_NAMES_VI[round]}) needs the {before} "
                    f"({ROUND_NAMES_VI[before]}) of each unit loaded first; {scheme} "
                    f"{rule_set.version} {period.label} has none for {len(missing)} unit(s) "
                    f"of the file: {', '.join(missing)}"], path.name)
        replaced = sum(_units_with_round(conn, rule_set, period, round, units).values())
        t = fact_manual_points
        conn.execute(sa.delete(t).where(*(t.c[k] == v for k, v in partition.items()),
                                        t.c.unit_code.in_(units)))
        # The rows just stamped: no row has this stamp yet, so this only inserts them,
        # through the engine's bulk path, in one statement whatever the number of units.
        replace_partition(conn, t, rows, {**partition, "file_sha256": sheet.sha256,
                                          "imported_at": now})
    return ImportResult(rule_set.scheme, rule_set.version, period, round, sheet, replaced)


def read_latest_points(conn: sa.Connection, scheme: str, version: str,
                       period_ids: Collection[int]
                       ) -> dict[tuple[int, str, str], tuple[float, str]]:
    """{(period_id, unit_code, criterion_code): (points, round)} of the latest round loaded
    for each key (what scoring takes for a manual criterion)."""
    from warehouse.schema import fact_manual_points as t

    if not period_ids:
        return {}
    rows = conn.execute(sa.select(t.c.period_id, t.c.unit_code, t.c.criterion_code,
                                  t.c.round, t.c.points).where(
        t.c.scheme == scheme, t.c.version == version, t.c.period_id.in_(list(period_ids))))
    return latest_round(((period_id, unit, criterion), round_name, float(points))
                        for period_id, unit, criterion, round_name, points in rows)


def template(settings: Settings, scheme: str, period: Period, round: str, out: Path,
             provinces: Collection[str] | None = None) -> TemplateResult:
    """Write the blank sheet of the scheme's version in force for the period: every unit
    it scores in `provinces` (default: every province it applies to that has units)."""
    rule_set = rule_set_for(settings, scheme, period, round)
    day = period.last_day
    wanted = tuple(dict.fromkeys(provinces or ()))
    outside = [p for p in wanted if rule_set.provinces is not None
               and p not in rule_set.provinces]
    if outside:
        raise ManualPointsError([f"{scheme} {rule_set.version} applies to the provinces "
                                 f"{', '.join(rule_set.provinces or ())}, not "
                                 f"{', '.join(outside)}"])
    units = scored_units(settings, rule_set, day, wanted or None)
    covered = sorted({province for _, province in units.values()})
    empty = [p for p in wanted if p not in covered]
    if empty or not units:
        where = f"in province(s) {', '.join(empty)} " if empty else ""
        hint = (" (departments are registered in the warehouse by the national portal's "
                "loads: load them first, or give --url)" if rule_set.level == "department"
                else "")
        raise ManualPointsError([f"{scheme} {rule_set.version} scores no {rule_set.level} "
                                 f"unit {where}on {day}{hint}"])
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = write_template(out, rule_set, {c: u.name_vi for c, (u, _) in units.items()},
                          period, round)
    return TemplateResult(rule_set.scheme, rule_set.version, out, len(units),
                          len(manual_leaves(rule_set)), rows, tuple(covered))
