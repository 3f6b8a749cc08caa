"""Connecting to the warehouse: engines and transactions for DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa


def duckdb_path(url: str) -> Path | None:
    """The file of a `duckdb:///path` URL (None for other URLs and in-memory DuckDB)."""
    if not url.startswith("duckdb:///"):
        return None
    path = url.removeprefix("duckdb:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def display_url(url: str) -> str:
    """The URL as it may be shown in logs and errors: never its password."""
    return sa.make_url(url).render_as_string(hide_password=True)


def make_engine(url: str, *, create: bool = True) -> sa.Engine:
    """An engine for a `duckdb:///path` or `postgresql[+psycopg]://...` URL. With
    `create=False` a DuckDB file that does not exist is an error (connecting would make an
    empty one)."""
    path = duckdb_path(url)
    if path is not None:
        if not create and not path.exists():
            raise FileNotFoundError(f"no warehouse file at {path}")
        path.parent.mkdir(parents=True, exist_ok=True)
    elif url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return sa.create_engine(url)


@contextmanager
def transaction(url: str) -> Iterator[sa.Connection]:
    """One transaction on the warehouse at `url`, committed on success and rolled back on
    error, after checking that its schema is current (SchemaNotCurrentError names the
    command that fixes it). The engine lives only as long as the transaction."""
    from warehouse.migrate import SchemaNotCurrentError, require_current, upgrade_hint

    try:
        engine = make_engine(url, create=False)
    except FileNotFoundError as exc:
        raise SchemaNotCurrentError(f"{exc}: {upgrade_hint(url)}") from None
    try:
        with engine.begin() as conn:
            require_current(conn, url)
            yield conn
    finally:
        engine.dispose()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
