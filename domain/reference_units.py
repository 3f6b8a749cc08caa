"""Reference administrative units of both eras, from the field's own packages.

- `vietnam-provinces` (the statistical office's codes and names from 1 July 2025):
  34 provinces and 3,321 communes (xã, phường, đặc khu), no district level.
- `vietnamadminunits` (the 63-province dataset as it stood on 30 June 2025: provinces,
  districts, communes) and its old → new mapping of provinces and communes, whole or
  split ("divided").

Our unit code for an administrative unit is its statistical code (province 2 digits,
district 3, commune 5). A code can name different units in the two eras (surviving
provinces keep theirs; a new commune may reuse a predecessor's code), so `dim_unit` is
SCD2: (unit_code, valid_from) is the key and the era gives the dates. The 63-province
dataset only knows the units of mid-2025; mergers between 2019 and 2024 are not in it, so
an older answer's unit that no longer existed then is quarantined and resolved by an
override (config/units/overrides.csv).

The packages disagree in places: 114 commune codes differ between them and 38 names are
spelled with the other tone placement. The mapping's new communes are therefore joined to
`vietnam-provinces` by name within the province (`domain.names.name_key`), by code only
where the name does not settle it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from domain.names import ascii_key, display_name, name_key
from domain.units import Unit

HISTORY_START = dt.date(2019, 1, 1)  # the warehouse's first period
REORGANISATION = dt.date(2025, 7, 1)  # 34 provinces, no districts, from this day

# Levels as the 63-province dataset names its districts and communes.
_LEGACY_DISTRICT_TYPES = {"Quận", "Huyện", "Thị xã", "Thành phố", "Thành Phố"}


@dataclass(frozen=True)
class CrosswalkEdge:
    """One old unit (valid before the reorganisation) → one new unit (valid from it)."""

    old_code: str
    old_level: str
    new_code: str
    new_level: str
    weight: float | None  # share of the old unit that went to the new one, where known
    approximate: bool  # the old unit was split: a roll-up along this edge is not exact
    basis: str  # whole_province | whole_commune | divided_commune | special_zone


def _versions() -> tuple[str, str]:
    from importlib.metadata import version

    return version("vietnam-provinces"), version("vietnamadminunits")


def _code(number: int, width: int) -> str:
    return f"{int(number):0{width}d}"


def _province_name(name: str, division_type: object) -> str:
    """`Tỉnh An Giang`: the package names cities in full but provinces without `Tỉnh`."""
    name = display_name(name)
    if getattr(division_type, "value", "") == "tỉnh" and not name.lower().startswith("tỉnh"):
        return f"Tỉnh {name}"
    return name


@cache
def _current() -> tuple[Unit, ...]:
    from vietnam_provinces import Province, Ward

    units = [Unit(unit_code=_code(p.code, 2), name_vi=_province_name(p.name, p.division_type),
                  level="province",
                  parent_code=None, stat_code=_code(p.code, 2), valid_from=REORGANISATION,
                  valid_to=None) for p in Province.iter_all()]
    units += [Unit(unit_code=_code(w.code, 5), name_vi=display_name(w.name), level="commune",
                   parent_code=_code(w.province_code, 2), stat_code=_code(w.code, 5),
                   valid_from=REORGANISATION, valid_to=None) for w in Ward.iter_all()]
    return tuple(units)


def _legacy_rows() -> list[dict[str, str | None]]:
    from vietnamadminunits.database import get_data

    return get_data(["province", "provinceCode", "provinceKey", "district", "districtCode",
                     "districtKey", "ward", "wardCode", "wardKey"], "admin_units_legacy")


@cache
def _legacy() -> tuple[Unit, ...]:
    rows = _legacy_rows()
    era = {"valid_from": HISTORY_START, "valid_to": REORGANISATION}
    provinces = {r["provinceCode"]: r["province"] for r in rows}
    districts = {r["districtCode"]: (r["district"], r["provinceCode"]) for r in rows}
    communes = {r["wardCode"]: (r["ward"], r["districtCode"]) for r in rows if r["wardCode"]}
    units = [Unit(unit_code=code, name_vi=display_name(name), level="province",
                  parent_code=None, stat_code=code, **era)
             for code, name in sorted(provinces.items())]
    units += [Unit(unit_code=code, name_vi=display_name(name), level="district",
                   parent_code=parent, stat_code=code, **era)
              for code, (name, parent) in sorted(districts.items())]
    units += [Unit(unit_code=code, name_vi=display_name(name), level="commune",
                   parent_code=parent, stat_code=code, **era)
              for code, (name, parent) in sorted(communes.items())]
    return tuple(units)


def reference_units() -> list[Unit]:
    """Every reference unit of both eras (SCD2 versions), legacy first."""
    return [*_legacy(), *_current()]


@cache
def _crosswalk() -> tuple[CrosswalkEdge, ...]:
    from vietnamadminunits.converter.converter_2025 import (
        DICT_PROVINCE,
        DICT_PROVINCE_WARD_DIVIDED,
        DICT_PROVINCE_WARD_NO_DIVIDED,
    )
    from vietnamadminunits.database import get_data

    legacy = _legacy_rows()
    old_province = {ascii_key(r["provinceKey"]): r["provinceCode"] for r in legacy}
    # "province_district_ward" keys of the mapping -> the old commune (or, for the island
    # districts that had no commune, the district).
    old_unit: dict[str, tuple[str, str]] = {}
    for r in legacy:
        key = f"{r['provinceKey']}_{r['districtKey']}_{r['wardKey'] or ''}"
        old_unit[key] = ((r["wardCode"], "commune") if r["wardCode"]
                         else (r["districtCode"], "district"))

    current = [u for u in _current() if u.level == "commune"]
    by_name = {(u.parent_code, name_key(u.name_vi, keep_type=True)): u.unit_code
               for u in current}
    by_code = {u.unit_code: u.unit_code for u in current}
    mapped_new = get_data(["provinceKey", "provinceCode", "wardKey", "ward", "wardCode"],
                          "admin_units")
    new_province = {ascii_key(r["provinceKey"]): r["provinceCode"] for r in mapped_new}
    new_commune: dict[tuple[str, str], str] = {}
    for r in mapped_new:
        code = (by_name.get((r["provinceCode"], name_key(r["ward"], keep_type=True)))
                or by_code.get(r["wardCode"]))
        if code:
            new_commune[(ascii_key(r["provinceKey"]), ascii_key(r["wardKey"]))] = code

    edges: dict[tuple[str, str], CrosswalkEdge] = {}

    def add(old: tuple[str, str], new_code: str, new_level: str, *, divided: bool,
            basis: str) -> None:
        edge = CrosswalkEdge(old_code=old[0], old_level=old[1], new_code=new_code,
                             new_level=new_level, weight=None if divided else 1.0,
                             approximate=divided, basis=basis)
        edges.setdefault((old[0], new_code), edge)

    for new_key, old_keys in DICT_PROVINCE.items():
        for old_key in old_keys:
            add((old_province[ascii_key(old_key)], "province"),
                new_province[ascii_key(new_key)], "province", divided=False,
                basis="whole_province")
    for new_pkey, wards in DICT_PROVINCE_WARD_NO_DIVIDED.items():
        for new_wkey, old_keys in wards.items():
            new_code = new_commune[(ascii_key(new_pkey), ascii_key(new_wkey))]
            for old_key in old_keys:
                old = old_unit[old_key]
                add(old, new_code, "commune", divided=False,
                    basis="special_zone" if old[1] == "district" else "whole_commune")
    for new_pkey, olds in DICT_PROVINCE_WARD_DIVIDED.items():
        for old_key, targets in olds.items():
            for target in targets:
                new_code = new_commune[(ascii_key(new_pkey), ascii_key(target["newWardKey"]))]
                add(old_unit[old_key], new_code, "commune", divided=True,
                    basis="divided_commune")
    # A commune that is split keeps "divided" on every edge, even one listed as whole too.
    split = {e.old_code for e in edges.values() if e.approximate}
    return tuple(CrosswalkEdge(**{**e.__dict__, "weight": None, "approximate": True,
                                  "basis": "divided_commune"})
                 if e.old_code in split and e.old_level == "commune" else e
                 for e in edges.values())


def unit_crosswalk() -> list[CrosswalkEdge]:
    """Old (63-province era) → new (34-province era) units: provinces whole, communes
    whole or split, the island districts without communes to their special zone."""
    return list(_crosswalk())


def package_versions() -> dict[str, str]:
    """The reference packages' versions (recorded with the data they gave)."""
    provinces, admin_units = _versions()
    return {"vietnam-provinces": provinces, "vietnamadminunits": admin_units}


def province_predecessors(code: str) -> list[str]:
    """The 63-province-era provinces that merged (whole) into today's province `code`,
    e.g. 91 (An Giang) <- 89 (An Giang) and 91 (Kiên Giang); an unchanged province is its
    own predecessor (11 <- 11). Empty when `code` is not a province of today."""
    return sorted({e.old_code for e in _crosswalk()
                   if e.basis == "whole_province" and e.new_code == code})


def provinces_on(codes: tuple[str, ...] | list[str], on: dt.date) -> list[str]:
    """Today's provinces `codes` as they were on a date: themselves from the
    reorganisation on, their predecessors before it (what a deployment covering today's
    provinces pulls for a month of history)."""
    if on >= REORGANISATION:
        return list(codes)
    return list(dict.fromkeys(old for code in codes for old in province_predecessors(code)))
