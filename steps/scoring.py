"""Scoring step: every rule set in force scores its units for the periods ending with a
month, from the warehouse (the catalogue's indicators over the period, the portal's
published 766 scores and metrics, the manual points imported), in its own transaction per
period; the 766 is recomputed and reconciled with the published scores.

Runs after the indicators (marts DAG); rescoring a period never needs re-extraction:
`reformstats run marts_monthly --first 2026-03` (or the DAG's `month` param).
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from domain.periods import Month, Period, periods_ending
from marts.rulesets import SCHEME_766, RuleSet, RuleSets, load_rule_sets
from marts.scoring import Metric, UnitInputs, reconcile_766, score_period
from registry.settings import Settings

log = logging.getLogger(__name__)
SOURCE = "marts"


def rule_sets(settings: Settings) -> RuleSets:
    """Every rule set of config/schemes/, checked against the indicator catalogue."""
    from steps.marts import catalogue

    return load_rule_sets(settings.schemes_dir,
                          {i.code for i in catalogue(settings).indicators})


def component_maxima(sets: RuleSets, period: Period) -> dict[str, float]:
    """The 766 components' maxima in force for the period (its fields), else the
    portal's six as SOURCES.md lists them."""
    from transforms.national_portal import COMPONENTS

    in_force = sets.in_force(SCHEME_766, period.last_day)
    if in_force is None:
        return {code: top for code, (_, _, top) in COMPONENTS.items()}
    return {c.code: c.max_points for c in in_force.criteria if c.kind == "field"}


def _indicator_inputs(conn: Any, settings: Settings, period: Period, units: Any,
                      ) -> tuple[dict[str, dict[str, tuple[float, float]]],
                                 dict[str, str | None], list[str], dict[str | None, set[str]]]:
    """Per unit, each catalogue indicator's (numerator, denominator) over the period: flows
    summed over its months, stocks at its end; each unit's province; input fetches; and
    which indicators each province's facts have."""
    from marts.indicators import indicator_rows
    from steps.marts import catalogue
    from warehouse.read import fetch_ids, sum_over_months

    cat = catalogue(settings)
    month_ids = [m.period_id for m in period.months]
    facts, inputs = {}, []
    for name in cat.datasets:
        entry = settings.registry[name]
        columns = sorted({c for i in cat.indicators if i.dataset == name
                          for c in (*i.numerator, *i.denominator)})
        stocks = [c for c in columns if c in entry.stocks]
        facts[name] = sum_over_months(conn, entry.table,
                                      [c for c in columns if c not in stocks], stocks,
                                      month_ids)
        inputs += [f"{name}:{f}" for m in month_ids for f in fetch_ids(conn, entry.table, m)]
    rows = indicator_rows(facts, cat, period.period_id, period.year,
                          units.level_of(period.last_day),
                          lambda code: units.province_of(code, period.last_day))
    pairs: dict[str, dict[str, tuple[float, float]]] = defaultdict(dict)
    provinces: dict[str, str | None] = {}
    covered: dict[str | None, set[str]] = defaultdict(set)  # province -> indicators it has
    for row in rows:
        pairs[row["unit_code"]][row["indicator_code"]] = (row["numerator"], row["denominator"])
        covered[row["province_code"]].add(row["indicator_code"])
        provinces[row["unit_code"]] = row["province_code"]
    return pairs, provinces, inputs, covered


def _portal_inputs(conn: Any, period: Period) -> tuple[list[dict[str, Any]],
                                                       list[dict[str, Any]], list[str]]:
    from transforms.national_portal import COMPONENT_COLUMNS
    from warehouse.read import fetch_ids, rows_of_period

    scores = rows_of_period(conn, "fact_portal_score", period.period_id,
                            ["unit_code", "unit_level", "list_scope", "total_score",
                             *COMPONENT_COLUMNS])
    metrics = rows_of_period(conn, "fact_portal_metric", period.period_id,
                             ["unit_code", "unit_level", "list_scope", "metric_code",
                              "numerator", "denominator", "ratio", "score", "max_score"])
    inputs = [f"{t}:{f}" for t in ("fact_portal_score", "fact_portal_metric")
              for f in fetch_ids(conn, t, period.period_id)]
    return scores, metrics, inputs


def _manual_inputs(conn: Any, rule_set: RuleSet, period: Period,
                   ) -> tuple[dict[str, dict[str, tuple[float, str]]], list[str]]:
    """Manual points for the period: those entered for the period itself, else for its
    year (an annual assessment applies to every period of the year); the latest round.
    Also what they are, for the inputs' version."""
    from steps.manual_points import read_latest_points

    year_id = Period("year", period.year, 0).period_id
    latest = read_latest_points(conn, rule_set.scheme, rule_set.version,
                                sorted({period.period_id, year_id}))
    manual: dict[str, dict[str, tuple[float, str]]] = defaultdict(dict)
    for (period_id, unit, criterion), entered in sorted(latest.items()):
        if period_id == period.period_id or (period.period_id, unit, criterion) not in latest:
            manual[unit][criterion] = entered
    digest = hashlib.sha256(repr(sorted(latest.items())).encode()).hexdigest()
    return manual, [f"manual:{rule_set.scheme}/{rule_set.version}:{digest}"] if latest else []


def _province(row: Mapping[str, Any], units: Any, day: Any) -> str | None:
    if row.get("unit_level") == "province":
        return row["unit_code"]
    scope = row.get("list_scope")
    if scope and scope != "national":
        return scope
    return units.province_of(row["unit_code"], day)


def gather_inputs(conn: Any, settings: Settings, sets: Sequence[RuleSet], period: Period,
                  ) -> tuple[dict[str, list[UnitInputs]], list[str]]:
    """Per rule set, the inputs of every unit with anything to be scored from."""
    from steps.units import known_units

    day = period.last_day
    units = known_units(settings, day)
    levels = units.level_of(day)
    indicators, provinces, inputs, covered = _indicator_inputs(conn, settings, period, units)
    scores, metrics, portal_inputs = _portal_inputs(conn, period)
    inputs += portal_inputs
    level: dict[str, str | None] = {u: levels.get(u) for u in indicators}
    components: dict[str, dict[str, float | None]] = {}
    totals: dict[str, float | None] = {}
    for row in scores:
        unit = row["unit_code"]
        level[unit] = row["unit_level"] or levels.get(unit)
        provinces[unit] = _province(row, units, day)
        components[unit], totals[unit] = _published_scores(row)
    published: dict[str, dict[str, Metric]] = defaultdict(dict)
    for row in metrics:
        unit = row["unit_code"]
        level.setdefault(unit, row["unit_level"] or levels.get(unit))
        provinces.setdefault(unit, _province(row, units, day))
        published[unit][row["metric_code"]] = _metric(row)
    by_set: dict[str, list[UnitInputs]] = {}
    for rule_set in sets:
        manual, files = _manual_inputs(conn, rule_set, period)
        inputs += files
        for unit in manual:
            level.setdefault(unit, levels.get(unit))
            provinces.setdefault(unit, units.province_of(unit, day))
        by_set[f"{rule_set.scheme}/{rule_set.version}"] = [UnitInputs(
            unit_code=unit, level=level[unit] or "unknown", province_code=provinces.get(unit),
            indicators=_with_nothing_received(indicators.get(unit, {}),
                                              covered.get(provinces.get(unit), set())),
            metrics=published.get(unit, {}), components=components.get(unit, {}),
            total=totals.get(unit), manual=manual.get(unit, {}))
            for unit in sorted(level)]
    return by_set, inputs


def _with_nothing_received(pairs: Mapping[str, tuple[float, float]],
                           province_has: set[str]) -> dict[str, tuple[float, float]]:
    """A unit with no fact row in a province whose system reported the period received
    and resolved nothing: 0 / 0 (the rule's zero-denominator behaviour), not "no input"."""
    return {**dict.fromkeys(province_has, (0, 0)), **pairs}


def _float(value: Any) -> float | None:
    """A number as read from the warehouse or a frame; None for NULL and NaN."""
    return None if value is None or value != value else float(value)


def _metric(row: Mapping[str, Any]) -> Metric:
    """A fact_portal_metric row (or its frame's) as a published metric."""
    return Metric(*(_float(row[c])
                    for c in ("numerator", "denominator", "ratio", "score", "max_score")))


def _published_scores(row: Mapping[str, Any]) -> tuple[dict[str, float | None], float | None]:
    """A fact_portal_score row's (or its frame's) component scores, by code, and total."""
    from transforms.national_portal import COMPONENT_COLUMNS

    return ({c.upper(): _float(row[c]) for c in COMPONENT_COLUMNS},
            _float(row["total_score"]))


def score(period: Period, run_id: str, settings: Settings,
          sets: RuleSets | None = None) -> dict[str, Any]:
    """Score one period with every rule set in force on its last day and replace its
    partition of fact_criterion_score, fact_scheme_result and fact_766_reconciliation in
    one transaction; returns the load's audit row."""
    from expectations.checks import run_checks
    from warehouse.engine import transaction
    from warehouse.loader import arrow_schema, replace_partition
    from warehouse.publish import PartitionLoad, load_partition
    from warehouse.schema import fact_766_reconciliation, fact_scheme_result, metadata

    sets = sets or rule_sets(settings)
    entry = settings.registry["scores"]
    in_force = [s for s in sets.sets
                if s.in_force(period.last_day) and period.period_type in s.period_types]
    maxima = component_maxima(sets, period)
    with transaction(settings.warehouse_url) as conn:
        by_set, inputs = gather_inputs(conn, settings, in_force, period)
    criterion_rows, result_rows, reconciliation, maxima_seen = [], [], [], []
    for rule_set in in_force:
        units = by_set[f"{rule_set.scheme}/{rule_set.version}"]
        if rule_set.scheme == SCHEME_766:  # only what the portal published is scored
            units = [u for u in units if u.metrics or u.total is not None
                     or any(v is not None for v in u.components.values())]
        scores, results = score_period(rule_set, units, period.period_id, maxima)
        criterion_rows += scores
        result_rows += results
        if rule_set.scheme == SCHEME_766:
            reconciliation += [row for unit in units if unit.metrics
                               for row in reconcile_766(rule_set, unit, scores,
                                                        period.period_id)]
            maxima_seen += [
                {"unit_code": unit.unit_code, "code": leaf.source_code,
                 "published_max": unit.metrics[leaf.source_code].max_score,
                 "rule_max": leaf.max_points}
                for unit in units for leaf in rule_set.leaves
                if leaf.source_kind == "portal_metric" and leaf.source_code in unit.metrics]
        log.info("scored %s %s/%s: %d units, %d criterion rows", period, rule_set.scheme,
                 rule_set.version, len(results), len(scores))

    def table_of(name: str, rows: list[dict[str, Any]]) -> pa.Table:
        schema = pa.schema([f for f in arrow_schema(metadata.tables[name])
                            if f.name not in {"run_id", "loaded_at"}])
        return pa.Table.from_pylist(rows, schema=schema)

    def also(conn: Any) -> None:
        from warehouse.engine import utc_now
        from warehouse.publish import _with_constants

        lineage = {"run_id": run_id, "loaded_at": utc_now()}
        for table, rows in ((fact_scheme_result, result_rows),
                            (fact_766_reconciliation, reconciliation)):
            replace_partition(conn, table, _with_constants(table_of(table.name, rows), table,
                                                           lineage),
                              {"period_id": period.period_id})

    digest = hashlib.sha256("\n".join(sorted({*inputs, *(s.sha256 for s in in_force)}))
                            .encode()).hexdigest()
    return load_partition(PartitionLoad(
        dataset=entry, source=SOURCE, month=period, fetch_id=f"inputs-{digest[:16]}",
        run_id=run_id, rows_in=len(criterion_rows), raw_sha256=digest,
        facts=table_of(entry.table, criterion_rows), partition={"period_id": period.period_id},
        outcomes=run_checks(entry.validation.checks, criterion_rows,
                            reconciliation=reconciliation, maxima=maxima_seen),
        also=also, also_if_rejected=False), settings.warehouse_url)


def periods_to_score(month: Month, settings: Settings) -> list[Period]:
    """The periods ending with the month, and the longer periods containing it that were
    scored before (a month revised later changes its quarter, half, year and years to
    date, which are rescored with it)."""
    import sqlalchemy as sa

    from warehouse.engine import make_engine
    from warehouse.schema import load_audit

    types = settings.registry["scores"].period_types
    ending = periods_ending(month, types)
    containing = [p for m in (Month(month.year, n) for n in range(month.month, 13))
                  for p in periods_ending(m, types)
                  if month in p.months and p not in ending]
    engine = make_engine(settings.warehouse_url, read_only=True)
    try:
        with engine.connect() as conn:
            scored = set(conn.execute(sa.select(load_audit.c.period_id).where(
                load_audit.c.dataset == "scores",
                load_audit.c.period_id.in_([p.period_id for p in containing]))).scalars())
    finally:
        engine.dispose()
    return ending + [p for p in containing if p.period_id in scored]


def score_month(month: Month, run_id: str, settings: Settings) -> list[dict[str, Any]]:
    """Score every period ending with the month (the registry's period types) and every
    longer one containing it that was scored before."""
    sets = rule_sets(settings)
    return [score(period, run_id, settings, sets)
            for period in periods_to_score(month, settings)]


# -- the 766 recomputed from answers saved by hand -----------------------------------------
def _answer_group(path: Any, answer: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """(group, data) of a saved reporting-API answer: the bare envelope, or a
    `{"request": {"path": ...}, "response": ...}` pair; the group from the request's path,
    else from the file name (e.g. `dossier-digitized.json`)."""
    from sources.national_portal import METRIC_GROUPS, TREE_GROUPS

    known = ("service-results", *METRIC_GROUPS, *TREE_GROUPS)
    where = str((answer.get("request") or {}).get("path", "")) if "response" in answer else ""
    body = answer.get("response", answer)
    data = body.get("data") if isinstance(body, Mapping) else None
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: not a reporting-API answer ({{\"code\": \"OK\", \"data\": "
                         "{...}}, or a request/response pair)")
    for group in sorted(known, key=len, reverse=True):
        if where.rstrip("/").endswith("/" + group) or group in path.name:
            return group, data
    raise ValueError(f"{path}: which group answered? name the file after it (one of "
                     f"{', '.join(known)}) or save the request's path with it")


def recompute_766_answers(paths: Sequence[Any], period: Period,
                          settings: Settings) -> list[dict[str, Any]]:
    """The 766 of every unit in saved reporting-API answers (one file per group: the metric
    groups, the trees, and service-results for the published components and total),
    recomputed with the rule set in force for the period: fact_766_reconciliation's rows,
    with the unit's code and name as published."""
    import json

    from sources.national_portal import TREE_GROUPS, flatten_tree
    from transforms.national_portal import reporting_766_metrics, reporting_766_scores

    sets = rule_sets(settings)
    rule_set = sets.in_force(SCHEME_766, period.last_day)
    if rule_set is None:
        raise ValueError(f"no 766 rule set is in force on {period.last_day}")
    records, listed = [], []
    for path in paths:
        group, data = _answer_group(path, json.loads(path.read_text(encoding="utf-8")))
        if group == "service-results":
            listed += [(None, item) for item in data.get("evaluation") or []]
            continue
        items = (flatten_tree(data.get("children") or [], str(path)) if group in TREE_GROUPS
                 else data.get("evaluation") or [])
        records += [(None, {"group": group, "item": item}) for item in items]
    names: dict[str, str | None] = {}
    metrics: dict[str, dict[str, Metric]] = defaultdict(dict)
    for row in reporting_766_metrics(records, period).to_dict("records"):
        key = row["published_unit_code"] or row["source_unit_id"]
        names.setdefault(key, row["unit_name"])
        metrics[key][row["metric_code"]] = _metric(row)
    components: dict[str, dict[str, float | None]] = {}
    totals: dict[str, float | None] = {}
    maxima = component_maxima(sets, period)
    for row in reporting_766_scores(listed, period).to_dict("records"):
        key = row["published_unit_code"] or row["source_unit_id"]
        names.setdefault(key, row["unit_name"])
        components[key], totals[key] = _published_scores(row)
    rows = []
    for key in sorted(names, key=str):
        unit = UnitInputs(key, "unknown", None, metrics=metrics.get(key, {}),
                          components=components.get(key, {}), total=totals.get(key))
        scores, _ = score_period(rule_set, [unit], period.period_id, maxima)
        rows += [{**r, "unit_name": names[key]}
                 for r in reconcile_766(rule_set, unit, scores, period.period_id)]
    return rows

