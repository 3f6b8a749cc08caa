"""Connecting to the warehouse: engines and transactions for DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa


def make_engine(url: str) -> sa.Engine:
    """An engine for a `duckdb:///path` or `postgresql[+psycopg]://...` URL."""
    if url.startswith("duckdb:///"):
        path = url.removeprefix("duckdb:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url)


@contextmanager
def transaction(url: str) -> Iterator[sa.Connection]:
    """One transaction on the warehouse at `url`, committed on success and rolled back on
    error, after checking that its schema is current (SchemaNotCurrentError names the
    command that fixes it). The engine lives only as long as the transaction."""
    from warehouse.migrate import require_current

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            require_current(conn)
            yield conn
    finally:
        engine.dispose()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
