"""The units the simulated portal knows, as the real portal knows them.

Real provinces and communes (the reference packages: their statistical codes and names)
under the portal's own identities, which the pipeline has to learn from the answers:
- agency codes (mã định danh): a province's `H01`…`H63` follow the alphabetical order of
  the 63 provinces, and a merged province keeps the code of the predecessor whose name it
  took, so An Giang (statistical code 91) is `H01`; departments `H01.03`, communes
  `H01.52.07`; a share of them is sent in the long form `000.07.52.H01`;
- legacy gateway IDs (numeric strings) and reporting-API IDs (UUIDs), derived from the
  seed, different per service and per era.
Only the provinces named in `detailed` list their departments (an invented but ordinary
set of sở, ban, ngành) and communes; every province is on the national list.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from domain.names import ascii_key, name_key
from domain.reference_units import REORGANISATION, province_predecessors, reference_units
from domain.units import Unit

DEPARTMENTS = ("Văn phòng UBND", "Sở Nội vụ", "Sở Tư pháp", "Sở Tài chính", "Sở Xây dựng",
               "Sở Công Thương", "Sở Nông nghiệp và Môi trường", "Sở Giáo dục và Đào tạo",
               "Sở Y tế", "Sở Khoa học và Công nghệ", "Sở Văn hóa, Thể thao và Du lịch",
               "Công an")
# An Giang (H01, 102 communes), Điện Biên (45), Cao Bằng (56)
DEFAULT_DETAILED = ("91", "11", "04")


def in_sentence(name: str) -> str:
    """A name as it reads after a title: `Xã Đông Thái` -> `xã Đông Thái`."""
    return name[0].lower() + name[1:]


def titled(name: str) -> str:
    """A unit's body as the portal names it: `UBND xã Đông Thái`."""
    return f"UBND {in_sentence(name)}"


def _number(seed: int, *parts: object) -> int:
    digest = hashlib.sha256(":".join(map(str, (seed, *parts))).encode()).digest()
    return int.from_bytes(digest[:6], "big")


@dataclass(frozen=True)
class PortalUnit:
    unit: Unit
    agency_code: str  # short form
    long_form: bool  # sent as 000.xx.yy.Hnn by the legacy gateway


class PortalUnits:
    def __init__(self, seed: int = 766, detailed: Sequence[str] = DEFAULT_DETAILED) -> None:
        self.seed = seed
        self.detailed = tuple(detailed)
        # before July 2025: the provinces the detailed ones were made of
        self._detailed_before = {old for code in self.detailed
                                 for old in province_predecessors(code)}

    def is_detailed(self, province: Unit) -> bool:
        """Whether a province lists its departments and communes: a detailed province of
        today, or one of the 63 that merged into one."""
        if province.valid_from >= REORGANISATION:
            return province.unit_code in self.detailed
        return province.unit_code in self._detailed_before

    @cached_property
    def _units(self) -> list[Unit]:
        return reference_units()

    @cached_property
    def _province_h(self) -> dict[tuple[str, dt.date], str]:
        legacy = sorted((u for u in self._units if u.level == "province" and u.valid_to),
                        key=lambda u: ascii_key(name_key(u.name_vi)))
        h_of_old = {u.unit_code: f"H{i:02d}" for i, u in enumerate(legacy, start=1)}
        by_name = {name_key(u.name_vi): h_of_old[u.unit_code] for u in legacy}
        codes = {(u.unit_code, u.valid_from): h_of_old[u.unit_code] for u in legacy}
        for u in self._units:
            if u.level == "province" and u.valid_to is None:
                codes[(u.unit_code, u.valid_from)] = (by_name.get(name_key(u.name_vi))
                                                      or h_of_old[u.unit_code])
        return codes

    def _valid(self, on: dt.date) -> list[Unit]:
        return [u for u in self._units if u.valid_on(on)]

    def provinces(self, on: dt.date) -> list[PortalUnit]:
        return [PortalUnit(u, self._province_h[(u.unit_code, u.valid_from)], False)
                for u in self._valid(on) if u.level == "province"]

    def children(self, province: PortalUnit, on: dt.date) -> list[PortalUnit]:
        """Departments, then communes (before July 2025: the communes of its districts)."""
        if not self.is_detailed(province.unit):
            return []
        h = province.agency_code
        valid = self._valid(on)
        kind = "thành phố" if province.unit.name_vi.startswith("Thành phố") else "tỉnh"
        place = province.unit.name_vi.split(" ", 1)[1] if kind == "tỉnh" else \
            province.unit.name_vi.split(" ", 2)[2]
        out = [PortalUnit(Unit(unit_code=f"{h}.{i:02d}",
                               name_vi=f"{name} {kind} {place}",
                               level="department", parent_code=province.unit.unit_code,
                               stat_code=None, valid_from=province.unit.valid_from,
                               valid_to=province.unit.valid_to, agency_code=f"{h}.{i:02d}",
                               origin="simulator"), f"{h}.{i:02d}", i % 4 == 0)
               for i, name in enumerate(DEPARTMENTS, start=1)]
        parents = {province.unit.unit_code} | {
            u.unit_code for u in valid
            if u.level == "district" and u.parent_code == province.unit.unit_code}
        communes = sorted((u for u in valid if u.level == "commune" and u.parent_code in parents),
                          key=lambda u: u.unit_code)
        for i, commune in enumerate(communes):
            group, number = 50 + i // 99, i % 99 + 1
            out.append(PortalUnit(commune, f"{h}.{group:02d}.{number:02d}", i % 5 == 0))
        return out

    def detailed_units(self, on: dt.date) -> list[Unit]:
        """The detailed provinces and everything their lists hold, valid on a date (what
        their one-stop systems serve), with the districts between them before July 2025."""
        units = []
        for province in self.provinces(on):
            if self.is_detailed(province.unit):
                code = province.unit.unit_code
                units += [province.unit, *(c.unit for c in self.children(province, on))]
                units += [u for u in self._valid(on)
                          if u.level == "district" and u.parent_code == code]
        return units

    def sent_code(self, portal_unit: PortalUnit) -> str:
        """The agency code as the legacy gateway sends it (short or long form)."""
        if not portal_unit.long_form:
            return portal_unit.agency_code
        h, *levels = portal_unit.agency_code.split(".")
        padded = [f"{int(p):02d}" for p in levels] + ["00"] * (2 - len(levels))
        return f"000.{padded[1]}.{padded[0]}.{h}" if len(levels) <= 2 else \
            portal_unit.agency_code

    def legacy_id(self, portal_unit: PortalUnit) -> str:
        """The gateway's numeric ID (a new one after the reorganisation)."""
        era = "new" if portal_unit.unit.valid_from >= REORGANISATION else "old"
        return str(100000 + _number(self.seed, "legacy", portal_unit.agency_code, era)
                   % 8_900_000)

    def reporting_id(self, portal_unit: PortalUnit) -> str:
        digest = hashlib.sha256(f"{self.seed}:reporting:{portal_unit.agency_code}".encode())
        return str(uuid.UUID(bytes=digest.digest()[:16], version=4))
