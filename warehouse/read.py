"""Reading the warehouse: a month's counters summed per unit (the marts), and which run of
a partition counts (the quality page, the alerts)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from warehouse.schema import metadata


def rows(conn: sa.Connection, sql: str | sa.TextClause, **params: Any) -> list[dict[str, Any]]:
    """A query's rows as dicts."""
    clause = sa.text(sql) if isinstance(sql, str) else sql
    return [dict(r._mapping) for r in conn.execute(clause, params)]


def as_date(value: Any) -> dt.date:
    """A date column's value as a date (engines return dates, datetimes or text)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def month_start(day: dt.date, months_back: int) -> dt.date:
    """The first day of the month `months_back` months before `day`'s."""
    index = day.year * 12 + day.month - 1 - months_back
    return dt.date(index // 12, index % 12 + 1, 1)

# The run of each partition whose data-quality results count: the one that checked last
# (CTEs `runs` and `latest`, for partitions whose period ends on or after :start).
LATEST_RUNS = """
    WITH runs AS (
        SELECT d.source, d.dataset, d.period_id, d.run_id, max(d.checked_at) AS checked_at
        FROM dq_result d JOIN dim_period p ON p.period_id = d.period_id
        WHERE p.last_day >= CAST(:start AS DATE)
        GROUP BY d.source, d.dataset, d.period_id, d.run_id),
    latest AS (
        SELECT r.source, r.dataset, r.period_id, r.run_id FROM runs r
        WHERE NOT EXISTS (
            SELECT 1 FROM runs o
            WHERE o.source = r.source AND o.dataset = r.dataset
              AND o.period_id = r.period_id
              AND (o.checked_at > r.checked_at
                   OR (o.checked_at = r.checked_at AND o.run_id > r.run_id))))"""


def sum_by_unit(conn: sa.Connection, table_name: str, columns: Sequence[str],
                period_id: int) -> list[dict[str, Any]]:
    """{unit_code, [province_code,] column sums} per unit for one month of a fact table
    (per unit and province where the table has a province_code)."""
    table = metadata.tables[table_name]
    keys = [table.c.unit_code] + ([table.c.province_code] if "province_code" in table.c
                                  else [])
    query = (sa.select(*keys, *(sa.func.sum(table.c[c]).label(c) for c in columns))
             .where(table.c.period_id == period_id).group_by(*keys).order_by(*keys))
    return [dict(row._mapping) for row in conn.execute(query)]


def fetch_ids(conn: sa.Connection, table_name: str, period_id: int) -> list[str]:
    """The raw-zone fetches a month of a fact table was loaded from, sorted."""
    table = metadata.tables[table_name]
    query = (sa.select(table.c.fetch_id).where(table.c.period_id == period_id)
             .distinct().order_by(table.c.fetch_id))
    return list(conn.execute(query).scalars())


def sum_over_months(conn: sa.Connection, table_name: str, flows: Sequence[str],
                    stocks: Sequence[str], period_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Per unit over a period's months: the flows summed, the stocks as they were at the
    end of the last month (never summed); where the table has a province_code, the one of
    the unit's latest month (a unit reported by two provinces' systems in the period,
    as around the 2025 reorganisation, is still one unit)."""
    table = metadata.tables[table_name]
    has_province = "province_code" in table.c
    keys = [table.c.unit_code] + ([table.c.province_code] if has_province else [])
    last = max(period_ids)
    columns = [*(sa.func.sum(table.c[c]).label(c) for c in flows),
               *(sa.func.sum(sa.case((table.c.period_id == last, table.c[c]), else_=0))
                 .label(c) for c in stocks),
               sa.func.max(table.c.period_id).label("last_seen")]
    query = (sa.select(*keys, *columns).where(table.c.period_id.in_(list(period_ids)))
             .group_by(*keys).order_by(*keys))
    merged: dict[str, dict[str, Any]] = {}
    for row in conn.execute(query):
        values = dict(row._mapping)
        unit = merged.get(values["unit_code"])
        if unit is None:
            merged[values["unit_code"]] = values
            continue
        for column in (*flows, *stocks):
            unit[column] = (unit[column] or 0) + (values[column] or 0)
        if has_province and values["last_seen"] > unit["last_seen"]:
            unit["province_code"], unit["last_seen"] = (values["province_code"],
                                                        values["last_seen"])
    return [{k: v for k, v in unit.items() if k != "last_seen"} for unit in merged.values()]


def rows_of_period(conn: sa.Connection, table_name: str, period_id: int,
                   columns: Sequence[str]) -> list[dict[str, Any]]:
    """The named columns of a fact table's rows for one period."""
    table = metadata.tables[table_name]
    query = sa.select(*(table.c[c] for c in columns)).where(table.c.period_id == period_id)
    return [dict(row._mapping) for row in conn.execute(query)]
