"""Administrative units (đơn vị hành chính) and the crosswalk of source IDs to our unit codes.

Our unit key is the statistical code (mã thống kê) of an administrative unit, from the
reference packages (domain/reference_units.py), and the portal agency code (mã định danh,
e.g. `H01.13`) of a department, which no statistical list holds. Sources identify units
by their own IDs — numeric on the legacy gateway (and different per service), UUIDs on the
reporting API — so every ID goes through a crosswalk with validity dates and is never
trusted across services. Most IDs are registered from the portal's own lists
(transforms/unit_matching.py); `config/units/source_ids.csv` holds only those no answer
carries (the monthly-counter service's province IDs, one-stop agency IDs).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LEVELS = ("province", "department", "commune", "district")


@dataclass(frozen=True)
class Unit:
    unit_code: str
    name_vi: str
    level: str
    parent_code: str | None
    stat_code: str | None
    valid_from: dt.date
    valid_to: dt.date | None
    agency_code: str | None = None
    origin: str = "reference"

    def valid_on(self, on: dt.date) -> bool:
        return _valid(on, self.valid_from, self.valid_to)

    @classmethod
    def from_row(cls, row: Any) -> Unit:
        """A unit from a dim_unit row (attribute access)."""
        return cls(unit_code=row.unit_code, name_vi=row.name_vi, level=row.level,
                   parent_code=row.parent_code, stat_code=row.stat_code,
                   valid_from=row.valid_from, valid_to=row.valid_to,
                   agency_code=row.agency_code, origin=row.origin)


@dataclass(frozen=True)
class SourceId:
    scheme: str
    source_id: str
    unit_code: str
    valid_from: dt.date
    valid_to: dt.date | None


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text.strip() else None


def _rows(path: Path) -> list[dict[str, str]]:
    """A CSV file's rows; blank lines and lines starting with `#` are comments."""
    with open(path, encoding="utf-8", newline="") as handle:
        lines = [line for line in handle if line.strip() and not line.lstrip().startswith("#")]
    return list(csv.DictReader(lines))


def _validity(row: dict[str, str]) -> dict[str, dt.date | None]:
    return {"valid_from": dt.date.fromisoformat(row["valid_from"]),
            "valid_to": _date(row["valid_to"])}


def _valid(on: dt.date, start: dt.date, end: dt.date | None) -> bool:
    return start <= on and (end is None or on < end)


def province_in(valid: Mapping[str, Unit], unit_code: str | None) -> str | None:
    """The province of a unit among the units valid on one date (itself for a province),
    following parents (commune -> district -> province); None when it is not among them."""
    unit = valid.get(unit_code or "")
    for _ in range(4):
        if unit is None or unit.level == "province":
            return unit.unit_code if unit else None
        unit = valid.get(unit.parent_code or "")
    return None


class UnitRegistry:
    """Units (reference and configured) and the configured source-ID crosswalk."""

    def __init__(self, units: list[Unit], source_ids: list[SourceId]) -> None:
        self.units = units
        self.source_ids = source_ids
        self._by_source: dict[tuple[str, str], list[SourceId]] = {}
        for sid in source_ids:
            self._by_source.setdefault((sid.scheme, sid.source_id), []).append(sid)
        self._valid: dict[dt.date, dict[str, Unit]] = {}

    @classmethod
    def from_folder(cls, folder: Path, *, reference: bool = True) -> UnitRegistry:
        """The reference units of both eras (unless `reference` is False), any extra units
        of `units.csv` and the IDs of `source_ids.csv` in `folder` (both optional)."""
        from domain.reference_units import reference_units

        units = list(reference_units()) if reference else []
        if (folder / "units.csv").exists():
            units += [Unit(unit_code=row["unit_code"], name_vi=row["name_vi"],
                           level=row["level"], parent_code=row["parent_code"] or None,
                           stat_code=row["stat_code"] or None, origin="config",
                           agency_code=row.get("agency_code") or None, **_validity(row))
                      for row in _rows(folder / "units.csv")]
        source_ids = []
        if (folder / "source_ids.csv").exists():
            source_ids = [SourceId(scheme=row["scheme"], source_id=row["source_id"],
                                   unit_code=row["unit_code"], **_validity(row))
                          for row in _rows(folder / "source_ids.csv")]
        seen: dict[tuple[str, str, dt.date], str] = {}
        for sid in source_ids:  # one ID per unit and scheme at a time, or requests guess
            key = (sid.scheme, sid.unit_code, sid.valid_from)
            if key in seen:
                raise ValueError(f"{folder / 'source_ids.csv'}: two {sid.scheme} IDs for unit "
                                 f"{sid.unit_code} from {sid.valid_from} ({seen[key]}, "
                                 f"{sid.source_id}): keep one")
            seen[key] = sid.source_id
        bad = [u.unit_code for u in units if u.level not in LEVELS]
        if bad:
            raise ValueError(f"units.csv: unknown level for {bad[:5]}")
        return cls(units, source_ids)

    def valid(self, on: dt.date) -> dict[str, Unit]:
        """{unit code: unit} of the units valid on a date (cached per date)."""
        if on not in self._valid:
            self._valid[on] = {u.unit_code: u for u in self.units if u.valid_on(on)}
        return self._valid[on]

    def lookup(self, scheme: str, source_id: str | None, on: dt.date) -> str | None:
        """Our unit code for a source's ID on a date, or None when the crosswalk has none."""
        if source_id is None:
            return None
        for sid in self._by_source.get((scheme, source_id), []):
            if _valid(on, sid.valid_from, sid.valid_to):
                return sid.unit_code
        return None

    def mapping(self, scheme: str, on: dt.date) -> dict[str, str]:
        """{source ID: unit code} for every ID of a scheme valid on a date."""
        return {s.source_id: s.unit_code for s in self.source_ids
                if s.scheme == scheme and _valid(on, s.valid_from, s.valid_to)}

    def level_of(self, on: dt.date) -> dict[str, str]:
        """{unit code: level} for the units valid on a date."""
        return {code: u.level for code, u in self.valid(on).items()}

    def source_id(self, scheme: str, unit_code: str, on: dt.date) -> str:
        """The source's ID for one of our units (to build a request); KeyError if unmapped."""
        for sid in self.source_ids:
            if (sid.scheme == scheme and sid.unit_code == unit_code
                    and _valid(on, sid.valid_from, sid.valid_to)):
                return sid.source_id
        raise KeyError(f"no {scheme} ID for unit {unit_code} on {on}")

    def provinces(self, on: dt.date) -> list[Unit]:
        return [u for u in self.valid(on).values() if u.level == "province"]

    def children(self, parent_code: str, on: dt.date) -> list[Unit]:
        return [u for u in self.valid(on).values() if u.parent_code == parent_code]

    def ancestry(self, unit_code: str, on: dt.date) -> list[str]:
        """The unit, then its parents (nearest first), among the units valid on a date; the
        unit alone when it is not known then."""
        valid, chain = self.valid(on), [unit_code]
        parent = getattr(valid.get(unit_code), "parent_code", None)
        while parent and parent not in chain and len(chain) < 10:
            chain.append(parent)
            parent = getattr(valid.get(parent), "parent_code", None)
        return chain

    def province_of(self, unit_code: str, on: dt.date) -> str | None:
        """The province a unit belongs to on a date (itself for a province), following
        parents; None when the unit is not known then."""
        return province_in(self.valid(on), unit_code)

    def known_codes(self, on: dt.date) -> list[str]:
        return sorted(self.valid(on))
