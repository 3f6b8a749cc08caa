"""Legacy gateway services (`jsp/rest.jsp`): report_tinh_766_service and
report_by_month_sum_service, as the real gateway answers them (IDs as strings, a bare
JSON array; paged rows carry ROW_STT and the windowed TOTAL)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.periods import Month
from simulator.errors import ApiError
from simulator.faults import FaultedService, FaultPlan
from simulator.world import NationalPortalWorld

LOAI_COQUAN = {"province": "1", "department": "2", "commune": "3"}
CAPDONVI = {"province": "1", "department": "1", "commune": "2"}


def _int(params: dict[str, Any], name: str, default: int | None = None) -> int:
    value = params.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise ApiError(400, f"parameter {name} must be an integer, got {value!r}") from exc


class LegacyGateway(FaultedService):
    def __init__(self, world: NationalPortalWorld, faults: Callable[[], FaultPlan]) -> None:
        super().__init__(faults)
        self.world = world

    def handle(self, params: dict[str, Any]) -> Any:
        if params.get("type") != "ref":
            raise ApiError(400, "params.type must be 'ref'")
        service = params.get("service")
        if service == "report_tinh_766_service":
            return self.report_766(params)
        if service == "report_by_month_sum_service":
            return self.monthly_sum(params)
        raise ApiError(400, f"unknown service {service!r}")

    def _month(self, params: dict[str, Any]) -> Month:
        year, month = _int(params, "p_nam"), _int(params, "p_thang", 0)
        if month == 0:
            raise ApiError(400, "this simulator serves monthly figures only (p_thang 1..12)")
        return Month(year, month)

    def report_766(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        month = self._month(params)
        tinh_id = str(params.get("p_tinh_id", "0"))
        provinces = self.world.provinces(month)
        if tinh_id in {"0", ""}:
            units = provinces
        else:
            match = [p for p in provinces if self.world.legacy_id(p, month) == tinh_id]
            if not match:
                return []
            units = self.world.children(match[0], month)
        rows = []
        for unit in units:
            scores = self.world.scores(unit, month)
            name = self.world.display_name(unit, month)
            legacy_id = self.world.legacy_id(unit, month)
            rows.append({
                "ID": legacy_id, "TEN": name, "TEN_COQUAN": name,
                "MA_COQUAN": unit.unit_code, "LOAI_COQUAN": LOAI_COQUAN[unit.level],
                "CAPDONVIID": CAPDONVI[unit.level], "ID_COQUAN": legacy_id,
                **{code: scores[code] for code in ("TDGQ", "MDHL", "MDSH", "TTTT", "CLGQ",
                                                   "CKMB")},
                "TONG_SCORE": scores["TONG_SCORE"],
            })
        rows.sort(key=lambda r: (-r["TONG_SCORE"], r["ID"]))
        for rank, row in enumerate(rows, start=1):
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
        month = self._month(params)
        tinh_id = str(params.get("p_tinh_id", ""))
        provinces = [p for p in self.world.provinces(month)
                     if self.world.legacy_id(p, month, "legacy_tinh") == tinh_id]
        if not provinces:
            raise ApiError(400, f"unknown p_tinh_id {tinh_id!r}")
        record = self.world.monthly_counters(provinces[0], month)
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
        if faults.take("unknown_unit"):
            target = records[len(records) // 2]
            if "ID" in target:
                target["ID"] = target["ID_COQUAN"] = "999999999"
