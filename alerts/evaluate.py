"""What is open now, read from the warehouse, and who is told.

- data quality: the failed checks of the latest run of each partition (dq_result), one
  alert per check and unit; a check that failed for the partition as a whole and for no
  unit in particular is one alert about the partition.
- rejected: partitions whose latest load was rejected (load_audit): the last good version
  stays visible and the new data waits in quarantine and the raw zone.
- freshness: a month partition still not loaded `warn_after_days` after the month ended
  (warning), `error_after_days` after it (critical), per source of the registry's
  datasets that declare `freshness`.
- target: a unit's monthly indicator below the target its office set (or the catalogue's).

Alerts are opened for periods ending within the routing's lookback window only. Routing
follows the unit hierarchy (dim_unit) valid on the last day of the alert's period; a
partition without a unit of its own is the province's for a one-stop source, else no
office's (it goes to ops).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa

from alerts.model import Alert
from alerts.routing import OPS, Routing
from domain.periods import VN_TZ, Month, Period
from domain.units import Unit, UnitRegistry, province_in
from registry.datasets import PROVINCIAL_SOURCES, Registry
from warehouse.read import LATEST_RUNS, month_start
from warehouse.read import as_date as _date
from warehouse.read import rows as _rows


def window_start(today: dt.date, lookback_months: int) -> dt.date:
    """The first day of the month `lookback_months - 1` months before today's."""
    return month_start(today, max(lookback_months - 1, 0))


def province_of_source(source: str) -> str | None:
    """The province of a provincial system's source (`onestop_91`, `eoffice_91`)."""
    kind, _, province = source.partition("_")
    return province if kind in PROVINCIAL_SOURCES and province else None


def read_units(conn: sa.Connection) -> UnitRegistry:
    """Every unit of dim_unit in every version (reference, configured and registered), for
    the hierarchy of any period."""
    from warehouse.schema import dim_unit

    return UnitRegistry([Unit.from_row(r) for r in conn.execute(sa.select(dim_unit))], [])


# -- data quality and rejected partitions -------------------------------------------
def quality_alerts(conn: sa.Connection, start: dt.date) -> list[Alert]:
    failed = _rows(conn, f"""{LATEST_RUNS}
        SELECT d.dataset, d.source, d.period_id, p.label, p.last_day, d.run_id,
               d.check_name, d.severity, d.unit_code, d.unexpected_count, d.details
        FROM dq_result d
        JOIN latest l ON l.source = d.source AND l.dataset = d.dataset
                     AND l.period_id = d.period_id AND l.run_id = d.run_id
        JOIN dim_period p ON p.period_id = d.period_id
        WHERE NOT d.success""", start=start.isoformat())
    with_units = {(r["source"], r["dataset"], r["period_id"], r["check_name"])
                  for r in failed if r["unit_code"]}
    alerts = []
    for r in failed:
        key = (r["source"], r["dataset"], r["period_id"], r["check_name"])
        if r["unit_code"] is None and key in with_units:
            continue  # its units' alerts say it, each to the office concerned
        alerts.append(Alert(
            kind="data_quality", severity=r["severity"], dataset=r["dataset"],
            source=r["source"], period_id=int(r["period_id"]), period=r["label"],
            period_last_day=_date(r["last_day"]),
            unit_code=r["unit_code"] or province_of_source(r["source"]),
            check_name=r["check_name"], run_id=r["run_id"], facts=_jump_facts(r),
            # a history check counts units, not rows
            rows=None if _counts_units(r["check_name"]) else r["unexpected_count"]))
    return alerts + rejected_alerts(conn, start)


def _counts_units(check_name: str) -> bool:
    return check_name.startswith("jump:") or check_name == "units_missing"


def _jump_facts(row: dict) -> dict:
    """A unit's value before and now, from a jump check's details (its sample)."""
    if not (row["unit_code"] and row["check_name"].startswith("jump:") and row["details"]):
        return {}
    import json

    from expectations.history import previous_period

    try:
        sample = json.loads(row["details"])["sample"]
    except (ValueError, KeyError, TypeError):
        return {}
    before = previous_period(Period.from_id(int(row["period_id"])))
    for item in sample:
        if item.get("unit_code") == row["unit_code"]:
            return {"previous": item["previous"], "current": item["current"],
                    "previous_period": before.label if before else ""}
    return {}


def rejected_alerts(conn: sa.Connection, start: dt.date) -> list[Alert]:
    """Partitions whose latest load was rejected (the last good version stays)."""
    rows = _rows(conn, """
        WITH ranked AS (
            SELECT a.*, row_number() OVER (PARTITION BY a.source, a.dataset, a.period_id
                                           ORDER BY a.loaded_at DESC, a.run_id DESC) AS n
            FROM load_audit a)
        SELECT r.dataset, r.source, r.period_id, p.label, p.last_day, r.run_id, r.rows_in,
               r.rows_quarantined
        FROM ranked r JOIN dim_period p ON p.period_id = r.period_id
        WHERE r.n = 1 AND r.status = 'rejected' AND p.last_day >= CAST(:start AS DATE)""",
                 start=start.isoformat())
    return [Alert(kind="rejected", severity="critical", dataset=r["dataset"],
                  source=r["source"], period_id=int(r["period_id"]), period=r["label"],
                  period_last_day=_date(r["last_day"]),
                  unit_code=province_of_source(r["source"]), check_name="rejected",
                  rows=r["rows_in"], run_id=r["run_id"],
                  facts={"rows_in": r["rows_in"], "rows_quarantined": r["rows_quarantined"]})
            for r in rows]


# -- freshness ------------------------------------------------------------------------
def freshness_alerts(conn: sa.Connection, registry: Registry,
                     provinces: Mapping[str, Iterable[str]], today: dt.date,
                     lookback_months: int) -> list[Alert]:
    """Month partitions past their due day that nothing came for. A partition that came and
    was rejected has arrived (its `rejected` alert says the rest). A dataset is expected
    from the first month it was ever loaded (a new deployment is not told about 2019),
    within the lookback window. A provincial source is expected of the provinces
    `provinces[source]` configures, and of every province it ever came from (an
    e-office report file)."""
    loaded = _rows(conn, """
        SELECT a.source, a.dataset, a.period_id FROM load_audit a
        JOIN dim_period p ON p.period_id = a.period_id
        WHERE p.period_type = 'month'
        GROUP BY a.source, a.dataset, a.period_id""")
    have = {(r["source"], r["dataset"], int(r["period_id"])) for r in loaded}
    first: dict[str, int] = {}
    for _, dataset, period_id in have:
        first[dataset] = min(first.get(dataset, period_id), period_id)
    start = window_start(today, lookback_months + 1)
    alerts = []
    for entry in registry:
        if not (entry.enabled and entry.freshness and entry.table and entry.name in first
                and "month" in entry.period_types):
            continue
        sources = ([*sorted({f"{entry.source}_{p}" for p in provinces.get(entry.source, ())}
                            | {s for s, d, _ in have if d == entry.name})]
                   if entry.source in PROVINCIAL_SOURCES else [entry.source])
        month = Month(start.year, start.month)
        while month.last_day < today:
            due = month.last_day + dt.timedelta(days=entry.freshness.warn_after_days)
            very = month.last_day + dt.timedelta(days=entry.freshness.error_after_days)
            if month.period_id >= first[entry.name] and today > due:
                for source in sources:
                    if (source, entry.name, month.period_id) in have:
                        continue
                    alerts.append(Alert(
                        kind="freshness", severity="critical" if today > very else "warning",
                        dataset=entry.name, source=source, period_id=month.period_id,
                        period=str(month), period_last_day=month.last_day,
                        unit_code=province_of_source(source), check_name="freshness",
                        facts={"due": due.isoformat(), "days_late": (today - due).days,
                               "error_after": very.isoformat()}))
            month = month.next()
    return alerts


# -- targets --------------------------------------------------------------------------
def target_alerts(conn: sa.Connection, routing: Routing, units: UnitRegistry,
                  start: dt.date) -> dict[str, list[Alert]]:
    """Per office with targets: its units' monthly indicators below the office's target
    (or, with `targets: true`, those the catalogue marks as not met)."""
    offices = {code: r for code, r in routing.offices.items()
               if r.targets is not None and "target" in r.receives}
    if not offices:
        return {}
    rows = _rows(conn, """
        SELECT f.unit_code, f.period_id, p.label, p.last_day, f.indicator_code,
               f.numerator, f.denominator, f.value, f.target, f.met, f.run_id
        FROM fact_indicator_monthly f JOIN dim_period p ON p.period_id = f.period_id
        WHERE p.period_type = 'month' AND p.last_day >= CAST(:start AS DATE)
          AND f.value IS NOT NULL""", start=start.isoformat())
    found: dict[str, list[Alert]] = defaultdict(list)
    for r in rows:
        last_day = _date(r["last_day"])
        ancestry = units.ancestry(r["unit_code"], last_day)
        for code, office in offices.items():
            if not office.oversees(ancestry):
                continue
            if office.targets:
                target = office.targets.get(r["indicator_code"])
                missed = target is not None and r["value"] < target - 1e-12
            else:
                target, missed = r["target"], r["met"] is False
            if not missed:
                continue
            found[code].append(Alert(
                kind="target", severity="warning", dataset="indicators", source="marts",
                period_id=int(r["period_id"]), period=r["label"], period_last_day=last_day,
                unit_code=r["unit_code"], check_name=r["indicator_code"],
                rows=int(r["denominator"]), run_id=r["run_id"],
                facts={"value": float(r["value"]), "target": float(target),
                       "numerator": int(r["numerator"]),
                       "denominator": int(r["denominator"])}))
    return dict(found)


# -- all of it, routed ------------------------------------------------------------------
def route_alerts(alerts: Sequence[Alert], routing: Routing, units: UnitRegistry
                 ) -> dict[str, list[Alert]]:
    """Each alert to every office overseeing its unit that receives its kind; to ops when
    none does (nothing is dropped). Names the unit as dim_unit has it for the period."""
    routed: dict[str, list[Alert]] = defaultdict(list)
    for alert in alerts:
        offices = []
        if alert.unit_code:
            offices = routing.offices_for(units.ancestry(alert.unit_code,
                                                             alert.period_last_day),
                                          alert.kind)
        for route in offices or [routing.ops]:
            routed[route.code].append(alert)
    return dict(routed)


def named(alerts: Iterable[Alert], units: UnitRegistry) -> list[Alert]:
    """The alerts with their unit's name and province as dim_unit has them for the period."""
    found = []
    for alert in alerts:
        if alert.unit_code:
            valid = units.valid(alert.period_last_day)
            unit, province = valid.get(alert.unit_code), province_in(valid, alert.unit_code)
            alert = alert.named(unit.name_vi if unit else None, province,
                                valid[province].name_vi if province else None)
        found.append(alert)
    return found


def open_alerts(conn: sa.Connection, routing: Routing, registry: Registry,
                provinces: Mapping[str, Iterable[str]], now: dt.datetime
                ) -> dict[str, list[Alert]]:
    """route -> the alerts open for it now; `provinces`: the configured provinces of each
    provincial source (onestop, eoffice)."""
    today = now.astimezone(VN_TZ).date()
    start = window_start(today, routing.lookback_months)
    units = read_units(conn)
    found = [*quality_alerts(conn, start),
             *freshness_alerts(conn, registry, provinces, today,
                               routing.lookback_months)]
    routed = route_alerts(named(found, units), routing, units)
    for code, alerts in target_alerts(conn, routing, units, start).items():
        routed.setdefault(code, []).extend(named(alerts, units))
    routed.setdefault(OPS, [])
    return routed
