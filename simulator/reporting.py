"""Reporting API (2026 on): `service-results`, the metric groups (`transparency`,
`dossier-digitized`, `handling-satisfaction`: `evaluation[]` of `metrics[]`) and the tree
groups (`dvc-progress-tree`, `provide-online-tree`, `formality-online-payment-tree`:
`data.parent` + `data.children[]`), answered in the `{"code": "OK", "data": {...}}`
envelope; `evaluation[]` is paged (`pagination`), trees are not.

Periods as the real API serves them: `timeType` `month` (with `month`), `quarter` (with
`quarter`) or `year`, which is the year so far: through the last month scored
(`world.published_through`), as `monthlyChart` shows (months not yet scored are null).
`handling-satisfaction` reads its period from `fromDate` / `toDate` (the first and last
day; `timeType` only tells a first quarter from the year through March).

Presentation quirks of real answers: a share of the numbers as strings ('' for 0), names
in NFD, some metrics without numerator and denominator (absent or null), some tree nodes
listed under another node (`children`) instead of under the root.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from typing import Any

from domain.periods import Month, Period
from simulator.errors import ApiError
from simulator.faults import FaultedService, FaultPlan
from simulator.portal_units import PortalUnit, titled
from simulator.world import COMPONENT_MAXIMA, METRIC_GROUPS, TREE_GROUPS, NationalPortalWorld

CHILD_GROUP = {"department": "AGENCY", "commune": "COMMUNE"}
RADAR = [("CKMB", "Công khai, minh bạch", ("CKMB",)),
         ("TDGQ", "Tiến độ, kết quả giải quyết", ("TDGQ",)),
         ("ONLINE_SERVICE", "Dịch vụ trực tuyến", ("CLGQ", "TTTT")),
         ("MDHL", "Mức độ hài lòng", ("MDHL",)),
         ("MDSH", "Mức độ số hóa hồ sơ", ("MDSH",))]
DATED_GROUPS = frozenset({"handling-satisfaction"})  # the period comes from fromDate/toDate
NUMBER_FIELDS = ("numerator", "denominator", "ratio", "score", "maxScore", "totalReceived",
                 "totalOnTime", "totalOverdue", "avgProcessingDays")
NATIONAL = {"departmentId": None, "departmentName": "Cả nước", "departmentCode": None}


class ReportingApi(FaultedService):
    def __init__(self, world: NationalPortalWorld, faults: Callable[[], FaultPlan]) -> None:
        super().__init__(faults)
        self.world = world
        self._with_unknown: set[tuple[str, str, str]] = set()  # lists given an unknown unit

    def _year_so_far(self, year: int) -> Period:
        through = self.world.scored_through(year)
        if through is None:
            raise ApiError(400, f"nothing scored yet in {year}")
        return Period("year", year, 0) if through == 12 else Period("year_to_date", year,
                                                                     through)

    def _period(self, body: dict[str, Any]) -> Period:
        time_type = body.get("timeType")
        try:
            year = int(body["year"])
            if time_type == "month":
                return Period("month", year, int(body["month"]))
            if time_type == "quarter":
                return Period("quarter", year, int(body["quarter"]))
            if time_type == "year":
                return self._year_so_far(year)
        except (KeyError, TypeError, ValueError) as exc:
            raise ApiError(400, f"bad period in request: {exc}") from exc
        raise ApiError(400, "timeType must be month, quarter or year")

    def _dated_period(self, group: str, body: dict[str, Any]) -> Period:
        """The period `fromDate`..`toDate` spans: a month, a quarter or the year so far (a
        range past the last month scored: the year through it); `timeType` decides between
        a January and the year through January, or a first quarter and the year through
        March."""
        try:
            first = dt.date.fromisoformat(str(body["fromDate"]))
            last = dt.date.fromisoformat(str(body["toDate"]))
        except (KeyError, ValueError) as exc:
            raise ApiError(400, f"{group} takes fromDate and toDate (ISO dates): {exc}") from exc
        if first.year != last.year or first.day != 1 or last < first or (
                last + dt.timedelta(days=1)).day != 1:
            raise ApiError(400, f"{group}: {first}..{last} is not whole months of one year")
        year, spans = first.year, {}
        if first.month == last.month:
            spans["month"] = Period("month", year, first.month)
        if first.month % 3 == 1 and last.month == first.month + 2:
            spans["quarter"] = Period("quarter", year, (first.month + 2) // 3)
        if first.month == 1:
            scored = self._year_so_far(year)
            asked = Month(year, last.month)
            spans["year"] = scored if scored.last_month <= asked else (
                Period("year", year, 0) if last.month == 12
                else Period("year_to_date", year, last.month))
        if not spans:
            raise ApiError(400, f"{group} serves a month, a quarter or the year so far")
        return spans.get(str(body.get("timeType")), next(iter(spans.values())))

    def handle(self, group: str, body: dict[str, Any]) -> dict[str, Any]:
        if group not in {"service-results", *METRIC_GROUPS, *TREE_GROUPS}:
            raise ApiError(404, f"unknown evaluation group {group!r}")
        period = (self._dated_period(group, body) if group in DATED_GROUPS
                  else self._period(body))
        if period.last_month < self.world.reporting_from:
            raise ApiError(400, f"the reporting API evaluates periods from "
                                f"{self.world.reporting_from} on; {period} is on the legacy "
                                "gateway (jsp/rest.jsp)")
        if self.faults.take("stale_period") and period.period_type == "year_to_date" \
                and period.number > 1:
            period = Period("year_to_date", period.year, period.number - 1)
        root, units = self._units(body, period)
        scored = self.world.is_scored(period)
        listing = (group, str(period), str(body.get("rootDepartmentId")))
        if group in TREE_GROUPS:
            return self._tree(group, root, units, period, scored, listing)
        if group == "service-results":
            items = [self._score_item(u, period, scored) for u in units]
            data = self._overview(root, period)
            data["monthlyChart"] = self._monthly_chart(period)
        else:
            items = [self._metrics_item(group, u, period, scored) for u in units]
            data = {"overview": self._group_overview(METRIC_GROUPS[group][0], root, period)}
        self._add_unknown(items, listing)
        page, size = int(body.get("currentPage", 1)), int(body.get("pageSize", 200))
        if page > 1 and self.faults.take("repeat_page"):
            page = 1
        window = items[(page - 1) * size: page * size]
        self._apply_data_faults(window)
        data["evaluation"] = window
        data["pagination"] = {"currentPage": page, "pageSize": size, "totalItems": len(items)}
        return {"code": "OK", "data": data, "message": "OK"}

    def _add_unknown(self, items: list[dict[str, Any]], listing: tuple[str, str, str]) -> None:
        if items and (listing in self._with_unknown or self.faults.take("unknown_unit")):
            self._with_unknown.add(listing)  # a unit no reference list knows, on every page
            items.append({**copy.deepcopy(items[len(items) // 2]),
                          "departmentId": "00000000-0000-0000-0000-000000000000",
                          "departmentName": "UBND xã Không Có Thật",
                          "departmentCode": "H99.99.99"})

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

    def _group_overview(self, component: str, root: PortalUnit | None,
                        period: Period) -> dict[str, Any]:
        """A group's overview: the root's component score (none for the national list)."""
        if root is None:
            return {"departmentName": "Cả nước", "departmentCode": None, "score": None,
                    "maxScore": COMPONENT_MAXIMA[component]}
        return {"departmentName": root.unit.name_vi, "departmentCode": root.agency_code,
                "score": self.world.period_scores(root.unit, period)[component],
                "maxScore": COMPONENT_MAXIMA[component]}

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

    def _published(self, values: dict[str, Any], unit: PortalUnit, period: Period,
                   field: str) -> dict[str, Any]:
        """A metric's or node's values as real answers send them: for some units and
        fields the numbers as text ('' for 0)."""
        if not self.world.as_text(unit.unit, period, field):
            return values
        return {key: ("" if value == 0 else str(value))
                if key in NUMBER_FIELDS and value is not None else value
                for key, value in values.items()}

    def _metrics_item(self, group: str, unit: PortalUnit, period: Period,
                      scored: bool) -> dict[str, Any]:
        metrics = []
        for metric in self.world.metrics(group, unit.unit, period) if scored else []:
            metric = {**metric, "name": self.world.display_name(unit.unit, period,
                                                                metric["name"])}
            if metric["numerator"] is None and self.world.omits_field(unit.unit, period,
                                                                      metric["code"]):
                del metric["numerator"], metric["denominator"]  # absent rather than null
            metrics.append(self._published(metric, unit, period, metric["code"]))
        return {**self._identity(unit, period), "metrics": metrics}

    def _node(self, group: str, unit: PortalUnit, period: Period,
              scored: bool) -> dict[str, Any]:
        figures = self.world.tree_figures(group, unit.unit, period)
        if not scored:
            figures = {k: None if k != "maxScore" else v for k, v in figures.items()}
        return {**self._identity(unit, period),
                **self._published(figures, unit, period, group)}

    def _tree(self, group: str, root: PortalUnit | None, units: list[PortalUnit],
              period: Period, scored: bool,
              listing: tuple[str, str, str]) -> dict[str, Any]:
        """`parent` (the root, or the whole country) and its `children`. As some real
        trees list units under others, every third commune heads a chain: the next commune
        listed under it, the one after under that one (a client must flatten them)."""
        component = TREE_GROUPS[group]
        if root is None:
            parent = {**NATIONAL, "score": None, "maxScore": COMPONENT_MAXIMA[component]}
        else:
            parent = self._node(group, root, period, scored)
        nodes = [self._node(group, u, period, scored) for u in units]
        levels = [u.unit.level for u in units]
        self._add_unknown(nodes, listing)
        self._apply_data_faults(nodes)
        children: list[dict[str, Any]] = []
        head: dict[str, Any] | None = None
        communes = 0
        for node, level in zip(nodes, levels + ["unknown"] * (len(nodes) - len(levels)),
                               strict=True):
            node["children"] = []
            if level == "commune" and head is not None and communes % 3:
                head["children"].append(node)
            else:
                children.append(node)
            if level == "commune":
                head, communes = node, communes + 1
        return {"code": "OK", "data": {"parent": parent, "children": children},
                "message": "OK"}

    def _apply_data_faults(self, items: list[dict[str, Any]]) -> None:
        """missing_field: the last item loses TDGQ (service-results) or a maxScore (its
        first metric's, or a tree node's own); bad_values: the first gets a score above
        any maximum (CKMB 25, or its first metric's or its own score 25)."""
        if not items:
            return
        faults = self.faults
        if faults.take("missing_field"):
            last = items[-1]
            if isinstance(last.get("groupScores"), dict):
                last["groupScores"].pop("TDGQ", None)
            elif last.get("metrics"):
                last["metrics"][0].pop("maxScore", None)
            elif "metrics" not in last:
                last.pop("maxScore", None)
        if faults.take("bad_values"):
            first = items[0]
            if isinstance(first.get("groupScores"), dict):
                first["groupScores"]["CKMB"] = 25.0
            elif first.get("metrics"):
                first["metrics"][0]["score"] = 25.0
            elif "metrics" not in first:
                first["score"] = 25.0
