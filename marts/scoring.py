"""Criterion scoring: a rule set scores each unit's inputs for one period, then ranks units
among their peers, and (for the 766) reconciles the recomputed scores with the published.

Pure: inputs in, rows out (the rows of fact_criterion_score, fact_scheme_result and
fact_766_reconciliation without their run columns). Reading the inputs from the warehouse
is steps/scoring.py's business.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from marts.methods import NO_INPUT, Input, Points, computed_points, manual_points, round_half_up
from marts.rulesets import Criterion, RuleSet

NO_INPUT_NOTES = ("no input", "not entered")
GAP_TOLERANCE = 0.01  # published scores are rounded to 2 decimals


@dataclass(frozen=True)
class Metric:
    """A 766 metric as the portal published it for a unit and period."""

    numerator: float | None
    denominator: float | None
    ratio: float | None  # percent
    score: float | None
    max_score: float | None = None


@dataclass(frozen=True)
class UnitInputs:
    """Everything a unit can be scored from, for one period."""

    unit_code: str
    level: str
    province_code: str | None
    indicators: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    metrics: Mapping[str, Metric] = field(default_factory=dict)
    components: Mapping[str, float | None] = field(default_factory=dict)
    total: float | None = None  # the published 766 total
    manual: Mapping[str, tuple[float, str]] = field(default_factory=dict)  # (points, round)


def metric_input(metric: Metric | None) -> Input:
    """A published metric as an input: numerator / denominator; a zero denominator is a
    zero denominator whatever ratio came with it (the rule decides: petitions score full
    points, dossier metrics are not scored); a metric published without numerator and
    denominator is scored from its ratio (ratio 100 scores full points)."""
    if metric is None:
        return NO_INPUT
    if metric.numerator is not None and metric.denominator is not None:
        return Input.ratio(metric.numerator, metric.denominator)
    if metric.ratio is not None:
        return Input.part_of(metric.ratio, 100)
    return NO_INPUT


def criterion_input(criterion: Criterion, unit: UnitInputs,
                    component_max: Mapping[str, float]) -> tuple[Input, str]:
    """The input of a computed criterion and its origin (computed | published)."""
    kind, code = criterion.source_kind, criterion.source_code or ""
    if kind == "indicator":
        pair = unit.indicators.get(code)
        return (Input.ratio(*pair) if pair else NO_INPUT), "computed"
    if kind == "portal_metric":
        return metric_input(unit.metrics.get(code)), "computed"
    if kind == "portal_component":
        score = unit.components.get(code)
        top = component_max.get(code)
        return (Input.part_of(score, top) if score is not None and top else NO_INPUT,
                "published")
    if kind == "portal_total":
        return (Input.part_of(unit.total, 100) if unit.total is not None else NO_INPUT,
                "published")
    raise ValueError(f"criterion {criterion.code}: source {kind!r} is not computed")


def score_unit(rule_set: RuleSet, unit: UnitInputs, period_id: int,
               component_max: Mapping[str, float]) -> list[dict[str, Any]]:
    """One row per scored criterion of the rule set for the unit."""
    rows = []
    for leaf in rule_set.leaves:
        round_name = None
        if leaf.manual:
            entered = unit.manual.get(leaf.code)
            result: Points = manual_points(leaf, entered[0] if entered else None,
                                           rule_set.rounding)
            given, origin = NO_INPUT, "manual"
            round_name = entered[1] if entered else None
        else:
            given, origin = criterion_input(leaf, unit, component_max)
            result = computed_points(leaf, given, rule_set.rounding)
        rows.append({
            "scheme": rule_set.scheme, "version": rule_set.version,
            "unit_code": unit.unit_code, "period_id": period_id,
            "criterion_code": leaf.code, "province_code": unit.province_code,
            "unit_level": unit.level, "value": given.value, "numerator": given.numerator,
            "denominator": given.denominator, "points": result.points,
            "max_points": leaf.max_points, "method": leaf.method, "origin": origin,
            "round": round_name, "note": result.note})
    return rows


def competition_ranks(totals: Sequence[float]) -> list[int]:
    """Ranks by total, highest first; equal totals share a rank (1, 2, 2, 4)."""
    return [1 + sum(1 for other in totals if other > total) for total in totals]


def results(rule_set: RuleSet, units: Sequence[UnitInputs], scores: Sequence[dict[str, Any]],
            period_id: int) -> list[dict[str, Any]]:
    """Each unit's total, percentage, class and rank among its peers (same scheme, level
    and province; provinces among all provinces). The 766 ranks by the published total
    (authoritative); other schemes by the sum of their criteria."""
    by_unit: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in scores:
        by_unit[row["unit_code"]].append(row)
    rows = []
    for unit in units:
        if rule_set.rank_by == "portal_total":
            if unit.total is None:
                continue  # nothing published: not ranked by the 766
            total, ranked_by = unit.total, "published"
        else:
            total = sum(r["points"] for r in by_unit[unit.unit_code])
            ranked_by = "computed"
        total = round_half_up(total, rule_set.rounding)
        percent = round_half_up(100 * total / rule_set.max_points, 4) if rule_set.max_points \
            else 0.0
        score_class = rule_set.classify(percent)
        rows.append({
            "scheme": rule_set.scheme, "version": rule_set.version,
            "unit_code": unit.unit_code, "period_id": period_id,
            "province_code": unit.province_code, "unit_level": unit.level,
            "total_points": total, "max_points": rule_set.max_points, "percent": percent,
            "class_code": score_class.code if score_class else None,
            "criteria_without_input": sum(1 for r in by_unit[unit.unit_code]
                                          if r["note"] in NO_INPUT_NOTES),
            "ranked_by": ranked_by})
    peers: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:  # provinces are ranked nationally, other units within their province
        peers[(row["unit_level"], None if row["unit_level"] == "province"
               else row["province_code"])].append(row)
    for group in peers.values():
        for row, rank in zip(group, competition_ranks([r["total_points"] for r in group]),
                             strict=True):
            row["peer_rank"], row["peer_count"] = rank, len(group)
    return rows


def score_period(rule_set: RuleSet, units: Iterable[UnitInputs], period_id: int,
                 component_max: Mapping[str, float],
                 ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(criterion rows, unit results) of a rule set for a period."""
    units = [u for u in units if rule_set.applies_to(u.level, u.province_code)]
    scores = [row for unit in units for row in score_unit(rule_set, unit, period_id,
                                                          component_max)]
    return scores, results(rule_set, units, scores, period_id)


# -- the 766, recomputed against the published -------------------------------------------
def reconcile_766(rule_set: RuleSet, unit: UnitInputs, scores: Sequence[dict[str, Any]],
                  period_id: int) -> list[dict[str, Any]]:
    """Metric, component and total rows: published, recomputed (None where the inputs are
    not published) and the gap. A published metric score of None (a metric not scored)
    counts as 0, as it does in the portal's sums. A component whose metrics are not all
    published takes the published score into the recomputed total (inputs `partial`). A
    published metric no rule scores is listed without a recomputed value."""
    points = {r["criterion_code"]: r for r in scores if r["unit_code"] == unit.unit_code}
    rows: list[dict[str, Any]] = []

    def row(level: str, code: str, component: str | None, published: float | None,
            recomputed: float | None, inputs: str) -> dict[str, Any]:
        gap = None
        if recomputed is not None and (published is not None or level == "metric"):
            gap = round_half_up(recomputed - (published or 0.0), 4)
        return {"unit_code": unit.unit_code, "period_id": period_id, "level": level,
                "code": code, "version": rule_set.version, "component": component,
                "published": published, "recomputed": recomputed, "gap": gap,
                "inputs": inputs}

    total_parts, total_complete = [], True
    for field_node in (c for c in rule_set.criteria if c.kind == "field"):
        leaves = [c for c in rule_set.leaves if c.field == field_node.code]
        recomputed_parts = []
        for leaf in leaves:
            score = points.get(leaf.code)
            known = (score is not None and score["origin"] == "computed"
                     and score["note"] not in NO_INPUT_NOTES)
            if leaf.source_kind == "portal_metric":
                metric = unit.metrics.get(leaf.source_code or leaf.code)
                if metric is None and not known:
                    if leaf.max_points:  # a tracked metric (max 0) missing changes nothing
                        recomputed_parts.append(None)
                    continue  # neither published nor recomputed
                rows.append(row("metric", leaf.source_code or leaf.code, field_node.code,
                                metric.score if metric else None,
                                score["points"] if known else None,
                                "complete" if known else "none"))
            recomputed_parts.append(score["points"] if known else None)
        published = unit.components.get(field_node.code)
        complete = bool(recomputed_parts) and None not in recomputed_parts
        recomputed = round_half_up(sum(recomputed_parts), 2) if complete else None
        rows.append(row("component", field_node.code, field_node.code, published, recomputed,
                        "complete" if complete else "none"))
        total_complete &= complete
        total_parts.append(recomputed if complete else published)
    scored_codes = {leaf.source_code or leaf.code for leaf in rule_set.leaves}
    for code in sorted(set(unit.metrics) - scored_codes):
        # published, but no rule scores it (a new metric, or a tree whose score is its
        # component's): listed so a reader sees it, never recomputed
        rows.append(row("metric", code, None, unit.metrics[code].score, None, "none"))
    if unit.total is not None or any(p is not None for p in total_parts):
        usable = [p for p in total_parts if p is not None]
        rows.append(row("total", "TOTAL", None, unit.total,
                        round_half_up(sum(usable), 2) if usable else None,
                        "complete" if total_complete else "partial"))
    return rows


def gaps_beyond(rows: Iterable[Mapping[str, Any]],
                tolerance: float = GAP_TOLERANCE) -> list[Mapping[str, Any]]:
    """Reconciliation rows whose gap exceeds the tolerance."""
    return [r for r in rows if r["gap"] is not None and abs(r["gap"]) > tolerance + 1e-9]
