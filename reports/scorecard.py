"""The scorecard of a province and period: what it shows, read from the warehouse views.

`build(conn, province, period, settings, lang)` gathers every table the report and its
exports show (rankings, points by field, indicators against targets, monthly trends, points
lost per unit, the 766 as published with the recomputation gap, data-quality notes) as
`reports.tables.Table`s, and says what is missing: a month of the period without data is
named on the page, and an empty table says "no data", never shows zeros. Rates are
recomputed from summed counts, never averaged. Rendering is `reports.render`'s business.

Reads only: works on a read-only connection to DuckDB or PostgreSQL; never imports
Airflow.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from domain.periods import Month, Period, month_range
from reports.settings import IndicatorSpec, Labels, ReportSettings
from reports.tables import Column, Table, written_number

SCHEME_766 = "766"
LEVEL_ORDER = ("province", "department", "commune", "district")
COMPONENTS = ("ckmb", "tdgq", "clgq", "tttt", "mdhl", "mdsh")


@dataclass(frozen=True)
class Trend:
    """One indicator's monthly values per level over the trend window (None: no data or
    a zero denominator that month), with the target per level and month."""

    code: str
    name: str
    months: Sequence[str]
    values: Mapping[str, Sequence[float | None]]
    targets: Mapping[str, Sequence[float | None]]


@dataclass(frozen=True)
class UnitLoss:
    """Where one unit lost points under one criterion set: the rows of `Scorecard.lost`
    that are its."""

    scheme: str
    unit_code: str
    unit_name: str
    points_lost: float
    rows: Sequence[Mapping[str, Any]]


@dataclass
class Scorecard:
    province_code: str
    province_name: str
    period: Period
    lang: str
    generated_at: dt.datetime
    data_through: str | None
    missing: list[str] = field(default_factory=list)
    has_data: bool = False
    province_766: str | None = None
    rankings: list[Table] = field(default_factory=list)
    fields: list[Table] = field(default_factory=list)
    indicator_levels: Table | None = None
    indicator_units: Table | None = None
    indicator_marks: dict[tuple[str, str], bool | None] = field(default_factory=dict)
    indicator_long: Table | None = None
    trends: list[Trend] = field(default_factory=list)
    lost: Table | None = None
    losses: list[UnitLoss] = field(default_factory=list)
    portal_766: Table | None = None
    quality_checks: Table | None = None
    quality_quarantine: Table | None = None
    quality_loads: Table | None = None
    notes: list[str] = field(default_factory=list)

    def tables(self) -> list[Table]:
        """Every table of the report, in page order (the exports' sheets)."""
        return [t for t in (*self.rankings, *self.fields, self.indicator_levels,
                            self.indicator_long, self.lost, self.portal_766,
                            self.quality_checks, self.quality_quarantine, self.quality_loads)
                if t is not None]


def _rows(conn: sa.Connection, sql: str, **params: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def _met(value: float | None, target: float | None, direction: str | None) -> bool | None:
    if value is None or target is None:
        return None
    return value <= target if direction == "lower_is_better" else value >= target


def _unit_at_period_end(alias: str = "u", period: str = "p") -> str:
    return (f"LEFT JOIN dim_unit {alias} ON {alias}.unit_code = f.unit_code "
            f"AND {alias}.valid_from <= {period}.last_day "
            f"AND ({alias}.valid_to IS NULL OR {alias}.valid_to > {period}.last_day)")


def build(conn: sa.Connection, province: str, period: Period, settings: ReportSettings,
          lang: str = "vi", now: dt.datetime | None = None) -> Scorecard:
    """Everything the scorecard of `province` for `period` shows, in `lang`."""
    t = Labels(lang)
    name = conn.execute(sa.text(
        "SELECT name_vi FROM dim_unit WHERE unit_code = :u AND valid_from <= :d "
        "AND (valid_to IS NULL OR valid_to > :d)"), {"u": province, "d": period.last_day}
    ).scalar()
    if name is None:
        raise LookupError(f"no province {province!r} in dim_unit on {period.last_day} "
                          "(`reformstats units provinces` lists the provinces and their codes)")
    through = conn.execute(sa.text(
        "SELECT max(period_id) FROM fact_indicator_monthly WHERE province_code = :p"),
        {"p": province}).scalar()
    card = Scorecard(province_code=province, province_name=name, period=period, lang=lang,
                     generated_at=now or dt.datetime.now(dt.UTC),
                     data_through=str(Month(through // 100, through % 100)) if through
                     else None)
    _indicators(conn, card, settings, t)
    _trends(conn, card, settings, t)
    _rankings(conn, card, t)
    _fields(conn, card, t)
    _points_lost(conn, card, t)
    _portal_766(conn, card, t)
    _quality(conn, card, t)
    card.has_data = bool(card.indicator_long and card.indicator_long.rows) or bool(
        card.rankings) or bool(card.portal_766 and card.portal_766.rows)
    if not card.has_data:
        card.missing.insert(0, t("missing_period", period=period.label))
    return card


# -- indicators -------------------------------------------------------------------------

def _month_ids(period: Period) -> list[int]:
    return [m.period_id for m in period.months]


def _indicator_facts(conn: sa.Connection, province: str, months: Sequence[Month]
                     ) -> list[dict[str, Any]]:
    """The province's monthly indicator rows of `months`, with the unit's name and level
    of each month and the indicator's direction and summability."""
    if not months:
        return []
    return _rows(conn, f"""
        SELECT f.period_id, f.unit_code, u.name_vi AS unit_name, u.level AS unit_level,
               f.indicator_code, f.numerator, f.denominator, f.target, i.direction,
               i.summable_over_months
        FROM fact_indicator_monthly f
        JOIN dim_period p ON p.period_id = f.period_id
        LEFT JOIN dim_indicator i ON i.indicator_code = f.indicator_code
        {_unit_at_period_end()}
        WHERE f.province_code = :province AND p.period_type = 'month'
          AND f.period_id BETWEEN :first AND :last
        ORDER BY f.period_id""", province=province, first=months[0].period_id,
        last=months[-1].period_id)


def _indicator_names(conn: sa.Connection, specs: Sequence[IndicatorSpec], lang: str
                     ) -> dict[str, str]:
    names = {r["indicator_code"]: r["name_vi"] if lang == "vi" else r["name_en"]
             for r in _rows(conn, "SELECT indicator_code, name_vi, name_en FROM dim_indicator")}
    for s in specs:
        if s.planned:
            names[s.code] = (s.name_vi if lang == "vi" else s.name_en) or s.code
    return names


def _period_values(facts: Iterable[Mapping[str, Any]], last_month_id: int
                   ) -> dict[tuple[str, str], dict[str, Any]]:
    """(unit, indicator) → the period's numerator, denominator and target: flows summed
    over the months, an indicator on stocks taken at the last month present."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for f in facts:  # ordered by month
        key = (f["unit_code"], f["indicator_code"])
        seen = out.get(key)
        if seen is None or not f["summable_over_months"]:
            seen = out[key] = {**f, "numerator": 0, "denominator": 0, "months": 0}
        seen.update(unit_name=f["unit_name"] or seen["unit_name"],
                    unit_level=f["unit_level"] or seen["unit_level"], target=f["target"])
        seen["numerator"] += int(f["numerator"] or 0)
        seen["denominator"] += int(f["denominator"] or 0)
        seen["months"] += 1
        seen["at_end"] = f["period_id"] == last_month_id
    return out


def _indicators(conn: sa.Connection, card: Scorecard, settings: ReportSettings,
                t: Labels) -> None:
    period = card.period
    facts = _indicator_facts(conn, card.province_code, period.months)
    names = _indicator_names(conn, settings.indicators, card.lang)
    shown = [s.code for s in settings.indicators]
    planned = {s.code for s in settings.indicators if s.planned}
    # Months of the period an indicator the province has has no row for: named, grouped
    # by the months missing (an indicator with no month at all says "no data" below).
    present: dict[str, set[int]] = defaultdict(set)
    for f in facts:
        present[f["indicator_code"]].add(f["period_id"])
    gaps: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for code in shown:
        if present.get(code):
            absent = tuple(str(m) for m in period.months if m.period_id not in present[code])
            if absent:
                gaps[absent].append(names.get(code, code))
    for absent, which in gaps.items():
        card.missing.append(t("missing_months", what="; ".join(which),
                              months=", ".join(absent)))
    values = _period_values((f for f in facts if f["indicator_code"] in shown),
                            period.last_month.period_id)
    directions = {f["indicator_code"]: f["direction"] for f in facts}
    unknown = sorted({unit for (unit, _), v in values.items() if v["unit_level"] is None})
    if unknown:
        card.missing.append(t("unknown_units", count=len(unknown), codes=", ".join(unknown)))

    long_rows = []
    for (unit, code), v in sorted(values.items(), key=lambda kv: (
            _level_rank(kv[1]["unit_level"]), kv[0][0], shown.index(kv[0][1]))):
        value = _ratio(v["numerator"], v["denominator"])
        long_rows.append({
            "unit_code": unit, "unit": v["unit_name"], "level": t.level(v["unit_level"]),
            "indicator_code": code, "indicator": names.get(code, code),
            "numerator": v["numerator"], "denominator": v["denominator"], "value": value,
            "target": _float(v["target"]), "met": _met(value, _float(v["target"]),
                                                      directions.get(code)),
            "months": v["months"], "note": "" if v["denominator"] else t("no_dossiers")})
        card.indicator_marks[(unit, code)] = long_rows[-1]["met"]
    card.indicator_long = Table(
        "indicators_units", "Chỉ tiêu theo đơn vị", "Indicators by unit", [
            _col("unit_code", "unit_code"), _col("unit", "unit"), _col("level", "level"),
            _col("indicator_code", "indicator_code"), _col("indicator", "indicator"),
            _col("numerator", "numerator", "int"), _col("denominator", "denominator", "int"),
            _col("value", "value", "ratio"), _col("target", "target", "ratio"),
            _col("met", "met", "bool"), _col("months", "months", "int"),
            _col("note", "note")], long_rows)

    # One row per unit, a column per indicator (the page's table).
    units: dict[str, dict[str, Any]] = {}
    for r in long_rows:
        row = units.setdefault(r["unit_code"], {"unit_code": r["unit_code"],
                                                "unit": r["unit"], "level": r["level"]})
        row[f"ind:{r['indicator_code']}"] = r["value"]
    card.indicator_units = Table(
        "indicators_wide", "Chỉ tiêu theo đơn vị", "Indicators by unit",
        [_col("unit_code", "unit_code"), _col("unit", "unit"), _col("level", "level"),
         *[Column(f"ind:{c}", names.get(c, c), names.get(c, c), "ratio")
           for c in shown if c not in planned]], list(units.values()))

    # The province's levels: summed counts of every unit of a level, against its target.
    by_level: dict[tuple[str, str], dict[str, Any]] = {}
    for v in values.values():
        agg = by_level.setdefault((v["unit_level"], v["indicator_code"]), {
            "numerator": 0, "denominator": 0, "units": 0, "target": None})
        agg["numerator"] += v["numerator"]
        agg["denominator"] += v["denominator"]
        agg["units"] += 1
        if v["target"] is not None:
            agg["target"] = float(v["target"])
    level_rows = []
    levels = sorted({lvl for lvl, _ in by_level}, key=_level_rank)
    for code in shown:
        if code in planned:
            level_rows.append({"indicator_code": code, "indicator": names[code],
                               "level": "", "units": None, "numerator": None,
                               "denominator": None, "value": None, "target": None,
                               "met": None, "note": t("not_connected")})
            continue
        if not any((lvl, code) in by_level for lvl in levels):
            level_rows.append({"indicator_code": code, "indicator": names.get(code, code),
                               "level": "", "units": None, "numerator": None,
                               "denominator": None, "value": None, "target": None,
                               "met": None, "note": t("no_data")})
        for lvl in levels:
            agg = by_level.get((lvl, code))
            if agg is None:
                continue
            value = _ratio(agg["numerator"], agg["denominator"])
            level_rows.append({
                "indicator_code": code, "indicator": names.get(code, code),
                "level": t.level(lvl), "units": agg["units"], "numerator": agg["numerator"],
                "denominator": agg["denominator"], "value": value, "target": agg["target"],
                "met": _met(value, agg["target"], directions.get(code)),
                "note": "" if agg["denominator"] else t("no_dossiers")
                if agg["target"] is not None else t("no_target")})
    card.indicator_levels = Table(
        "indicators", "Chỉ tiêu so với mục tiêu", "Indicators against targets",
        [_col("indicator_code", "indicator_code"), _col("indicator", "indicator"),
         _col("level", "level"), _col("units", "units_affected", "int"),
         _col("numerator", "numerator", "int"), _col("denominator", "denominator", "int"),
         _col("value", "value", "ratio"), _col("target", "target", "ratio"),
         _col("met", "met", "bool"), _col("note", "note")], level_rows)


def _level_rank(level: str | None) -> int:
    return LEVEL_ORDER.index(level) if level in LEVEL_ORDER else len(LEVEL_ORDER)


def _col(key: str, label: str, fmt: str = "text") -> Column:
    """A column whose headers are the label's two languages."""
    return Column(key, Labels("vi")(label), Labels("en")(label), fmt)


def _trends(conn: sa.Connection, card: Scorecard, settings: ReportSettings,
            t: Labels) -> None:
    last = card.period.last_month
    first = last
    for _ in range(settings.trend_months - 1):
        first = first.previous()
    months = month_range(first, last)
    facts = _indicator_facts(conn, card.province_code, months)
    names = _indicator_names(conn, settings.indicators, card.lang)
    sums: dict[tuple[str, str, int], list[float]] = defaultdict(lambda: [0, 0])
    targets: dict[tuple[str, str, int], float] = {}
    for f in facts:
        key = (f["indicator_code"], f["unit_level"], f["period_id"])
        sums[key][0] += int(f["numerator"] or 0)
        sums[key][1] += int(f["denominator"] or 0)
        if f["target"] is not None:
            targets[key] = float(f["target"])
    for spec in settings.indicators:
        levels = sorted({lvl for code, lvl, _ in sums if code == spec.code}, key=_level_rank)
        if spec.planned or not levels:
            continue
        card.trends.append(Trend(
            code=spec.code, name=names.get(spec.code, spec.code),
            months=[str(m) for m in months],
            values={t.level(lvl): [_ratio(*sums[(spec.code, lvl, m.period_id)])
                                   if (spec.code, lvl, m.period_id) in sums else None
                                   for m in months] for lvl in levels},
            targets={t.level(lvl): [targets.get((spec.code, lvl, m.period_id))
                                    for m in months] for lvl in levels}))


# -- scores -----------------------------------------------------------------------------

def _scheme_names(conn: sa.Connection, lang: str) -> dict[tuple[str, str], str]:
    return {(r["scheme"], r["version"]): (r["name_vi"] if lang == "vi" else r["name_en"])
            or r["scheme"]
            for r in _rows(conn, "SELECT scheme, version, name_vi, name_en FROM dim_scheme")}


def _scheme_order(scheme: str, level: str | None) -> tuple[int, int, str]:
    return (scheme == SCHEME_766, _level_rank(level), scheme)


def _rankings(conn: sa.Connection, card: Scorecard, t: Labels) -> None:
    rows = _rows(conn, """
        SELECT scheme, version, unit_level, unit_code, unit_name_vi, total_points,
               max_points, percent, class_name_vi, class_name_en, peer_rank, peer_count,
               rank_change, rank_change_year, points_change, criteria_without_input
        FROM v_scheme_ranking
        WHERE province_code = :p AND period_id = :period
        ORDER BY peer_rank, unit_code""", p=card.province_code, period=card.period.period_id)
    names = _scheme_names(conn, card.lang)
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["scheme"] == SCHEME_766 and r["unit_level"] == "province":
            card.province_766 = t("province_766",
                                  total=written_number(r["total_points"], card.lang),
                                  rank=r["peer_rank"], count=r["peer_count"])
            continue
        groups[(r["scheme"], r["version"], r["unit_level"])].append({
            "rank": r["peer_rank"], "unit_code": r["unit_code"], "unit": r["unit_name_vi"],
            "total_points": _float(r["total_points"]), "max_points": _float(r["max_points"]),
            "percent": _float(r["percent"]),
            "class": r["class_name_vi"] if card.lang == "vi" else r["class_name_en"],
            "rank_change": r["rank_change"], "rank_change_year": r["rank_change_year"],
            "points_change": _float(r["points_change"]),
            "criteria_without_input": r["criteria_without_input"]})
    columns = [_col("rank", "rank", "int"), _col("unit_code", "unit_code"),
               _col("unit", "unit"), _col("total_points", "total_points", "decimal"),
               _col("max_points", "max_points", "decimal"),
               _col("percent", "percent", "percent"), _col("class", "class"),
               _col("rank_change", "rank_change", "signed"),
               _col("rank_change_year", "rank_change_year", "signed"),
               _col("points_change", "points_change", "decimal"),
               _col("criteria_without_input", "criteria_without_input", "int")]
    for (scheme, version, level) in sorted(groups, key=lambda k: _scheme_order(k[0], k[2])):
        title = f"{names.get((scheme, version), scheme)} — {t.level(level)}"
        card.rankings.append(Table(_sheet("rank", scheme, level), title, title, columns,
                                   groups[(scheme, version, level)]))
    if not rows:
        card.missing.append(t("missing_scores"))


def _sheet(prefix: str, scheme: str, level: str | None) -> str:
    short = {"province": "prov", "department": "dept", "commune": "comm"}.get(level or "",
                                                                             level or "")
    return f"{prefix}_{scheme}_{short}"[:31]


def _fields(conn: sa.Connection, card: Scorecard, t: Labels) -> None:
    rows = _rows(conn, """
        SELECT s.scheme, s.version, s.unit_level, s.unit_code, s.unit_name_vi, s.field_code,
               f.name_vi AS field_vi, f.name_en AS field_en, f.position,
               CASE WHEN count(*) FILTER (WHERE s.value IS NOT NULL OR s.round IS NOT NULL
                                          OR s.origin = 'published') = 0
                    THEN NULL ELSE sum(s.points) END AS points,
               sum(CAST(s.max_points AS DOUBLE PRECISION)) AS max_points
        FROM v_criterion_score s
        LEFT JOIN dim_criterion f ON f.scheme = s.scheme AND f.version = s.version
             AND f.criterion_code = s.field_code
        WHERE s.province_code = :p AND s.period_id = :period AND s.scheme <> :s766
        GROUP BY s.scheme, s.version, s.unit_level, s.unit_code, s.unit_name_vi,
                 s.field_code, f.name_vi, f.name_en, f.position
        ORDER BY s.unit_code, f.position""", p=card.province_code,
        period=card.period.period_id, s766=SCHEME_766)
    groups: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = defaultdict(dict)
    fields: dict[tuple[str, str, str], dict[str, tuple[str, str, float]]] = defaultdict(dict)
    for r in rows:
        key = (r["scheme"], r["version"], r["unit_level"])
        unit = groups[key].setdefault(r["unit_code"], {
            "unit_code": r["unit_code"], "unit": r["unit_name_vi"], "total_points": 0.0})
        # None: no criterion of the field has an input yet ("—", not 0)
        unit[f"field:{r['field_code']}"] = _float(r["points"])
        unit["total_points"] += float(r["points"] or 0)
        fields[key][r["field_code"]] = (r["field_vi"] or r["field_code"],
                                       r["field_en"] or r["field_code"], r["max_points"])
    names = _scheme_names(conn, card.lang)
    for key in sorted(groups, key=lambda k: _scheme_order(k[0], k[2])):
        scheme, version, level = key
        columns = [_col("unit_code", "unit_code"), _col("unit", "unit"),
                   *[Column(f"field:{code}", f"{vi} ({written_number(mx, 'vi')})",
                            f"{en} ({written_number(mx, 'en')})", "decimal")
                     for code, (vi, en, mx) in fields[key].items()],
                   _col("total_points", "total_points", "decimal")]
        title = f"{names.get((scheme, version), scheme)} — {t.level(level)}"
        card.fields.append(Table(_sheet("fields", scheme, level), title, title, columns,
                                 sorted(groups[key].values(),
                                        key=lambda u: (-u["total_points"], u["unit_code"]))))


def _points_lost(conn: sa.Connection, card: Scorecard, t: Labels) -> None:
    rows = _rows(conn, """
        SELECT scheme, unit_code, unit_name_vi, criterion_code, criterion_name_vi,
               criterion_name_en, points, max_points, points_lost, value, numerator,
               denominator, note, position
        FROM v_points_lost
        WHERE province_code = :p AND period_id = :period AND scheme <> :s766
        ORDER BY scheme, unit_code, points_lost DESC, position""",
        p=card.province_code, period=card.period.period_id, s766=SCHEME_766)
    out = [{"scheme": r["scheme"], "unit_code": r["unit_code"], "unit": r["unit_name_vi"],
            "criterion_code": r["criterion_code"],
            "criterion": r["criterion_name_vi"] if card.lang == "vi"
            else r["criterion_name_en"] or r["criterion_name_vi"],
            "points": _float(r["points"]), "max_points": _float(r["max_points"]),
            "points_lost": _float(r["points_lost"]), "value": _float(r["value"]),
            "numerator": _float(r["numerator"]), "denominator": _float(r["denominator"]),
            "note": t.coded("note", r["note"])} for r in rows]
    card.lost = Table("points_lost", "Điểm bị trừ theo đơn vị", "Points lost by unit", [
        _col("scheme", "scheme"), _col("unit_code", "unit_code"), _col("unit", "unit"),
        _col("criterion_code", "criterion_code"), _col("criterion", "criterion"),
        _col("points", "points", "decimal"), _col("max_points", "max_points", "decimal"),
        _col("points_lost", "points_lost", "decimal"), _col("value", "value", "decimal"),
        _col("numerator", "numerator", "decimal"),
        _col("denominator", "denominator", "decimal"), _col("note", "note")], out)
    by_unit: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in out:
        by_unit[(r["scheme"], r["unit_code"])].append(r)
    card.losses = sorted((UnitLoss(scheme, unit, rs[0]["unit"],
                                   round(sum(r["points_lost"] for r in rs), 2), rs)
                          for (scheme, unit), rs in by_unit.items()),
                         key=lambda u: (u.scheme, -u.points_lost, u.unit_code))


def _portal_766(conn: sa.Connection, card: Scorecard, t: Labels) -> None:
    scores = _rows(conn, f"""
        SELECT unit_code, unit_name_vi, unit_level, {", ".join(COMPONENTS)}, total_score,
               published_rank
        FROM v_portal_score
        WHERE province_code = :p AND period_id = :period
        ORDER BY unit_level, total_score DESC, unit_code""",
        p=card.province_code, period=card.period.period_id)
    gaps = _rows(conn, """
        SELECT unit_code, level, code, recomputed, gap, beyond_tolerance
        FROM v_766_reconciliation WHERE period_id = :period""", period=card.period.period_id)
    total = {g["unit_code"]: g for g in gaps if g["level"] == "total"}
    beyond: dict[str, int] = defaultdict(int)
    for g in gaps:
        if g["level"] == "metric" and g["beyond_tolerance"]:
            beyond[g["unit_code"]] += 1
    rows = []
    for s in sorted(scores, key=lambda r: (_level_rank(r["unit_level"]),
                                           -(float(r["total_score"] or 0)), r["unit_code"])):
        g = total.get(s["unit_code"], {})
        rows.append({"unit_code": s["unit_code"], "unit": s["unit_name_vi"],
                     "level": t.level(s["unit_level"]),
                     **{c: _float(s[c]) for c in COMPONENTS},
                     "published": _float(s["total_score"]),
                     "recomputed": _float(g.get("recomputed")), "gap": _float(g.get("gap")),
                     "gaps_beyond": beyond.get(s["unit_code"], 0) if g else None})
    card.portal_766 = Table(
        "portal_766", "Chỉ số 766 theo công bố", "The 766 index as published", [
            _col("unit_code", "unit_code"), _col("unit", "unit"), _col("level", "level"),
            *[Column(c, c.upper(), c.upper(), "decimal") for c in COMPONENTS],
            _col("published", "published", "decimal"),
            _col("recomputed", "recomputed", "decimal"), _col("gap", "gap", "decimal"),
            _col("gaps_beyond", "gaps_beyond", "int")], rows)
    if not rows:
        card.notes.append(t("missing_766"))


# -- data quality -----------------------------------------------------------------------

def _quality(conn: sa.Connection, card: Scorecard, t: Labels) -> None:
    """Failed checks, quarantined rows and loads of the sources behind the province's
    figures for the period's months (and the period itself: the portal's scores)."""
    ids = tuple({*_month_ids(card.period), card.period.period_id})
    units = _province_units(conn, card.province_code)
    own = f"onestop_{card.province_code}"
    params = {"ids": ids}
    ids_sql = sa.bindparam("ids", expanding=True)

    checks = [dict(r._mapping) for r in conn.execute(sa.text("""
        SELECT dataset, source, period_id, check_name, severity, unit_code,
               coalesce(unexpected_count, 0) AS unexpected
        FROM dq_result WHERE NOT success AND period_id IN :ids
        """).bindparams(ids_sql), params)]
    grouped: dict[tuple[str, str, int, str, str], list[dict[str, Any]]] = defaultdict(list)
    for c in checks:
        if _concerns(c, own, units):
            grouped[(c["dataset"], c["source"], c["period_id"], c["check_name"],
                     c["severity"])].append(c)
    card.quality_checks = Table(
        "quality_checks", "Kiểm tra không đạt", "Failed checks", [
            _col("dataset", "dataset"), _col("source", "source"), _col("period", "period"),
            _col("check", "check"), _col("severity", "severity"),
            _col("units_affected", "units_affected", "int"),
            _col("rows_affected", "rows_affected", "int")],
        [{"dataset": d, "source": s, "period": _label(p), "check": name, "severity": sev,
          "units_affected": len({c["unit_code"] for c in cs if c["unit_code"]}) or None,
          "rows_affected": sum(int(c["unexpected"]) for c in cs)}
         for (d, s, p, name, sev), cs in sorted(grouped.items())])

    quarantined = [dict(r._mapping) for r in conn.execute(sa.text("""
        SELECT dataset, source, period_id, unit_code, reasons
        FROM quarantine_row WHERE period_id IN :ids""").bindparams(ids_sql), params)]
    counts: dict[tuple[str, str, int, str], int] = defaultdict(int)
    for q in quarantined:
        if _concerns(q, own, units):
            # The reasons name failed checks, never a row's values beyond unit names.
            counts[(q["dataset"], q["source"], q["period_id"], q["reasons"][:300])] += 1
    card.quality_quarantine = Table(
        "quality_quarantine", "Dòng bị cách ly", "Quarantined rows", [
            _col("dataset", "dataset"), _col("source", "source"), _col("period", "period"),
            _col("reasons", "reasons"), _col("rows", "rows", "int")],
        [{"dataset": d, "source": s, "period": _label(p), "reasons": reasons, "rows": n}
         for (d, s, p, reasons), n in sorted(counts.items())])

    loads = [dict(r._mapping) for r in conn.execute(sa.text("""
        SELECT source, dataset, period_id, status, rows_loaded, rows_quarantined, loaded_at
        FROM load_audit WHERE period_id IN :ids ORDER BY loaded_at""").bindparams(ids_sql),
        params)]
    latest: dict[tuple[str, str, int], dict[str, Any]] = {}
    for row in loads:
        if row["source"].startswith("onestop_") and row["source"] != own:
            continue
        latest[(row["dataset"], row["source"], row["period_id"])] = row
    card.quality_loads = Table(
        "quality_loads", "Các lần nạp dữ liệu", "Loads", [
            _col("dataset", "dataset"), _col("source", "source"), _col("period", "period"),
            _col("status", "status"), _col("rows", "rows", "int"),
            Column("rows_quarantined", "Số dòng bị cách ly", "Rows quarantined", "int"),
            _col("loaded_at", "loaded_at")],
        [{"dataset": d, "source": s, "period": _label(p), "status": t.coded("status", r["status"]),
          "rows": r["rows_loaded"], "rows_quarantined": r["rows_quarantined"],
          "loaded_at": _timestamp(r["loaded_at"])}
         for (d, s, p), r in sorted(latest.items())])


def _concerns(row: Mapping[str, Any], own_source: str, units: set[str]) -> bool:
    """A quality row bears on the province: its own one-stop source, or a unit of it, or a
    national check of no one unit."""
    if row["source"] == own_source:
        return True
    if row["source"].startswith("onestop_"):
        return False
    return row["unit_code"] is None or row["unit_code"] in units


def _province_units(conn: sa.Connection, province: str) -> set[str]:
    """The province and every unit with figures of it (indicators or scores)."""
    found = {province}
    for table in ("fact_indicator_monthly", "fact_scheme_result"):
        found |= {r[0] for r in conn.execute(sa.text(
            f"SELECT DISTINCT unit_code FROM {table} WHERE province_code = :p"),
            {"p": province})}
    return found


def _label(period_id: int) -> str:
    return Period.from_id(period_id).label


def _timestamp(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value or "")
