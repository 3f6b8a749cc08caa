"""Connecting to the warehouse: engines and transactions for DuckDB and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

log = logging.getLogger(__name__)


class WarehouseBusyError(RuntimeError):
    """The DuckDB warehouse file stayed held by another process for the whole wait."""


def duckdb_path(url: str) -> Path | None:
    """The file of a `duckdb:///path` URL (None for other URLs and in-memory DuckDB)."""
    if not url.startswith("duckdb:///"):
        return None
    path = url.removeprefix("duckdb:///").split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def display_url(url: str) -> str:
    """The URL as it may be shown in logs and errors: never its password."""
    return sa.make_url(url).render_as_string(hide_password=True)


def lock_wait_seconds() -> float:
    """How long opening the DuckDB file waits for another process's lock (runtime.yaml)."""
    from registry.runtime import runtime_settings

    return 60.0 * runtime_settings()["warehouse_lock_wait_minutes"]


def make_engine(url: str, *, create: bool = True, read_only: bool = False,
                lock_wait: float | None = None) -> sa.Engine:
    """An engine for a `duckdb:///path` or `postgresql[+psycopg]://...` URL. With
    `create=False` a DuckDB file that does not exist is an error (connecting would make an
    empty one).

    DuckDB lets one process write a file, and a writer excludes every other process, so
    connecting waits while another process holds the file (a load, or an analyst's
    connection) for up to `lock_wait` seconds (default: runtime.yaml), then raises
    WarehouseBusyError naming the holder. `read_only` connections share the file with
    each other, never with a writer."""
    path = duckdb_path(url)
    if path is None:
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
        return sa.create_engine(url)
    if not create and not path.exists():
        raise FileNotFoundError(f"no warehouse file at {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"read_only": True} if read_only else {})
    wait = lock_wait_seconds() if lock_wait is None else lock_wait

    @sa.event.listens_for(engine, "do_connect")
    def _connect_when_free(dialect: Any, record: Any, cargs: Any, cparams: Any) -> Any:
        import duckdb

        def connect() -> Any:
            try:
                return dialect.connect(*cargs, **cparams)
            except duckdb.ConnectionException as exc:
                # This process has the file open for writing already: DuckDB shares
                # that instance, and a read-only one cannot be opened beside it.
                if not read_only or "different configuration" not in str(exc):
                    raise
                return dialect.connect(*cargs, **{k: v for k, v in cparams.items()
                                                  if k != "read_only"})

        return _wait_for_file(path, wait, connect)

    return engine


def _wait_for_file(path: Path, wait: float, connect: Any) -> Any:
    """connect(), retried while another process holds the DuckDB file, for `wait` s."""
    import duckdb

    deadline = time.monotonic() + wait
    pause = 0.05
    waiting = False
    while True:
        try:
            connection = connect()
        except duckdb.IOException as exc:
            if "Could not set lock" not in str(exc):
                raise
            found = re.search(r"held in (.*?\(PID \d+\))", str(exc))
            holder = found.group(1) if found else ""
            left = deadline - time.monotonic()
            if left <= 0:
                raise WarehouseBusyError(
                    f"warehouse file {path} is held by another process "
                    f"({holder or 'unknown'}) and stayed so for {wait:.0f} s. DuckDB "
                    "allows one writer, which excludes readers: close long-lived analyst "
                    "connections (read a snapshot, see the README), or raise "
                    "warehouse_lock_wait_minutes in config/runtime.yaml") from None
            if not waiting:
                log.warning("warehouse file %s is held by another process (%s); waiting "
                            "up to %.0f s for it", path, holder or "unknown", left)
                waiting = True
            time.sleep(min(pause, left))
            pause = min(pause * 2, 1.0)
            continue
        if waiting:
            log.info("warehouse file %s is free: connected", path)
        return connection


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


def snapshot(url: str, out: Path, lock_wait: float | None = None) -> Path:
    """Copy the embedded DuckDB warehouse to `out` (tables, views, data), consistently and
    without holding the warehouse file longer than the copy: analysts query the snapshot
    for as long as they like while loads go on. Waits like a reader for a load holding the
    file; `out` appears whole or not at all."""
    import os

    import duckdb

    path = duckdb_path(url)
    if path is None:
        raise ValueError(f"{display_url(url)}: snapshots are for the embedded DuckDB "
                         "warehouse; on PostgreSQL analysts read while loads write")
    if not path.exists():
        raise FileNotFoundError(f"no warehouse file at {path}")
    out = out.resolve()
    partial = out.with_name(f".{out.name}.partial")
    partial.unlink(missing_ok=True)
    wait = lock_wait_seconds() if lock_wait is None else lock_wait
    source = str(path).replace("'", "''")
    with duckdb.connect(str(partial)) as copy:
        _wait_for_file(path, wait, lambda: copy.execute(
            f"ATTACH '{source}' AS warehouse (READ_ONLY)"))
        name = copy.execute("SELECT current_database()").fetchone()[0]
        copy.execute(f"COPY FROM DATABASE warehouse TO \"{name}\"")
        copy.execute("DETACH warehouse")
    os.replace(partial, out)
    return out


# The advisory-lock namespace (first int4 key) of the loads' locks; the migration lock
# uses the one-bigint form, which never collides with the two-int4 form.
LOAD_LOCK_NAMESPACE = 766_001


def lock_for_write(conn: sa.Connection, *names: str) -> None:
    """Serialise the writers of what `names` identify (a partition, the reference tables)
    until this transaction ends: on PostgreSQL an advisory lock per name, taken in sorted
    order (so two writers never wait on each other crosswise) and waited for up to the
    warehouse lock wait; on DuckDB the file lock already lets one writer in at a time."""
    if conn.dialect.name != "postgresql":
        return
    wait = lock_wait_seconds()
    before = conn.exec_driver_sql("SHOW lock_timeout").scalar()
    # At least 1 ms: PostgreSQL reads 0 as "wait for ever".
    conn.execute(sa.text("SELECT set_config('lock_timeout', :t, true)"),
                 {"t": f"{max(1, int(wait * 1000))}ms"})
    for name in sorted(set(names)):
        try:
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:ns, hashtext(:name))"),
                         {"ns": LOAD_LOCK_NAMESPACE, "name": name})
        except sa.exc.OperationalError as exc:
            if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                raise
            raise WarehouseBusyError(f"another load held the lock of {name} for more than "
                                     f"{wait:.0f} s (warehouse_lock_wait_minutes in "
                                     "config/runtime.yaml)") from None
    conn.execute(sa.text("SELECT set_config('lock_timeout', :t, true)"), {"t": before})


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
