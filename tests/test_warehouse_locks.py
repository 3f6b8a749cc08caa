"""Writers that meet: DuckDB lets one process hold the warehouse file, PostgreSQL takes an
advisory lock per partition. Loads wait their turn (bounded), they never fail on a lock
error and never interleave."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pyarrow as pa
import pytest
import sqlalchemy as sa

from domain.periods import Month
from registry.settings import load_registry
from warehouse.engine import WarehouseBusyError, make_engine
from warehouse.publish import PartitionLoad, load_partition

MARCH = Month(2026, 3)


def portal_load(run_id: str, scores: dict[str, float]) -> PartitionLoad:
    return PartitionLoad(
        dataset=load_registry()["portal_score"], source="national_portal", month=MARCH,
        fetch_id=f"fetch-{run_id}", run_id=run_id, rows_in=len(scores), raw_sha256="0" * 64,
        facts=pa.Table.from_pylist([{"unit_code": code, "period_id": MARCH.period_id,
                                     "total_score": score, "source_api": "reporting"}
                                    for code, score in scores.items()]),
        partition={"period_id": MARCH.period_id})


def scores_in(url: str) -> dict[str, float]:
    engine = make_engine(url, read_only=True)
    with engine.connect() as conn:
        rows = dict(conn.exec_driver_sql(
            "SELECT unit_code, CAST(total_score AS DOUBLE PRECISION) FROM fact_portal_score "
            f"WHERE period_id = {MARCH.period_id}").fetchall())
    engine.dispose()
    return rows


def hold_file(path: Path, seconds: float, read_only: bool = True) -> subprocess.Popen:
    """An analyst's read-only (or a loader's) DuckDB connection in another process, closed
    after `seconds`; returns once the connection is open."""
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time\n"
         f"c = duckdb.connect({str(path)!r}, read_only={read_only})\n"
         "print('open', flush=True)\n"
         f"time.sleep({seconds})\nc.close()"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "open"
    return holder


def test_a_load_waits_for_an_analysts_duckdb_connection_then_loads(settings, caplog):
    path = Path(settings.warehouse_url.removeprefix("duckdb:///"))
    caplog.set_level(logging.INFO, logger="warehouse.engine")
    holder = hold_file(path, 1.5)
    try:
        audit = load_partition(portal_load("r1", {"91": 80.5, "11": 70.25}),
                               settings.warehouse_url)
    finally:
        holder.wait(timeout=30)
    assert audit["status"] == "loaded" and audit["rows_loaded"] == 2
    assert scores_in(settings.warehouse_url) == {"91": 80.5, "11": 70.25}
    assert f"PID {holder.pid}" in caplog.text  # the wait names who holds the file
    assert "is free: connected" in caplog.text


def test_a_duckdb_file_held_beyond_the_wait_fails_clearly_naming_the_holder(settings):
    path = Path(settings.warehouse_url.removeprefix("duckdb:///"))
    holder = hold_file(path, 20)
    try:
        engine = make_engine(settings.warehouse_url, lock_wait=0.5)
        started = time.monotonic()
        with pytest.raises(WarehouseBusyError) as error:
            engine.connect()
        assert time.monotonic() - started < 5
        engine.dispose()
    finally:
        holder.kill()
        holder.wait()
    message = str(error.value)
    assert str(path) in message and f"(PID {holder.pid})" in message
    assert "warehouse_lock_wait_minutes" in message and "README" in message


def test_read_only_readers_share_the_duckdb_file(settings):
    path = Path(settings.warehouse_url.removeprefix("duckdb:///"))
    holder = hold_file(path, 20)
    try:
        engine = make_engine(settings.warehouse_url, read_only=True, lock_wait=0)
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM dim_period").scalar() == 527
        engine.dispose()
    finally:
        holder.kill()
        holder.wait()


def test_concurrent_loads_of_one_partition_on_postgres_take_turns(pg_url):
    # Hold the partition's lock by hand: both loads must queue behind it (not collide on a
    # primary key), then run one after the other, each replacing the whole partition.
    key = f"fact_portal_score:period_id={MARCH.period_id}"
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    first, second = {"91": 80.0, "11": 60.0}, {"91": 81.0, "04": 50.0}
    results: dict[str, object] = {}

    def run(run_id: str, scores: dict[str, float]) -> None:
        try:
            results[run_id] = load_partition(portal_load(run_id, scores), pg_url)["status"]
        except Exception as exc:  # reported below
            results[run_id] = exc

    with engine.connect() as gate:
        gate.exec_driver_sql("BEGIN")
        gate.execute(sa.text("SELECT pg_advisory_xact_lock(766001, hashtext(:k))"), {"k": key})
        threads = [threading.Thread(target=run, args=args)
                   for args in (("a", first), ("b", second))]
        for thread in threads:
            thread.start()
        waiting, deadline = 0, time.monotonic() + 30
        while waiting < 2 and time.monotonic() < deadline:
            waiting = gate.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND classid = 766001").scalar()
            time.sleep(0.05)
        assert waiting == 2  # both loads queue on the partition's lock
        assert results == {}
        gate.exec_driver_sql("COMMIT")  # release: they take turns
    for thread in threads:
        thread.join(timeout=60)
    engine.dispose()
    assert results == {"a": "loaded", "b": "loaded"}
    assert scores_in(pg_url) in (first, second)  # one whole load, never a mixture


def test_a_partition_lock_held_beyond_the_wait_fails_clearly_on_postgres(
        pg_url, own_config, monkeypatch):
    runtime = (Path(__file__).parents[1] / "config" / "runtime.yaml").read_text()
    config = own_config(files={"runtime.yaml": runtime.replace(
        "warehouse_lock_wait_minutes: 15", "warehouse_lock_wait_minutes: 0.01")})
    monkeypatch.setenv("REFORMSTATS_CONFIG_DIR", str(config.config_dir))
    key = f"fact_portal_score:period_id={MARCH.period_id}"
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as gate:
        gate.exec_driver_sql("BEGIN")
        gate.execute(sa.text("SELECT pg_advisory_xact_lock(766001, hashtext(:k))"), {"k": key})
        started = time.monotonic()
        with pytest.raises(WarehouseBusyError, match=f"lock of {key} for more than 1 s"):
            load_partition(portal_load("late", {"91": 1.0}), pg_url)
        assert time.monotonic() - started < 10
        gate.exec_driver_sql("ROLLBACK")
    engine.dispose()
    assert scores_in(pg_url) == {}  # nothing of the late load was written


def test_a_snapshot_waits_for_a_load_and_then_serves_analysts_without_blocking_loads(
        settings, tmp_path):
    from warehouse.engine import snapshot

    load_partition(portal_load("r1", {"91": 80.5}), settings.warehouse_url)
    path = Path(settings.warehouse_url.removeprefix("duckdb:///"))
    writer = hold_file(path, 1.5, read_only=False)  # a load in another process
    try:
        out = snapshot(settings.warehouse_url, tmp_path / "for analysts.duckdb")
    finally:
        writer.wait(timeout=30)
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".duckdb"
                  or "partial" in p.name) == ["for analysts.duckdb"]
    analyst = hold_file(out, 20)  # keeps the snapshot open: the warehouse stays free
    try:
        load_partition(portal_load("r2", {"91": 81.0, "11": 60.0}), settings.warehouse_url)
        snap = make_engine(f"duckdb:///{out}", read_only=True, lock_wait=0)
        with snap.connect() as conn:
            assert dict(conn.exec_driver_sql(
                "SELECT unit_code, CAST(total_score AS DOUBLE) FROM v_portal_score "
                f"WHERE period_id = {MARCH.period_id}").fetchall()) == {"91": 80.5}
            assert conn.exec_driver_sql("SELECT count(*) FROM dim_period").scalar() == 527
        snap.dispose()
    finally:
        analyst.kill()
        analyst.wait()
    assert scores_in(settings.warehouse_url) == {"91": 81.0, "11": 60.0}
