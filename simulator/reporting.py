"""Reporting API (2026 on): `service-results` and the `dossier-digitized` metrics group,
answered in the `{"code": "OK", "data": {...}}` envelope with `pagination`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.periods import Month
from domain.units import Unit
from simulator.errors import ApiError
from simulator.faults import FaultedService, FaultPlan
from simulator.world import COMPONENT_MAXIMA, NationalPortalWorld

CHILD_GROUP = {"department": "AGENCY", "commune": "COMMUNE"}
RADAR = [("CKMB", "Công khai, minh bạch", ("CKMB",)),
         ("TDGQ", "Tiến độ, kết quả giải quyết", ("TDGQ",)),
         ("ONLINE_SERVICE", "Dịch vụ trực tuyến", ("CLGQ", "TTTT")),
         ("MDHL", "Mức độ hài lòng", ("MDHL",)),
         ("MDSH", "Mức độ số hóa hồ sơ", ("MDSH",))]


class ReportingApi(FaultedService):
    def __init__(self, world: NationalPortalWorld, faults: Callable[[], FaultPlan]) -> None:
        super().__init__(faults)
        self.world = world

    def handle(self, group: str, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("timeType") != "month":
            raise ApiError(400, "this simulator serves timeType 'month' only")
        try:
            month = Month(int(body["year"]), int(body["month"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(400, f"year and month are required: {exc}") from exc
        root, units = self._units(body, month)
        if group == "service-results":
            items = [self._score_item(u, month) for u in units]
            data = self._overview(root, month)
        elif group == "dossier-digitized":
            items = [self._metrics_item(u, month) for u in units]
            data = {"overview": self._overview(root, month)["overview"]}
        else:
            raise ApiError(404, f"unknown evaluation group {group!r}")
        page, size = int(body.get("currentPage", 1)), int(body.get("pageSize", 200))
        if page > 1 and self.faults.take("repeat_page"):
            page = 1
        window = items[(page - 1) * size: page * size]
        self._apply_data_faults(window)
        data["evaluation"] = window
        data["pagination"] = {"currentPage": page, "pageSize": size, "totalItems": len(items)}
        return {"code": "OK", "data": data, "message": "OK"}

    def _units(self, body: dict[str, Any], month: Month) -> tuple[Unit | None, list[Unit]]:
        provinces = self.world.provinces(month)
        root_id = body.get("rootDepartmentId")
        if not root_id:
            if body.get("departmentType") != "ADMINISTRATIVE_UNIT":
                raise ApiError(400, "rootDepartmentId or departmentType is required")
            return None, provinces
        for province in provinces:
            if self.world.reporting_id(province, month) == root_id:
                return province, self.world.children(province, month)
        raise ApiError(404, f"unknown rootDepartmentId {root_id}")

    def _overview(self, root: Unit | None, month: Month) -> dict[str, Any]:
        if root is None:
            return {"overview": {"departmentName": "Cả nước", "departmentCode": None,
                                 "totalScore": None, "totalMaxScore": 100, "ratio": None}}
        scores = self.world.scores(root, month)
        radar = []
        for code, name, parts in RADAR:
            score = round(sum(scores[p] for p in parts), 2)
            max_score = sum(COMPONENT_MAXIMA[p] for p in parts)
            radar.append({"code": code, "name": name, "score": score, "maxScore": max_score,
                          "ratio": round(100 * score / max_score, 1)})
        return {"overview": {"departmentName": root.name_vi, "departmentCode": root.unit_code,
                             "totalScore": scores["TONG_SCORE"], "totalMaxScore": 100,
                             "ratio": scores["TONG_SCORE"]},
                "radar": radar}

    def _identity(self, unit: Unit, month: Month) -> dict[str, Any]:
        return {"departmentId": self.world.reporting_id(unit, month),
                "departmentName": self.world.display_name(unit, month),
                "departmentCode": unit.unit_code}

    def _score_item(self, unit: Unit, month: Month) -> dict[str, Any]:
        scores = self.world.scores(unit, month)
        previous = self.world.scores(unit, month.previous())
        item = {**self._identity(unit, month), "totalScore": scores["TONG_SCORE"],
                "ratio": scores["TONG_SCORE"],
                "scoreDelta": round(scores["TONG_SCORE"] - previous["TONG_SCORE"], 2),
                "groupScores": {code: scores[code] for code in COMPONENT_MAXIMA}}
        if unit.level in CHILD_GROUP:
            item["childGroup"] = CHILD_GROUP[unit.level]
        return item

    def _metrics_item(self, unit: Unit, month: Month) -> dict[str, Any]:
        return {**self._identity(unit, month),
                "metrics": self.world.digitisation_metrics(unit, month)}

    def _apply_data_faults(self, items: list[dict[str, Any]]) -> None:
        if not items:
            return
        faults = self.faults
        if faults.take("missing_field"):
            groups = items[-1].get("groupScores")
            if isinstance(groups, dict):
                groups.pop("TDGQ", None)
        if faults.take("bad_values") and isinstance(items[0].get("groupScores"), dict):
            items[0]["groupScores"]["CKMB"] = 25.0
        if faults.take("unknown_unit"):
            items[len(items) // 2]["departmentId"] = "00000000-0000-0000-0000-000000000000"
