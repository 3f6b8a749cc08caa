"""Reporting API (2026 on): `service-results` and the `dossier-digitized` metrics group,
answered in the `{"code": "OK", "data": {...}}` envelope with `pagination`.

Periods as the real API serves them: `timeType` `month` (with `month`), `quarter` (with
`quarter`) or `year`, which is the year so far: through the last month scored
(`world.published_through`), as `monthlyChart` shows (months not yet scored are null).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from domain.periods import Period
from simulator.errors import ApiError
from simulator.faults import FaultedService, FaultPlan
from simulator.portal_units import PortalUnit, titled
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
        self._with_unknown: set[tuple[str, str, str]] = set()  # lists given an unknown unit

    def _period(self, body: dict[str, Any]) -> Period:
        time_type = body.get("timeType")
        try:
            year = int(body["year"])
            if time_type == "month":
                return Period("month", year, int(body["month"]))
            if time_type == "quarter":
                return Period("quarter", year, int(body["quarter"]))
            if time_type == "year":
                through = self.world.scored_through(year)
                if through is None:
                    raise ApiError(400, f"nothing scored yet in {year}")
                return (Period("year", year, 0) if through == 12
                        else Period("year_to_date", year, through))
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(400, f"bad period in request: {exc}") from exc
        raise ApiError(400, "timeType must be month, quarter or year")

    def handle(self, group: str, body: dict[str, Any]) -> dict[str, Any]:
        period = self._period(body)
        if self.faults.take("stale_period") and period.period_type == "year_to_date" \
                and period.number > 1:
            period = Period("year_to_date", period.year, period.number - 1)
        root, units = self._units(body, period)
        scored = self.world.is_scored(period)
        if group == "service-results":
            items = [self._score_item(u, period, scored) for u in units]
            data = self._overview(root, period)
            data["monthlyChart"] = self._monthly_chart(period)
        elif group == "dossier-digitized":
            items = [self._metrics_item(u, period) for u in units]
            data = {"overview": self._overview(root, period)["overview"]}
        else:
            raise ApiError(404, f"unknown evaluation group {group!r}")
        listing = (group, str(period), str(body.get("rootDepartmentId")))
        if items and (listing in self._with_unknown or self.faults.take("unknown_unit")):
            self._with_unknown.add(listing)  # a unit no reference list knows, on every page
            items.append({**items[len(items) // 2],
                          "departmentId": "00000000-0000-0000-0000-000000000000",
                          "departmentName": "UBND xã Không Có Thật",
                          "departmentCode": "H99.99.99"})
        page, size = int(body.get("currentPage", 1)), int(body.get("pageSize", 200))
        if page > 1 and self.faults.take("repeat_page"):
            page = 1
        window = items[(page - 1) * size: page * size]
        self._apply_data_faults(window)
        data["evaluation"] = window
        data["pagination"] = {"currentPage": page, "pageSize": size, "totalItems": len(items)}
        return {"code": "OK", "data": data, "message": "OK"}

    def _monthly_chart(self, period: Period) -> list[dict[str, Any]]:
        """Average score by month of the year; null where not scored (or after the period)."""
        provinces = self.world.provinces(period)
        chart = []
        for month in Period("year", period.year, 0).months:
            scored = self.world.is_scored(Period.of_month(month)) and month <= period.last_month
            average = (round(sum(self.world.scores(p.unit, month)["TONG_SCORE"]
                                 for p in provinces) / len(provinces), 2) if scored else None)
            chart.append({"month": f"{month.month:02d}", "averageScore": average})
        return chart

    def _units(self, body: dict[str, Any],
               period: Period) -> tuple[PortalUnit | None, list[PortalUnit]]:
        provinces = self.world.provinces(period)
        root_id = body.get("rootDepartmentId")
        if not root_id:
            if body.get("departmentType") != "ADMINISTRATIVE_UNIT":
                raise ApiError(400, "rootDepartmentId or departmentType is required")
            return None, provinces
        for province in provinces:
            if self.world.portal.reporting_id(province) == root_id:
                return province, self.world.children(province, period)
        raise ApiError(404, f"unknown rootDepartmentId {root_id}")

    def _overview(self, root: PortalUnit | None, period: Period) -> dict[str, Any]:
        if root is None:
            return {"overview": {"departmentName": "Cả nước", "departmentCode": None,
                                 "totalScore": None, "totalMaxScore": 100, "ratio": None}}
        scores = self.world.period_scores(root.unit, period)
        radar = []
        for code, name, parts in RADAR:
            score = round(sum(scores[p] for p in parts), 2)
            max_score = sum(COMPONENT_MAXIMA[p] for p in parts)
            radar.append({"code": code, "name": name, "score": score, "maxScore": max_score,
                          "ratio": round(100 * score / max_score, 1)})
        return {"overview": {"departmentName": root.unit.name_vi,
                             "departmentCode": root.agency_code,
                             "totalScore": scores["TONG_SCORE"], "totalMaxScore": 100,
                             "ratio": scores["TONG_SCORE"]},
                "radar": radar}

    def _identity(self, unit: PortalUnit, period: Period) -> dict[str, Any]:
        name = unit.unit.name_vi
        if unit.unit.level != "department":
            name = titled(name)
        return {"departmentId": self.world.portal.reporting_id(unit),
                "departmentName": self.world.display_name(unit.unit, period, name),
                "departmentCode": unit.agency_code}

    def _score_item(self, unit: PortalUnit, period: Period, scored: bool) -> dict[str, Any]:
        item: dict[str, Any] = self._identity(unit, period)
        if not scored:  # a period not scored yet: the units are listed, without scores
            item.update({"totalScore": None, "ratio": None, "scoreDelta": None,
                         "groupScores": None})
        else:
            scores = self.world.period_scores(unit.unit, period)
            item.update({"totalScore": scores["TONG_SCORE"], "ratio": scores["TONG_SCORE"],
                         "scoreDelta": None,
                         "groupScores": {code: scores[code] for code in COMPONENT_MAXIMA}})
            if self.world.as_text(unit.unit, period, "totalScore"):
                item["totalScore"] = f"{scores['TONG_SCORE']:.2f}"
        if unit.unit.level in CHILD_GROUP:
            item["childGroup"] = CHILD_GROUP[unit.unit.level]
        return item

    def _metrics_item(self, unit: PortalUnit, period: Period) -> dict[str, Any]:
        return {**self._identity(unit, period),
                "metrics": self.world.digitisation_metrics(unit.unit, period.last_month)}

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
