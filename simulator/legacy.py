"""Legacy gateway services (`jsp/rest.jsp`): report_tinh_766_service (periods before the
reporting API's first month only: later ones answer 410 Gone) and
report_by_month_sum_service (every month: it has no successor), as the real gateway answers
them: IDs and level codes as
strings, a share of the numbers as strings, some agency codes in the long form
(`000.00.00.H01`), names with the body's title (`UBND xã Đông Thái - tỉnh An Giang`),
some of them NFD; a bare JSON array whose paged rows carry ROW_STT and the windowed
TOTAL. Periods: `p_thang` a month, `p_quy` a quarter, `p_6thang` a half, all 0 the year
so far, through the last month scored)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.periods import Month, Period
from simulator.errors import ApiError
from simulator.faults import FaultedService, FaultPlan
from simulator.portal_units import PortalUnit, in_sentence, titled
from simulator.world import COMPONENT_MAXIMA, NationalPortalWorld

LOAI_COQUAN = {"province": "1", "department": "2", "commune": "3"}
CAPDONVI = {"province": "1", "department": "1", "commune": "2"}


def _int(params: dict[str, Any], name: str, default: int | None = None) -> int:
    value = params.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, f"parameter {name} must be an integer, got {value!r}") from exc


def legacy_name(unit: PortalUnit, province: PortalUnit | None) -> str:
    """`TEN` as the gateway writes it: the body's title, and the province for a commune."""
    name = unit.unit.name_vi
    if unit.unit.level == "province":
        return titled(name)
    if unit.unit.level == "commune" and province is not None:
        return f"{titled(name)} - {in_sentence(province.unit.name_vi)}"
    return name


class LegacyGateway(FaultedService):
    def __init__(self, world: NationalPortalWorld, faults: Callable[[], FaultPlan]) -> None:
        super().__init__(faults)
        self.world = world
        self._with_unknown: set[tuple[str, str]] = set()  # lists given an unknown unit

    def handle(self, params: dict[str, Any]) -> Any:
        if params.get("type") != "ref":
            raise ApiError(400, "params.type must be 'ref'")
        service = params.get("service")
        if service == "report_tinh_766_service":
            return self.report_766(params)
        if service == "report_by_month_sum_service":
            return self.monthly_sum(params)
        raise ApiError(400, f"unknown service {service!r}")

    def _period(self, params: dict[str, Any]) -> Period:
        year = _int(params, "p_nam")
        month, quarter = _int(params, "p_thang", 0), _int(params, "p_quy", 0)
        half = _int(params, "p_6thang", 0)
        if sum(bool(x) for x in (month, quarter, half)) > 1:
            raise ApiError(400, "give one of p_thang, p_quy, p_6thang (the others 0)")
        try:
            if month:
                return Period("month", year, month)
            if quarter:
                return Period("quarter", year, quarter)
            if half:
                return Period("half", year, half)
            through = self.world.scored_through(year)  # the year so far
            if through is None:
                raise ApiError(400, f"nothing scored yet in {year}")
            return (Period("year", year, 0) if through == 12
                    else Period("year_to_date", year, through))
        except ValueError as exc:
            raise ApiError(400, str(exc)) from exc

    def report_766(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        period = self._period(params)
        if period.last_month >= self.world.reporting_from:
            # retired with the reporting API; the monthly counters have no successor and
            # are still served
            raise ApiError(410, f"report_tinh_766_service serves periods before "
                                f"{self.world.reporting_from}; {period} is on the reporting "
                                "API (/api/v1/reporting/evaluation)")
        tinh_id = str(params.get("p_tinh_id", "0"))
        provinces = self.world.provinces(period)
        portal = self.world.portal
        if tinh_id in {"0", ""}:
            units, parent = provinces, None
        else:
            match = [p for p in provinces if portal.legacy_id(p) == tinh_id]
            if not match:
                return []
            units, parent = self.world.children(match[0], period), match[0]
        rows = []
        for unit in units:
            scores = self.world.period_scores(unit.unit, period)
            name = self.world.display_name(unit.unit, period, legacy_name(unit, parent))
            legacy_id = portal.legacy_id(unit)
            row: dict[str, Any] = {
                "ID": legacy_id, "TEN": name, "TEN_COQUAN": name,
                "MA_COQUAN": portal.sent_code(unit),
                "LOAI_COQUAN": LOAI_COQUAN[unit.unit.level],
                "CAPDONVIID": CAPDONVI[unit.unit.level], "ID_COQUAN": legacy_id,
                **{code: scores[code] for code in COMPONENT_MAXIMA},
                "TONG_SCORE": scores["TONG_SCORE"],
            }
            for field in (*COMPONENT_MAXIMA, "TONG_SCORE"):
                if self.world.as_text(unit.unit, period, field):
                    row[field] = f"{row[field]:.2f}"
            rows.append(row)
        if parent is not None and rows and self.faults.take("renamed_unit"):
            # A commune listed under a name it no longer has (and no code we know yet).
            renamed = rows[-1]
            renamed["TEN"] = renamed["TEN_COQUAN"] = "UBND xã Tên Cũ"
            renamed["MA_COQUAN"] = f"{parent.agency_code}.98.01"
        listing = (str(period), tinh_id)  # once listed, on every page of that list
        if rows and (listing in self._with_unknown or self.faults.take("unknown_unit")):
            self._with_unknown.add(listing)  # a unit no reference list knows
            rows.append({**rows[len(rows) // 2], "ID": "999999999", "ID_COQUAN": "999999999",
                         "TEN": "UBND xã Không Có Thật", "TEN_COQUAN": "UBND xã Không Có Thật",
                         "MA_COQUAN": "H99.99.99"})
        # Ranked within each level of the list, as the portal's tabs show them.
        rows.sort(key=lambda r: (r["LOAI_COQUAN"], -float(r["TONG_SCORE"]), r["ID"]))
        rank, level = 0, None
        for row in rows:
            rank = rank + 1 if row["LOAI_COQUAN"] == level else 1
            level = row["LOAI_COQUAN"]
            row["ROW_STT"] = str(rank)
            row["TOTAL"] = str(len(rows))
        page_index = _int(params, "pageIndex", 1)
        page_size = _int(params, "pageSize", 1000)
        if page_size <= 0 or page_index <= 0:
            raise ApiError(400, "pageIndex and pageSize must be positive")
        if page_index > 1 and self.faults.take("repeat_page"):
            page_index = 1
        page = [dict(r) for r in rows[(page_index - 1) * page_size: page_index * page_size]]
        self._apply_data_faults(page, "TDGQ")
        return page

    def monthly_sum(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        period = self._period(params)
        if period.period_type != "month":
            raise ApiError(400, "report_by_month_sum_service serves months (p_thang 1..12)")
        month = Month(period.year, period.number)
        tinh_id = str(params.get("p_tinh_id", ""))
        provinces = [p for p in self.world.provinces(month)
                     if self.world.monthly_sum_id(p, month) == tinh_id]
        if not provinces:
            raise ApiError(400, f"unknown p_tinh_id {tinh_id!r}")
        record = self.world.monthly_counters(provinces[0].unit, month)
        # Real answers mix types: this service sends some counts as strings.
        for key in ("HS_TOTAL", "DB_TOTAL"):
            record[key] = str(record[key])
        records = [record]
        self._apply_data_faults(records, "HS_TOTAL")
        return records

    def _apply_data_faults(self, records: list[dict[str, Any]], drop_field: str) -> None:
        if not records:
            return
        faults = self.faults
        if faults.take("missing_field"):
            records[-1].pop(drop_field, None)
        if faults.take("bad_values"):
            target = records[0]
            if "CKMB" in target:
                target["CKMB"] = 25.0  # above the max of 18; TONG_SCORE no longer the sum
            else:
                target["HTN_BUUCHINH_TOTAL"] = -5
                target["TILE"] = 180.0
