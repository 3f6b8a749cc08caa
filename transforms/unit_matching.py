"""Match the units a source sends to our units (pure: the units, the known agency codes and
the overrides in, one decision per source unit out).

A portal list names each unit by its own ID (numeric on the legacy gateway, a UUID on the
reporting API), an agency code (`MA_COQUAN` / `departmentCode`, sometimes in the long
form `000.00.00.H37`) and a name with its title (`UBND xã Đông Thái - tỉnh An Giang`).
The keys, in order:

1. an override (config/units/overrides.csv), by source ID or by agency code;
2. the source's own ID, where an earlier answer of the same scheme taught whose it is
   (IDs are never trusted across schemes: the two API generations, and the services of
   the legacy gateway, number units differently);
3. the statistical code, where the source sends one;
4. the normalised agency code, where we already know whose it is (earlier
   registrations, units' agency codes);
5. the normalised name within the parent (the province whose list it came in), first
   with the unit type (`xã đông thái`), then without (`đông thái`); then the same for the
   name before a trailing ` - …` (a province written without its type).

The first key that finds exactly one unit decides (a known agency code therefore wins
over the name); a name that fits two units is ambiguous; no key at all is unmatched:
both are quarantined with the reason and listed by `reformstats units unmatched`, and
resolved by an override. Departments (sở, ban, ngành) are in no statistical list: one
that matches nothing is registered under its province with its agency code as unit code.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from domain.names import agency_code, display_name, name_key, without_suffix
from domain.units import Unit, province_in

OVERRIDE_COLUMNS = ("scheme", "source_id", "unit_code", "note")
# Portal levels -> reference levels a name may match (districts only before July 2025).
_LEVELS = {"province": ("province",), "commune": ("commune", "district"),
           "district": ("district",), "department": ("department",)}


@dataclass(frozen=True)
class SourceUnit:
    """A unit as one source record names it."""

    scheme: str  # legacy_766 | reporting | ...
    source_id: str | None
    name: str | None
    agency_code: str | None  # as sent
    level: str | None  # province | department | commune, as the source says
    parent_code: str | None  # our province the list belongs to; None: the national list
    stat_code: str | None = None


@dataclass(frozen=True)
class Override:
    scheme: str  # a source scheme (the ID is that source's) or agency_code
    source_id: str
    unit_code: str
    note: str = ""


@dataclass(frozen=True)
class UnitMatch:
    unit_code: str | None
    matched_by: str | None  # override | stat_code | agency_code | name | registered
    problem: str | None = None  # unmatched | ambiguous
    reason: str | None = None
    candidates: tuple[str, ...] = ()
    registered: Unit | None = None  # a department first seen in this answer


def read_overrides(path: Path) -> list[Override]:
    """config/units/overrides.csv (absent: none). Blank lines and `#` comments allowed."""
    if not path.exists():
        return []
    with open(path, encoding="utf-8", newline="") as handle:
        rows = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(rows)
    if tuple(reader.fieldnames or ()) != OVERRIDE_COLUMNS:
        raise ValueError(f"{path}: columns must be {','.join(OVERRIDE_COLUMNS)}, "
                         f"got {reader.fieldnames}")
    overrides = []
    for number, row in enumerate(reader, start=2):
        if not row["scheme"] or not row["source_id"] or not row["unit_code"]:
            raise ValueError(f"{path} line {number}: scheme, source_id and unit_code are "
                             "required")
        source_id = row["source_id"].strip()
        if row["scheme"] == "agency_code":
            source_id = agency_code(source_id) or source_id
        overrides.append(Override(row["scheme"].strip(), source_id, row["unit_code"].strip(),
                                  (row["note"] or "").strip()))
    return overrides


@dataclass
class UnitMatcher:
    """Matches source units against the units valid on one date."""

    units: Mapping[str, Unit]  # unit code -> unit, valid on the date
    on: dt.date
    known_agency_codes: Mapping[str, str] = field(default_factory=dict)  # code -> unit
    known_ids: Mapping[tuple[str, str], str] = field(default_factory=dict)  # (scheme, ID)
    overrides: Iterable[Override] = ()

    def __post_init__(self) -> None:
        self._override = {(o.scheme, o.source_id): o.unit_code for o in self.overrides}
        self._by_stat: dict[str, list[str]] = {}
        self._by_agency: dict[str, str] = dict(self.known_agency_codes)
        self._by_name: dict[tuple[str | None, str, str], list[str]] = {}
        for code, unit in self.units.items():
            if unit.stat_code:
                self._by_stat.setdefault(unit.stat_code, []).append(code)
            if unit.agency_code:
                self._by_agency.setdefault(unit.agency_code, code)
            parent = None if unit.level == "province" else province_in(self.units, code)
            for typed in (True, False):
                key = (parent, unit.level, ("t:" if typed else "n:")
                       + name_key(unit.name_vi, keep_type=typed))
                self._by_name.setdefault(key, []).append(code)

    def _by_override(self, source: SourceUnit, code: str | None) -> str | None:
        return (self._override.get((source.scheme, source.source_id or ""))
                or (self._override.get(("agency_code", code)) if code else None))

    def match(self, source: SourceUnit) -> UnitMatch:
        code = agency_code(source.agency_code)
        forced = self._by_override(source, code)
        if forced is not None:
            if forced in self.units or forced.startswith("H"):
                return UnitMatch(forced, "override", registered=self._department(
                    source, forced, "override") if forced not in self.units else None)
            return UnitMatch(None, None, "unmatched",
                             f"override names unit {forced}, unknown on {self.on}")
        known = self.known_ids.get((source.scheme, source.source_id or ""))
        if known is not None and known in self.units:
            return UnitMatch(known, "source_id")
        if source.stat_code:
            found = self._by_stat.get(source.stat_code, [])
            if len(found) == 1:
                return UnitMatch(found[0], "stat_code")
        by_code = self._by_agency.get(code) if code else None
        if by_code is not None and by_code in self.units:
            return UnitMatch(by_code, "agency_code")
        if source.level == "department":
            if code:
                return UnitMatch(code, "registered", registered=self._department(source, code))
            return UnitMatch(None, None, "unmatched",
                             "department without an agency code: no key to register it by")
        return self._by_name_within_parent(source, code)

    def _by_name_within_parent(self, source: SourceUnit, code: str | None) -> UnitMatch:
        if not source.name:
            return UnitMatch(None, None, "unmatched", "no name and no known code")
        levels = _LEVELS.get(source.level or "", ("province", "commune", "district"))
        parent = None if source.level == "province" else source.parent_code
        names = [source.name, *filter(None, [without_suffix(source.name)])]
        for name in names:
            for typed in (True, False):
                key = ("t:" if typed else "n:") + name_key(name, keep_type=typed)
                found = sorted({c for level in levels
                                for c in self._by_name.get((parent, level, key), [])})
                if len(found) == 1:
                    return UnitMatch(found[0], "name")
                if len(found) > 1:
                    return UnitMatch(None, None, "ambiguous",
                                     f"name {source.name!r} fits {len(found)} units"
                                     f"{' in ' + parent if parent else ''}", tuple(found))
        where = f" in {parent}" if parent else " among the provinces"
        return UnitMatch(None, None, "unmatched",
                         f"no unit named {source.name!r}{where} on {self.on}"
                         + (f" (agency code {code} unknown)" if code else ""))

    def _department(self, source: SourceUnit, code: str,
                    origin: str = "portal") -> Unit | None:
        """A department first seen here, registered under its province for the era of the
        province's current version."""
        province = self.units.get(source.parent_code or "")
        if province is None:
            return None
        return Unit(unit_code=code, name_vi=display_name(source.name or code),
                    level="department",
                    parent_code=province.unit_code, stat_code=None,
                    valid_from=province.valid_from, valid_to=province.valid_to,
                    agency_code=code, origin=origin)
