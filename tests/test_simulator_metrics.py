"""The simulated reporting API publishes its 766 metrics the way the portal does
(INDICATORS.md, Decision 766): read here from its answers, as a client would get them, and
checked against the published behaviours by hand, never through the pipeline's code."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from domain.periods import Month, Period
from domain.units import UnitRegistry
from registry.settings import PROJECT_ROOT
from simulator.faults import FaultPlan
from simulator.legacy import LegacyGateway
from simulator.reporting import ReportingApi
from simulator.world import NationalPortalWorld

MONTH = Period("month", 2026, 3)
QUARTER = Period("quarter", 2026, 1)
PROVINCE = "11"  # Điện Biên: 12 departments, 45 communes
COMPONENT_OF = {"transparency": "CKMB", "handling-satisfaction": "MDHL",
                "dossier-digitized": "MDSH"}
TREE_OF = {"dvc-progress-tree": "TDGQ", "provide-online-tree": "CLGQ",
           "formality-online-payment-tree": "TTTT"}
DOSSIER_BASED = {"DOSSIER_SYNC", "DOSSIER_RECEIVING_SATISFACTION", "ORIGINAL_RESULT_AVAILABLE",
                 "SO_HOA_GIAY_TO_GIAI_QUYET", "REUSED_DIGITIZED_DATA",
                 "SYNCED_WITH_DVCQG_PERSONAL_STORAGE", "CITIZEN_DATA_CONNECTED_DOSSIER",
                 "CITIZEN_DATA_CONNECTED_FORMALITY", "ELECTRONIC_CERTIFIED_COPY"}
TARGETS = {"DOSSIER_RECEIVING_SATISFACTION": 0.9, "REUSED_DIGITIZED_DATA": 0.8}


def number(value: Any) -> float | None:
    """A published number: null stays None, '' is 0, text is read."""
    return None if value is None else 0.0 if value == "" else float(value)


@pytest.fixture(scope="module")
def api() -> ReportingApi:
    registry = UnitRegistry.from_folder(PROJECT_ROOT / "config" / "units", reference=False)
    # the arithmetic of a quarter's months: a world whose reporting API serves them all
    # (the real cut-over, March 2026, would leave January and February to the gateway)
    return ReportingApi(NationalPortalWorld(registry, published_through=Month(2026, 3),
                                            reporting_from=Month(2026, 1)), FaultPlan)


def body(period: Period, root: str | None) -> dict[str, Any]:
    time_type = {"month": "month", "quarter": "quarter"}.get(period.period_type, "year")
    out: dict[str, Any] = {"timeType": time_type, "year": period.year, "pageSize": 500,
                           "fromDate": period.first_day.isoformat(),
                           "toDate": period.last_day.isoformat()}
    if time_type != "year":
        out[time_type] = period.number
    out.update({"rootDepartmentId": root} if root else {"departmentType": "ADMINISTRATIVE_UNIT"})
    return out


def flat(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        yield node
        yield from flat(node.get("children") or [])


def published(api: ReportingApi, period: Period) -> dict[str, dict[str, Any]]:
    """{departmentId: {"scores": groupScores and totalScore, group: metrics by code or the
    tree node}} for the province and its departments and communes."""
    province = next(p for p in api.world.provinces(period) if p.unit.unit_code == PROVINCE)
    root = api.world.portal.reporting_id(province)
    units: dict[str, dict[str, Any]] = {}
    for scope in (None, root):
        for item in api.handle("service-results", body(period, scope))["data"]["evaluation"]:
            if scope or item["departmentId"] == root:
                units[item["departmentId"]] = {"scores": {
                    **item["groupScores"], "total": number(item["totalScore"])}}
        for group in COMPONENT_OF:
            for item in api.handle(group, body(period, scope))["data"]["evaluation"]:
                if item["departmentId"] in units:
                    units[item["departmentId"]][group] = {m["code"]: m for m in item["metrics"]}
        for group in TREE_OF:
            for node in flat(api.handle(group, body(period, scope))["data"]["children"]):
                if node["departmentId"] in units:
                    units[node["departmentId"]][group] = node
    assert len(units) == 1 + 12 + 45
    return units


@pytest.mark.parametrize("period", [MONTH, QUARTER], ids=str)
def test_components_are_the_sums_of_their_published_metric_scores(api, period) -> None:
    for unit in published(api, period).values():
        scores = unit["scores"]
        for group, component in COMPONENT_OF.items():
            total = sum(number(m["score"]) or 0.0 for m in unit[group].values())
            assert scores[component] == pytest.approx(round(total, 2), abs=1e-9)
            maxima = sum(number(m["maxScore"]) for m in unit[group].values())
            assert maxima == {"CKMB": 18, "MDHL": 18, "MDSH": 22}[component]
        for group, component in TREE_OF.items():
            assert scores[component] == (number(unit[group]["score"]) or 0.0)
        components = [scores[c] for c in ("CKMB", "TDGQ", "CLGQ", "TTTT", "MDHL", "MDSH")]
        assert scores["total"] == pytest.approx(round(sum(components), 2), abs=1e-9)


@pytest.mark.parametrize("period", [MONTH, QUARTER], ids=str)
def test_metric_scores_follow_the_published_behaviours(api, period) -> None:
    seen = {"petition_none": 0, "uncounted": 0, "target": 0}
    unscored: set[float | None] = set()  # scores of dossier metrics without dossiers
    for unit in published(api, period).values():
        for group in COMPONENT_OF:
            for code, m in unit[group].items():
                n, d = number(m.get("numerator")), number(m.get("denominator"))
                ratio, score, top = number(m["ratio"]), number(m["score"]), number(m["maxScore"])
                if n is None and d is None:  # published without counts: ratio 100, full
                    assert (code, ratio, score) == ("PUBLIC_CONTENT_FULL", 100.0, top)
                    seen["uncounted"] += 1
                elif d == 0:
                    assert ratio is None
                    if code.startswith("PETITION_"):  # no petitions: full points
                        assert score == top
                        seen["petition_none"] += 1
                    else:  # no dossiers: not scored, null or 0
                        assert code in DOSSIER_BASED and score in (None, 0.0)
                        unscored.add(score)
                else:
                    assert ratio == round(100 * n / d, 2)
                    share = n / d
                    if code in TARGETS:
                        share = min(1.0, share / TARGETS[code])
                        seen["target"] += share < 1
                    assert score == round(share * top, 2), (code, m)
        progress = unit["dvc-progress-tree"]
        received, on_time = number(progress["totalReceived"]), number(progress["totalOnTime"])
        if received:
            assert number(progress["score"]) == round(20 * on_time / received, 2)
            assert number(progress["totalOverdue"]) == received - on_time
    assert seen["petition_none"] and seen["target"]
    if period == MONTH:  # communes without dossiers this month: null for some, 0 for others
        assert seen["uncounted"] and unscored == {None, 0.0}


def test_a_commune_that_received_nothing_has_every_dossier_metric_at_zero_over_zero(
        api) -> None:
    world = api.world
    province = next(p for p in world.provinces(MONTH) if p.unit.unit_code == "91")
    idle = [(c.unit, m) for m in QUARTER.months for c in world.children(province, m)
            if c.unit.level == "commune" and world.dossier_volume(c.unit, m) == 0]
    assert idle  # a few communes receive nothing in some months
    for unit, month in idle:
        for group in COMPONENT_OF:
            for m in world.metrics(group, unit, month):
                if m["code"] in DOSSIER_BASED:
                    assert (m["numerator"], m["denominator"], m["ratio"]) == (0, 0, None)
                    assert m["score"] in (None, 0.0)
        figures = world.tree_figures("dvc-progress-tree", unit, month)
        assert (figures["totalReceived"], figures["ratio"]) == (0, None)
        assert world.scores(unit, month)["TDGQ"] == 0.0


def test_a_quarters_metrics_are_scored_from_the_sums_of_its_months(api) -> None:
    quarter = published(api, QUARTER)
    months = [published(api, Period.of_month(m)) for m in QUARTER.months]
    for unit_id, unit in quarter.items():
        for group in (*COMPONENT_OF, "dvc-progress-tree"):
            if group in TREE_OF:
                metrics = {"node": unit[group]}
                fields = ("totalOnTime", "totalReceived")
                monthly = [{"node": m[unit_id][group]} for m in months]
            else:
                metrics, fields = unit[group], ("numerator", "denominator")
                monthly = [m[unit_id][group] for m in months]
            for code, metric in metrics.items():
                for field in fields:
                    counted = [number(m[code].get(field)) for m in monthly]
                    if metric.get(field) is None:
                        assert counted == [None] * 3
                    else:
                        assert number(metric[field]) == sum(c or 0 for c in counted)


def test_service_results_and_the_legacy_gateway_publish_the_same_scores(api) -> None:
    world = api.world
    province = next(p for p in world.provinces(QUARTER) if p.unit.unit_code == PROVINCE)
    # the same world with the gateway still serving the quarter (before its cut-over)
    gateway_world = dataclasses.replace(world, reporting_from=Month(2026, 4))
    rows = LegacyGateway(gateway_world, FaultPlan).handle({
        "type": "ref", "service": "report_tinh_766_service", "p_nam": 2026, "p_quy": 1,
        "p_tinh_id": world.portal.legacy_id(province), "pageSize": 500})
    legacy = {r["ID"]: r for r in rows}
    reporting = published(api, QUARTER)
    for unit in world.children(province, QUARTER):
        expected = world.period_scores(unit.unit, QUARTER)
        row, item = legacy[world.portal.legacy_id(unit)], reporting[
            world.portal.reporting_id(unit)]
        for component in ("CKMB", "TDGQ", "CLGQ", "TTTT", "MDHL", "MDSH"):
            assert number(row[component]) == item["scores"][component] == expected[component]
        assert number(row["TONG_SCORE"]) == item["scores"]["total"] == expected["TONG_SCORE"]
