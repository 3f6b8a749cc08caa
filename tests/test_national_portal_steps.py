"""Extract -> raw zone -> validate -> load, against the simulator and real databases."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from domain.periods import Period
from sources.errors import SourceHTTPError
from sources.raw_zone import FetchRef, RawZone, read_manifest
from steps import national_portal as steps
from tests.conftest import fast_config
from warehouse.schema import metadata

LEGACY_MONTH = Period("month", 2026, 2)
REPORTING_MONTH = Period("month", 2026, 3)
# 34 provinces + An Giang (91): 12 departments, 102 communes + Điện Biên (11): 12, 45
UNITS_PER_MONTH = 34 + 12 + 102 + 12 + 45


def run_month(dataset, month, sim, settings, run_id="run-1"):
    ref = steps.extract(dataset, month, fast_config(sim.url), settings)
    validated = steps.validate(ref, settings)
    return ref, validated, steps.load(validated, run_id, settings)


def fact_rows(url: str, table: str, period_id: int) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            skip = {"loaded_at", "run_id", "fetch_id"}
            cols = [c.name for c in metadata.tables[table].columns if c.name not in skip]
            sql = (f"SELECT {', '.join(cols)} FROM {table} WHERE period_id = {period_id} "
                   "ORDER BY unit_code")
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def scalar(url: str, sql: str) -> object:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql(sql).scalar_one()
    finally:
        engine.dispose()


# -- raw zone --------------------------------------------------------------------------
def test_raw_zone_keeps_every_response_byte_for_byte_with_its_hash(simulator, settings):
    sim = simulator()
    ref = FetchRef.from_dict(steps.extract("portal_score", LEGACY_MONTH,
                                           fast_config(sim.url), settings))
    manifest = read_manifest(ref.path)
    assert manifest["status"] == "complete"
    assert manifest["responses"] == 3  # national list + one list per covered province
    bodies = sorted(Path(ref.path, "responses").glob("*.body"))
    for body, sha in zip(bodies, manifest["sha256"], strict=True):
        meta = json.loads(body.with_suffix(".meta.json").read_text())
        assert hashlib.sha256(body.read_bytes()).hexdigest() == sha == meta["sha256"]
        assert meta["status"] == 200 and meta["params"]["service"] == "report_tinh_766_service"
    # The first body is exactly what the gateway sends for that request.
    first = json.loads(bodies[0].with_suffix(".meta.json").read_text())
    again = requests.post(first["url"], data={"params": json.dumps(
        first["params"], ensure_ascii=False)}, timeout=5)
    assert again.content == bodies[0].read_bytes()


def test_refetch_adds_a_version_and_failed_fetch_is_never_used(simulator, settings):
    sim = simulator()
    first = steps.extract("portal_score", LEGACY_MONTH, fast_config(sim.url), settings)
    second = steps.extract("portal_score", LEGACY_MONTH, fast_config(sim.url), settings)
    sim.faults = type(sim.faults)({"bad_request": 1})
    with pytest.raises(SourceHTTPError):
        steps.extract("portal_score", LEGACY_MONTH, fast_config(sim.url), settings)
    zone = RawZone(settings.raw_dir)
    folders = zone.fetches("national_portal", "portal_score", LEGACY_MONTH)
    assert len(folders) == 3
    assert read_manifest(folders[-1])["status"] == "failed"
    assert Path(first["path"], "records.parquet").exists()  # the old version is untouched
    latest = zone.latest_complete("national_portal", "portal_score", LEGACY_MONTH)
    assert latest.fetch_id == second["fetch_id"]


def test_a_dropped_file_lands_byte_for_byte_with_its_hash(tmp_path, settings):
    from domain.periods import Month

    dropped = tmp_path / "inbox" / "Báo cáo tháng 10.xlsx"
    dropped.parent.mkdir()
    dropped.write_bytes(b"PK\x03\x04 not really a workbook \xff\x00")
    ref = RawZone(settings.raw_dir).land_file("eoffice_H97", "documents", Month(2025, 10),
                                              dropped)
    manifest = read_manifest(ref.path)
    kept = Path(ref.path, "files", dropped.name)
    assert kept.read_bytes() == dropped.read_bytes()
    assert manifest["status"] == "complete" and manifest["files"] == [dropped.name]
    assert manifest["sha256"] == [hashlib.sha256(dropped.read_bytes()).hexdigest()]
    assert dropped.exists()  # archiving it is the caller's business, once loaded


# -- validation and quarantine ---------------------------------------------------------
def test_bad_rows_are_quarantined_with_reasons_and_good_rows_loaded(simulator, settings):
    sim = simulator({"missing_field": 1, "bad_values": 1, "unknown_unit": 1})
    _, validated, audit = run_month("portal_score", LEGACY_MONTH, sim, settings)
    assert validated["rows_in"] == UNITS_PER_MONTH + 1  # the portal also lists an unknown unit
    assert audit["rows_quarantined"] == 3
    assert audit["rows_loaded"] == UNITS_PER_MONTH - 2
    url = settings.warehouse_url
    reasons = scalar(url, "SELECT string_agg(reasons, ' | ') FROM quarantine_row")
    assert "component TDGQ is present" in reasons
    assert "component CKMB within [0, 18]" in reasons
    assert "total = sum of the six components" in reasons
    assert "unit unmatched: no unit named 'UBND xã Không Có Thật'" in reasons
    assert scalar(url, "SELECT count(*) FROM dq_result WHERE NOT success") >= 4
    assert scalar(url, "SELECT max(ckmb) FROM fact_portal_score") <= 18


def test_monthly_counters_with_negative_count_and_rate_over_100_are_quarantined(
        simulator, settings):
    sim = simulator({"bad_values": 1})
    _, _, audit = run_month("portal_monthly_counters", LEGACY_MONTH, sim, settings)
    assert (audit["rows_loaded"], audit["rows_quarantined"]) == (1, 1)  # 91 and 11
    reasons = scalar(settings.warehouse_url, "SELECT reasons FROM quarantine_row")
    assert "received_postal is a non-negative count" in reasons
    assert "published_on_time_pct is a percentage" in reasons


def test_reporting_api_month_loads_the_same_scores_the_world_holds(simulator, settings):
    sim = simulator()
    _, _, audit = run_month("portal_score", REPORTING_MONTH, sim, settings)
    assert audit["rows_loaded"] == UNITS_PER_MONTH
    province = next(p for p in sim.world.provinces(REPORTING_MONTH)
                    if p.unit.unit_code == "11")
    commune = sim.world.children(province, REPORTING_MONTH)[-1].unit
    expected = sim.world.scores(commune, REPORTING_MONTH.last_month)
    loaded = scalar(settings.warehouse_url, "SELECT total_score FROM fact_portal_score "
                    f"WHERE unit_code = '{commune.unit_code}' AND period_id = "
                    f"{REPORTING_MONTH.period_id}")
    assert float(loaded) == pytest.approx(expected["TONG_SCORE"])


# -- idempotent, atomic loads on both engines ------------------------------------------
def _idempotency(simulator, settings) -> None:
    sim = simulator({"missing_field": 1})
    run_month("portal_score", LEGACY_MONTH, sim, settings, "run-1")
    url = settings.warehouse_url
    first = fact_rows(url, "fact_portal_score", LEGACY_MONTH.period_id)
    q_first = scalar(url, "SELECT count(*) FROM quarantine_row")
    sim.faults = type(sim.faults)({"missing_field": 1})  # the same source answer again
    run_month("portal_score", LEGACY_MONTH, sim, settings, "run-2")
    assert fact_rows(url, "fact_portal_score", LEGACY_MONTH.period_id) == first
    assert len(first) == UNITS_PER_MONTH - 1
    assert scalar(url, "SELECT count(*) FROM quarantine_row") == q_first == 1
    assert scalar(url, "SELECT count(*) FROM load_audit") == 2  # one audit row per run

    # The source revises the month (a new seed): the partition is replaced, not appended.
    revised = simulator(seed=767)
    run_month("portal_score", LEGACY_MONTH, revised, settings, "run-3")
    after = fact_rows(url, "fact_portal_score", LEGACY_MONTH.period_id)
    assert len(after) == UNITS_PER_MONTH
    assert after != first
    assert scalar(url, "SELECT count(*) FROM quarantine_row") == 0
    assert scalar(url, "SELECT count(DISTINCT fetch_id) FROM fact_portal_score") == 1


def _atomicity(simulator, settings) -> None:
    from warehouse.engine import make_engine
    from warehouse.loader import replace_partition
    from warehouse.schema import fact_portal_score

    sim = simulator()
    _, validated, _ = run_month("portal_score", LEGACY_MONTH, sim, settings)
    before = fact_rows(settings.warehouse_url, "fact_portal_score", LEGACY_MONTH.period_id)
    import pyarrow.parquet as pq

    rows = pq.read_table(Path(validated["staging"]) / "good.parquet")
    engine = make_engine(settings.warehouse_url)
    with pytest.raises(ValueError, match="rows lack required columns"), engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM dq_result")
        replace_partition(conn, fact_portal_score, rows, {"period_id": LEGACY_MONTH.period_id})
    engine.dispose()
    assert fact_rows(settings.warehouse_url, "fact_portal_score",
                     LEGACY_MONTH.period_id) == before
    assert scalar(settings.warehouse_url, "SELECT count(*) FROM dq_result") > 0


def test_rerun_is_idempotent_and_revision_replaces_on_duckdb(simulator, settings):
    _idempotency(simulator, settings)


def test_failed_load_leaves_the_previous_partition_on_duckdb(simulator, settings):
    _atomicity(simulator, settings)


@pytest.mark.postgres
def test_rerun_is_idempotent_and_revision_replaces_on_postgres(simulator, settings, pg_url):
    _idempotency(simulator, dataclasses.replace(settings, warehouse_url=pg_url))


@pytest.mark.postgres
def test_failed_load_leaves_the_previous_partition_on_postgres(simulator, settings, pg_url):
    _atomicity(simulator, dataclasses.replace(settings, warehouse_url=pg_url))


@pytest.mark.postgres
def test_postgres_and_duckdb_load_identical_rows(simulator, settings, pg_url):
    sim = simulator()
    ref = steps.extract("portal_monthly_counters", LEGACY_MONTH, fast_config(sim.url), settings)
    validated = steps.validate(ref, settings)
    steps.load(validated, "run-1", settings)
    steps.load(validated, "run-1", dataclasses.replace(settings, warehouse_url=pg_url))
    duck = fact_rows(settings.warehouse_url, "fact_portal_monthly_counters",
                     LEGACY_MONTH.period_id)
    pg = fact_rows(pg_url, "fact_portal_monthly_counters", LEGACY_MONTH.period_id)
    assert len(duck) == 2
    assert [tuple(map(str, r)) for r in duck] == [tuple(map(str, r)) for r in pg]
