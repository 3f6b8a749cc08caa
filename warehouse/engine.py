"""Creating the warehouse engine and schema."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from domain.periods import Month, month_range
from warehouse.schema import VIEWS, dim_period, metadata


def make_engine(url: str) -> sa.Engine:
    """An engine for a `duckdb:///path` or `postgresql+psycopg://...` URL."""
    if url.startswith("duckdb:///"):
        path = url.removeprefix("duckdb:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url)


def ensure_schema(engine: sa.Engine) -> None:
    """Create missing tables, (re)create views, fill dim_period. Safe to run every time."""
    with engine.begin() as conn:
        metadata.create_all(conn)
        for name, sql in VIEWS.items():
            conn.exec_driver_sql(f"DROP VIEW IF EXISTS {name}")
            conn.exec_driver_sql(f"CREATE VIEW {name} AS {sql}")
        if conn.execute(sa.select(sa.func.count()).select_from(dim_period)).scalar_one() == 0:
            conn.execute(dim_period.insert(), [
                {"period_id": m.period_id, "year": m.year, "half": m.half,
                 "quarter": m.quarter, "month": m.month, "first_day": m.first_day,
                 "last_day": m.last_day}
                for m in month_range(Month(2019, 1), Month(2035, 12))
            ])


@contextmanager
def transaction(url: str) -> Iterator[sa.Connection]:
    """One transaction on the warehouse at `url` (committed on success, rolled back on
    error); the engine lives only as long as the transaction."""
    engine = make_engine(url)
    try:
        ensure_schema(engine)
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
