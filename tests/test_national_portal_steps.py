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


# -- portal_metric: the reporting API's metric groups and tree groups -------------------
# The world's metric groups and tree groups, and the metric code each tree is stored under.
TREE_CODES = {"dvc-progress-tree": "DVC_PROGRESS", "provide-online-tree": "PROVIDE_ONLINE",
              "formality-online-payment-tree": "ONLINE_PAYMENT"}
METRICS_PER_UNIT = 4 + 5 + 7 + 3  # CKMB, MDHL, MDSH metrics; the three trees


def served_metrics(world, period: Period) -> dict[tuple, tuple]:
    """{(unit code, group, metric code): (numerator, denominator, ratio, score, max,
    level, list)} for every unit the pipeline's lists hold, from the world's functions."""
    from simulator.world import METRIC_GROUPS, TREE_GROUPS

    lists = {"national": world.provinces(period)}
    for province in world.provinces(period):
        if province.unit.unit_code in ("91", "11"):
            lists[province.unit.unit_code] = world.children(province, period)
    expected = {}
    for scope, units in lists.items():
        for portal_unit in units:
            unit = portal_unit.unit
            where = (unit.level, scope)
            for group in METRIC_GROUPS:
                for m in world.metrics(group, unit, period):
                    expected[(unit.unit_code, group, m["code"])] = (
                        m["numerator"], m["denominator"], m["ratio"], m["score"],
                        m["maxScore"], m["name"], *where)
            for group in TREE_GROUPS:
                f = world.tree_figures(group, unit, period)
                expected[(unit.unit_code, group, TREE_CODES[group])] = (
                    f["totalOnTime"], f["totalReceived"], f["ratio"], f["score"],
                    f["maxScore"], None, *where)
    return expected


def loaded_metrics(url: str, period: Period) -> dict[tuple, tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT unit_code, metric_group, metric_code, numerator, denominator, ratio, "
                "score, max_score, metric_name, unit_level, list_scope FROM "
                f"fact_portal_metric WHERE period_id = {period.period_id}").all()
    finally:
        engine.dispose()
    number = lambda v: None if v is None else float(v)  # noqa: E731
    return {tuple(r[:3]): (r[3], r[4], number(r[5]), number(r[6]), number(r[7]), *r[8:])
            for r in rows}


@pytest.mark.parametrize("period", [REPORTING_MONTH, Period("quarter", 2026, 1),
                                    Period("year_to_date", 2026, 3)], ids=str)
def test_portal_metric_loads_every_metric_the_world_publishes(simulator, settings, period):
    sim = simulator()
    ref, validated, audit = run_month("portal_metric", period, sim, settings)
    assert read_manifest(ref["path"])["covered"] == str(period)
    assert validated["rejected"] is None
    assert audit["rows_quarantined"] == 0
    assert audit["rows_loaded"] == UNITS_PER_MONTH * METRICS_PER_UNIT
    expected = served_metrics(sim.world, period)
    loaded = loaded_metrics(settings.warehouse_url, period)
    assert loaded.keys() == expected.keys()
    for key, values in expected.items():
        assert loaded[key] == pytest.approx(values), key
    # As published: full points without counts (in some unit-months; a longer period has
    # counts unless none of its months had), a payment tree without totals.
    uncounted = [k for k, v in loaded.items() if v[0] is None and k[1] == "transparency"]
    assert bool(uncounted) == (period.period_type == "month")
    assert all(loaded[k][2:5] == (100.0, 2.0, 2.0) for k in uncounted)
    assert all(v[0] is None and v[1] is None for k, v in loaded.items()
               if k[2] == "ONLINE_PAYMENT")
    # The units were registered from the answers: departments under their agency codes.
    departments = scalar(settings.warehouse_url, "SELECT count(*) FROM dim_unit WHERE "
                         "origin = 'portal' AND level = 'department'")
    assert departments == 24


def test_portal_metric_of_a_month_before_the_reporting_api_is_not_published(simulator,
                                                                             settings):
    sim = simulator()
    for period in (Period("month", 2025, 10), LEGACY_MONTH):
        ref, _, audit = run_month("portal_metric", period, sim, settings)
        assert "publishes no 766 metrics" in ref["not_published"]
        assert read_manifest(ref["path"])["status"] == "not_published"
        assert audit["status"] == "not_published"
    assert requests.get(f"{sim.url}/__sim/requests", timeout=5).json() == []
    assert scalar(settings.warehouse_url, "SELECT count(*) FROM fact_portal_metric") == 0
    assert scalar(settings.warehouse_url, "SELECT count(*) FROM load_audit") == 0


def test_portal_metric_quarantines_bad_metrics_and_loads_the_rest(simulator, settings):
    # Each fault fires on the first answers: the three service-results lists, then the
    # national list's transparency: an unknown unit, and its first province's first metric
    # above its maximum (the unknown unit, last, loses a maxScore).
    sim = simulator({"unknown_unit": 4, "bad_values": 4, "missing_field": 4})
    _, validated, audit = run_month("portal_metric", REPORTING_MONTH, sim, settings)
    assert validated["rows_in"] == UNITS_PER_MONTH * METRICS_PER_UNIT + 4
    assert audit["rows_quarantined"] == 4 + 1
    assert audit["rows_loaded"] == UNITS_PER_MONTH * METRICS_PER_UNIT - 1
    reasons = scalar(settings.warehouse_url,
                     "SELECT string_agg(reasons, ' | ') FROM quarantine_row")
    assert "unit unmatched: no unit named 'UBND xã Không Có Thật'" in reasons
    assert "score <= max_score" in reasons
    assert "the metric's maximum points are published" in reasons
    issues = scalar(settings.warehouse_url, "SELECT count(*) FROM unit_match_issue WHERE "
                    "dataset = 'portal_metric'")
    assert issues == 1


def test_metric_numbers_as_strings_empty_or_absent_are_read_as_published() -> None:
    from transforms.national_portal import metric_check_columns, reporting_766_metrics

    item = {"departmentId": "u-1", "departmentName": "UBND xa\u0303 Mẫu", "departmentCode":
            "H99.50.01", "metrics": [
                {"code": "A", "name": "Ty\u0309 lệ", "numerator": "412", "denominator": "430",
                 "ratio": "95.81", "score": "5.75", "maxScore": "6"},
                {"code": "B", "name": "b", "numerator": "", "denominator": 0, "ratio": None,
                 "score": None, "maxScore": 4},
                {"code": "C", "name": "c", "ratio": 100, "score": 2, "maxScore": 2},
                {"code": "D", "name": "d", "numerator": "x", "maxScore": 2}]}
    node = {"departmentId": "u-1", "departmentCode": "H99.50.01", "totalReceived": "20",
            "totalOnTime": 15, "ratio": 75, "score": "15", "maxScore": 20}
    frame = reporting_766_metrics(
        [("99", {"group": "dossier-digitized", "item": item, "childGroup": "COMMUNE"}),
         ("99", {"group": "dvc-progress-tree", "item": node, "childGroup": None}),
         ("national", {"group": "transparency", "item": {"departmentId": "p"}})],
        REPORTING_MONTH)
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    got = [(r["metric_code"], r["numerator"], r["denominator"], r["ratio"], r["score"],
            r["max_score"]) for r in rows]
    assert got == [("A", 412, 430, 95.81, 5.75, 6.0), ("B", 0, 0, None, None, 4.0),
                   ("C", None, None, 100.0, 2.0, 2.0), ("D", None, None, None, None, 2.0),
                   ("DVC_PROGRESS", 15, 20, 75.0, 15.0, 20.0), (None,) + (None,) * 5]
    assert rows[0]["metric_name"] == "Tỷ lệ" and rows[0]["unit_name"] == "UBND xã Mẫu"
    assert [r["unit_level"] for r in rows] == ["commune"] * 4 + [None, "province"]
    assert rows[4]["metric_name"] is None and rows[4]["metric_group"] == "dvc-progress-tree"
    assert [r["parse_errors"] for r in rows][3:] == [
        "numerator: not a number: 'x'", None,
        "metrics: missing, not a list, or an item not an object"]
    assert list(frame["record_index"]) == list(range(6))
    checked = metric_check_columns(frame)
    assert list(checked["numerator_excess"].iloc[:2]) == [-18.0, 0.0]
    assert checked["score_excess"].iloc[0] == pytest.approx(-0.25)


@pytest.mark.parametrize(("cutover", "period", "asked"), [
    ("2026-05", REPORTING_MONTH, "legacy_gateway"),  # March 2026 asked of the old gateway
    ("2025-01", Period("month", 2025, 6), "reporting_api"),  # June 2025 of the new API
])
def test_the_wrong_api_generation_fails_at_once_saying_why(simulator, settings, tmp_path,
                                                            cutover, period, asked) -> None:
    """A cut-over month in config/sources.yaml that is not the portal's: the generation
    asked refuses the period (4xx, not retried), and the error names the generation, the
    period and the configured cut-over."""
    import shutil

    import yaml

    config = tmp_path / "config"
    shutil.copytree(settings.config_dir, config)
    sources = yaml.safe_load((config / "sources.yaml").read_text(encoding="utf-8"))
    sources["national_portal"]["reporting_api_from"]["portal_score"] = cutover
    (config / "sources.yaml").write_text(yaml.safe_dump(sources), encoding="utf-8")
    wrong = dataclasses.replace(settings, config_dir=config)
    sim = simulator(published_through=Period("month", 2026, 6).last_month)
    with pytest.raises(SourceHTTPError) as refused:
        steps.extract("portal_score", period, fast_config(sim.url), wrong)
    message = str(refused.value)
    assert refused.value.status in (400, 410)
    assert f"portal_score {period} was asked of the {asked}" in message
    assert f"reporting_api_from says (portal_score: {cutover})" in message
    assert len(sim.requests) == 1  # refused at the first request, not retried
