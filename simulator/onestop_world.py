"""The simulated provincial one-stop system (một cửa điện tử): dossiers, deterministically.

Each (unit, month of intake) gets a batch of dossiers generated with numpy from a seed, so
any month can be regenerated on any machine. Dossiers carry what a real export carries,
citizen name, ID number, phone and address included (the pipeline must drop them), and
behave realistically: most resolved early or on time, some late, some still open across
month ends, some paused, returned or withdrawn; requests for additional documents; intake
in person, online or by public postal service; postal returns; digitised inputs and
results; online payment of fee-bearing procedures.

Volume is `dossiers_per_unit` (mean per unit and month): ~1,400 gives a realistic province
(~40,000 a month); the demo uses a few dozen.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from domain.periods import VN_TZ, Month
from domain.reference_units import REORGANISATION, provinces_on, unit_crosswalk
from domain.units import Unit, UnitRegistry, province_in

LOOKBACK_MONTHS = 4  # dossiers stay open at most this long in the simulated world
LATE_SHARE = 0.02  # of a month's dossiers, entered after the month after it began

FAMILY = np.array(["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ",
                   "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương", "Lý"])
MIDDLE = np.array(["Văn", "Thị", "Hữu", "Đức", "Minh", "Ngọc", "Thanh", "Quốc", "Thu", "Gia"])
GIVEN = np.array(["An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng",
                  "Hương", "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Nga", "Phúc",
                  "Quang", "Sơn", "Tâm", "Thảo", "Trang", "Tuấn", "Vy", "Yến"])
STREETS = np.array(["Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Hai Bà Trưng", "Quang Trung",
                    "Lý Thường Kiệt", "Điện Biên Phủ", "Hùng Vương"])


@dataclass(frozen=True)
class Procedure:
    code: str
    name_vi: str
    field_vi: str
    level: str
    processing_days: int
    fee_bearing: bool
    full_online: bool


def load_procedures(path: Path) -> list[Procedure]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [Procedure(code=r["procedure_code"], name_vi=r["name_vi"], field_vi=r["field_vi"],
                          level=r["level"], processing_days=int(r["processing_days"]),
                          fee_bearing=r["fee_bearing"] == "true",
                          full_online=r["full_online"] == "true")
                for r in csv.DictReader(handle)]


# What a one-stop system holds per dossier (personal data included), as the export serves it.
RECEIVED_SCHEMA = pa.schema([
    ("dossier_id", pa.string()), ("agency_id", pa.string()), ("agency_code", pa.string()),
    ("procedure_code", pa.string()), ("intake_channel", pa.int8()),
    ("received_at", pa.timestamp("us", tz="UTC")), ("promised_date", pa.date32()),
    *((name, pa.timestamp("us", tz="UTC")) for name in (
        "finished_at", "returned_at", "withdrawn_at", "paused_at", "result_returned_at")),
    ("result_channel", pa.int8()), ("additional_requests", pa.int16()),
    ("supplement_days", pa.int16()),
    *((name, pa.bool_()) for name in ("inputs_digitised", "result_digitised", "e_result",
                                      "fee_bearing", "paid_online", "synced_to_portal")),
    *((name, pa.string()) for name in ("applicant_name", "applicant_id_number",
                                       "applicant_phone", "applicant_address")),
])


def online_trend(month: Month) -> float:
    """The share of dossiers received online: 45% in January 2025, one point more a month
    since, half a point less a month before (about 9% in January 2019), at most 90%."""
    months = month.index() - Month(2025, 1).index()
    return min(0.9, 0.45 + (0.01 if months >= 0 else 0.005) * months)


@cache
def _edges() -> dict[str, tuple]:
    """The reference crosswalk by old unit code."""
    edges: dict[str, list] = {}
    for edge in unit_crosswalk():
        edges.setdefault(edge.old_code, []).append(edge)
    return {code: tuple(found) for code, found in edges.items()}


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256(":".join(map(str, parts)).encode()).digest()[:8],
                          "big")


def _ts(base: np.ndarray, offsets_s: np.ndarray, mask: np.ndarray) -> pa.Array:
    """UTC microsecond timestamps base+offset where mask, else null."""
    values = (base + offsets_s * 1_000_000).astype("int64")
    return pa.array(values, pa.int64(), mask=~mask).cast(pa.timestamp("us", tz="UTC"))


class OneStopWorld:
    def __init__(self, registry: UnitRegistry, procedures: list[Procedure], seed: int = 766,
                 dossiers_per_unit: float = 40.0,
                 lookback_months: int = LOOKBACK_MONTHS,
                 latest_complete: Callable[[], Month] | None = None) -> None:
        # With a clock (`latest_complete`: the last month that has ended, as the portal
        # world tells it), a month is revised as real systems revise it: a share of its
        # dossiers are entered late, and an export of the month asked while it is the latest
        # complete one lacks them; asked later, it has them.
        self.latest_complete = latest_complete
        self.registry = registry
        self.lookback_months = lookback_months
        self.procedures = procedures
        self.seed = seed
        self.dossiers_per_unit = dossiers_per_unit

    # -- units -------------------------------------------------------------------------
    def units_of(self, province_code: str, month: Month) -> list[Unit]:
        """The agencies of a province's one-stop system in a month: the province's own
        office, its departments and its communes; before July 2025, those of the provinces
        it was made of (a merged province's system holds their history)."""
        on = month.first_day
        valid = self.registry.valid(on)
        provinces = set(provinces_on([province_code], on))
        agencies = set(self.registry.mapping("onestop_agency", on).values())
        return sorted((u for code, u in valid.items()
                       if code in agencies and province_in(valid, code) in provinces),
                      key=lambda u: (u.level != "province", u.unit_code))

    def successor(self, unit: Unit, province_code: str, month: Month) -> Unit | None:
        """The unit of `month` (from July 2025) that took over an older unit's open
        dossiers: a commune's first new commune with an agency (a split one's share cannot
        be told: the first), a province's merged province, a department the same department
        of the merged province; None when the system has no such agency."""
        on = month.first_day
        current = {u.unit_code: u for u in self.units_of(province_code, month)}
        if unit.level == "department":
            province = self.registry.valid(REORGANISATION - dt.timedelta(days=1)).get(
                unit.parent_code or "")
            parent = province and self.successor(province, province_code, month)
            suffix = unit.unit_code.rsplit(".", 1)[-1]
            return next((u for u in current.values() if u.level == "department"
                         and u.parent_code == (parent.unit_code if parent else None)
                         and u.unit_code.endswith(f".{suffix}")), None)
        targets = sorted(e.new_code for e in _edges().get(unit.unit_code, ())
                         if e.old_level == unit.level)
        return next((current[code] for code in targets if code in current
                     and current[code].valid_on(on)), None)

    def _handed_over(self, received: pa.Table, unit: Unit, province_code: str,
                     month: Month) -> pa.Table:
        """Dossiers an older unit received, as the system lists them once the units it
        was merged into took them over (1 July 2025): under the new unit's agency."""
        new = self.successor(unit, province_code, month)
        if new is None or not received.num_rows:
            return received
        n = received.num_rows
        for column, value in (("agency_id", self.agency_id(new, month)),
                              ("agency_code", new.unit_code)):
            received = received.set_column(received.schema.get_field_index(column), column,
                                           pa.array([value] * n, pa.string()))
        return received

    def preliminary(self, month: Month) -> bool:
        """Whether an export of `month` asked now is its first, preliminary version."""
        return self.latest_complete is not None and self.latest_complete() <= month

    def entered_late(self, received: pa.Table, unit: Unit, month: Month) -> pa.Array:
        """Which of the dossiers a unit received in a month were entered into the system
        only after the month after it had begun (~2%): missing from a preliminary export."""
        rng = np.random.default_rng(_seed(self.seed, "late", unit.unit_code, month))
        return pa.array(rng.random(received.num_rows) < LATE_SHARE)

    def agency_id(self, unit: Unit, month: Month) -> str:
        return self.registry.source_id("onestop_agency", unit.unit_code, month.first_day)

    # -- generation ----------------------------------------------------------------------
    def received(self, unit: Unit, month: Month) -> pa.Table:
        """Every dossier the unit received in `month`, with personal data, as the source
        holds it (timestamps UTC, dates local)."""
        rng = np.random.default_rng(_seed(self.seed, "onestop", unit.unit_code, month))
        scale = {"province": 0.3, "department": 0.8, "commune": 1.0}.get(unit.level, 1.0)
        size_factor = 0.5 + rng.random()
        n = int(rng.poisson(self.dossiers_per_unit * scale * size_factor))
        if n == 0:  # a quiet unit-month: nothing received (the export simply lacks it)
            return RECEIVED_SCHEMA.empty_table()
        procs = [p for p in self.procedures
                 if (p.level == "commune") == (unit.level == "commune")] or self.procedures
        proc_idx = rng.integers(0, len(procs), n)
        days_in_month = (month.next().first_day - month.first_day).days
        start_utc = int(dt.datetime.combine(month.first_day, dt.time(), VN_TZ)
                        .timestamp() * 1_000_000)
        online_share = online_trend(month)
        channel = rng.choice([1, 2, 3], n, p=[0.97 - online_share, online_share, 0.03])
        # intake, as seconds from the month's first local midnight: online dossiers arrive
        # at any hour (some just before or after midnight at a month's turn), the others in
        # office hours
        day = rng.integers(0, days_in_month, n)
        seconds = day * 86400 + np.where(channel == 2, rng.integers(0, 86400, n),
                                         rng.integers(7 * 3600, 17 * 3600, n))
        received_us = start_utc + seconds * 1_000_000
        proc_days = np.array([procs[i].processing_days for i in proc_idx])
        fee = np.array([procs[i].fee_bearing for i in proc_idx], dtype=bool)
        has_promise = rng.random(n) > 0.03
        # local date of intake, then promised date = intake date + processing days
        local_day0 = np.datetime64(month.first_day.isoformat(), "D")
        intake_date = local_day0 + day.astype("timedelta64[D]")
        promised = intake_date + proc_days.astype("timedelta64[D]")

        outcome = rng.random(n)
        returned = outcome < 0.02
        withdrawn = (outcome >= 0.02) & (outcome < 0.03)
        paused = (outcome >= 0.03) & (outcome < 0.045)
        finishes = outcome >= 0.045
        requests = np.where(rng.random(n) < 0.10, 1, 0) + np.where(rng.random(n) < 0.02, 1, 0)
        supplement = np.where(requests > 0, rng.integers(1, 6, n), 0)
        late = rng.random(n) < 0.04
        # processing time in days: early or on the due day, or 1-10 days late
        due_days = proc_days + supplement
        early_days = np.floor(rng.random(n) * (due_days + 1)).astype(int)
        duration_days = np.where(late, due_days + rng.integers(1, 11, n), early_days)
        # processing ends in office hours, or (5%) late at night: 23:00 to 01:00, which
        # moves some ends across midnight, and across a month's end
        finish_time = np.where(rng.random(n) < 0.05, rng.integers(23 * 3600, 25 * 3600, n),
                               rng.integers(8 * 3600, 17 * 3600, n))
        finish_seconds = (day + duration_days) * 86400 + finish_time
        finish_seconds = np.maximum(finish_seconds, seconds + 600)  # after intake
        event_seconds = seconds + rng.integers(1, 5, n) * 86400

        result_delay = rng.integers(0, 3, n) * 86400 + 3600
        result_channel = np.where(channel == 3, 3,
                                  rng.choice([1, 2, 3], n, p=[0.62, 0.30, 0.08]))
        base = np.full(n, start_utc, dtype="int64")
        ids = pc.binary_join_element_wise(
            pa.array(np.full(n, unit.unit_code)),
            pa.array(np.char.mod("%s", np.full(n, month.year * 100 + month.month))),
            pa.array(np.char.zfill(np.arange(1, n + 1).astype(str), 6)), "-")
        name = pc.binary_join_element_wise(
            pa.array(FAMILY[rng.integers(0, len(FAMILY), n)]),
            pa.array(MIDDLE[rng.integers(0, len(MIDDLE), n)]),
            pa.array(GIVEN[rng.integers(0, len(GIVEN), n)]), " ")
        id_number = pa.array(np.char.zfill(rng.integers(0, 10**12, n).astype(str), 12))
        phone = pc.binary_join_element_wise(
            pa.array(np.full(n, "09")), pa.array(np.char.zfill(
                rng.integers(0, 10**8, n).astype(str), 8)), "")
        address = pc.binary_join_element_wise(
            pa.array(rng.integers(1, 400, n).astype(str)),
            pa.array(STREETS[rng.integers(0, len(STREETS), n)]),
            pa.array(np.full(n, unit.name_vi)), ", ")
        return pa.table({
            "dossier_id": ids,
            "agency_id": pa.array(np.full(n, self.agency_id(unit, month))),
            "agency_code": pa.array(np.full(n, unit.unit_code)),
            "procedure_code": pa.array([procs[i].code for i in proc_idx], pa.string()),
            "intake_channel": pa.array(channel, pa.int8()),
            "received_at": pa.array(received_us, pa.int64()).cast(
                pa.timestamp("us", tz="UTC")),
            "promised_date": pa.array(promised, mask=~has_promise).cast(pa.date32()),
            "finished_at": _ts(base, finish_seconds, finishes),
            "returned_at": _ts(base, event_seconds, returned),
            "withdrawn_at": _ts(base, event_seconds, withdrawn),
            "paused_at": _ts(base, event_seconds, paused),
            "result_returned_at": _ts(base, finish_seconds + result_delay, finishes),
            "result_channel": pa.array(result_channel, pa.int8(), mask=~finishes),
            "additional_requests": pa.array(requests, pa.int16()),
            "supplement_days": pa.array(supplement, pa.int16()),
            "inputs_digitised": pa.array(rng.random(n) < 0.85),
            "result_digitised": pa.array((rng.random(n) < 0.8) & finishes),
            "e_result": pa.array((rng.random(n) < 0.7) & finishes),
            "fee_bearing": pa.array(fee),
            "paid_online": pa.array(fee & (rng.random(n) < 0.55)),
            "synced_to_portal": pa.array(rng.random(n) < 0.97),
            "applicant_name": name,
            "applicant_id_number": id_number,
            "applicant_phone": phone,
            "applicant_address": address,
        }).cast(RECEIVED_SCHEMA)

    def export(self, province_code: str, month: Month) -> pa.Table:
        """Dossiers with any activity in `month` (received in it, open at its start, or a
        result returned in it), sorted by dossier ID — what the export endpoint pages."""
        start = dt.datetime.combine(month.first_day, dt.time(), VN_TZ).astimezone(dt.UTC)
        end = dt.datetime.combine(month.next().first_day, dt.time(), VN_TZ).astimezone(dt.UTC)
        tables = []
        intake = month
        for _ in range(self.lookback_months):
            for unit in self.units_of(province_code, intake):  # the units of that time
                received = self.received(unit, intake)
                if intake == month and self.preliminary(month):
                    received = received.filter(pc.invert(self.entered_late(received, unit,
                                                                           intake)))
                if intake.first_day < REORGANISATION <= month.first_day:
                    received = self._handed_over(received, unit, province_code, month)
                tables.append(received)
            intake = intake.previous()
        table = pa.concat_tables(tables)
        def us(column: str) -> pa.ChunkedArray:
            return table[column].cast(pa.int64())

        start_us, end_us = int(start.timestamp() * 1e6), int(end.timestamp() * 1e6)
        terminal = pc.min_element_wise(us("finished_at"), us("returned_at"), us("withdrawn_at"))
        active = pc.and_(pc.less(us("received_at"), end_us),
                         pc.or_kleene(pc.is_null(terminal),
                                      pc.greater_equal(terminal, start_us)))
        result_in_month = pc.and_(pc.greater_equal(us("result_returned_at"), start_us),
                                  pc.less(us("result_returned_at"), end_us))
        keep = pc.fill_null(pc.or_kleene(active, result_in_month), False)
        return table.filter(keep).sort_by("dossier_id")
