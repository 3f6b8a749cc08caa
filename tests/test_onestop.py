"""Provincial one-stop systems end to end against the simulator over real HTTP: clients,
personal-data minimisation, counters, indicators, cross-check, idempotent loads."""

from __future__ import annotations

import dataclasses
import json
import logging
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from domain.periods import Month
from sources.errors import SourceHTTPError
from sources.onestop import OneStopConfig, make_source
from sources.raw_zone import read_manifest
from steps import onestop as steps
from steps.marts import build_indicators
from steps.reference import refresh_reference
from transforms.dossiers import COUNTER_COLUMNS, monthly_counters
from transforms.personal_data import MissingHashKeyError, dossier_key

OCT, NOV, DEC = Month(2025, 10), Month(2025, 11), Month(2025, 12)
KEY = b"test-hash-key-0123456789abcdef"
VENDORS = {"H97": "igate", "H98": "igate", "H99": "opencps"}


def config(sim, province="H97", **overrides) -> OneStopConfig:
    options = {"rate_per_second": 500.0, "page_size": 250, "initial_wait": 0.05,
               "max_wait": 0.2, "read_timeout": 10.0, "hash_key": KEY, **overrides}
    return OneStopConfig(province, VENDORS[province], f"{sim.url}/onestop/{province}",
                         "reformstats", "sim-secret", **options)


def run_month(sim, settings, province="H97", month=OCT, run_id="run-1", **options):
    """The one-stop DAG's steps for one province, then the marts step for the month."""
    cfg = config(sim, province, **options)
    ref = steps.extract_dossiers(province, month, cfg, settings, part_rows=400)
    aggregates = steps.extract_aggregates(province, month, cfg, settings)
    validated = steps.validate_dossiers(ref, settings)
    audit = steps.load_month(validated, aggregates, run_id, settings)
    build_indicators(month, run_id, settings)
    return ref, validated, audit


def world_export(sim, province="H97", month=OCT) -> pa.Table:
    return sim.onestop.month_data(province, month)[0]


def agencies(settings, month=OCT) -> dict[str, str]:
    return settings.units.mapping("onestop_agency", month.first_day)


# -- client ----------------------------------------------------------------------------
@pytest.mark.parametrize("export_format", ["json", "csv"])
def test_token_expiry_429_5xx_and_repeated_pages_lose_and_duplicate_nothing(
        simulator, settings, export_format):
    sim = simulator({"expire_token": 2, "rate_limit": 1, "server_error": 2,
                     "repeat_page": 2, "malformed_json": 1}, retry_after=0.1)
    # the faults can pile up on one call, hence more attempts than the default
    source = make_source(config(sim, max_attempts=9, export_format=export_format))
    pages = list(source.dossier_pages(OCT, agencies(settings)))
    keys = pa.concat_tables(pages)["dossier_key"].to_pylist()
    expected = {dossier_key(i, KEY) for i in world_export(sim)["dossier_id"].to_pylist()}
    assert len(keys) == len(set(keys)) == source.total == len(expected)
    assert set(keys) == expected
    assert source.http.auth.renewals == 3  # first token + one after each revocation
    assert sim.faults.fired == {"expire_token": 2, "rate_limit": 1, "server_error": 2,
                                "repeat_page": 2, "malformed_json": 1}


def test_wrong_client_secret_fails_at_once_without_retrying(simulator, settings):
    sim = simulator()
    source = make_source(dataclasses.replace(config(sim), client_secret="wrong"))
    with pytest.raises(SourceHTTPError, match="not retried"):
        list(source.dossier_pages(OCT, agencies(settings)))
    assert sim.onestop.tokens_issued == 0


def test_without_a_hash_key_nothing_is_extracted(simulator, settings):
    sim = simulator()
    with pytest.raises(MissingHashKeyError):
        steps.extract_dossiers("H97", OCT, config(sim, hash_key=b""), settings)
    folder = next(Path(settings.raw_dir, "onestop_H97", "dossiers").glob("*/fetch=*"))
    assert read_manifest(folder)["status"] == "failed"
    assert not (folder / "parts").exists()


# -- personal data ---------------------------------------------------------------------
@pytest.mark.parametrize("export_format", ["json", "csv"])
def test_no_personal_data_or_dossier_id_reaches_disk_logs_or_warehouse(
        simulator, settings, caplog, export_format):
    sim = simulator({"bad_values": 1, "missing_field": 1, "unknown_unit": 1})
    caplog.set_level(logging.DEBUG)
    _, _, audit = run_month(sim, settings, export_format=export_format)
    if export_format == "json":  # the data faults act on JSON pages
        assert audit["rows_quarantined"] == 3  # quarantine is checked below too
    export = world_export(sim)
    secrets = set()
    for column in ("applicant_name", "applicant_id_number", "applicant_phone",
                   "applicant_address", "dossier_id"):
        secrets |= set(export[column].to_pylist())
    assert len(secrets) > 4 * export.num_rows * 0.9

    texts: list[str] = [caplog.text]
    for path in Path(settings.data_dir).rglob("*"):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            texts += [str(v) for c in table.columns if pa.types.is_string(c.type)
                      for v in c.to_pylist()]
        elif path.is_file() and path.suffix in {".json", ".body"}:
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    engine = sa.create_engine(settings.warehouse_url)
    with engine.connect() as conn:
        columns = conn.exec_driver_sql(
            "SELECT c.table_name, c.column_name FROM information_schema.columns c "
            "JOIN information_schema.tables t USING (table_name) "
            "WHERE t.table_type = 'BASE TABLE' AND c.data_type IN ('VARCHAR', 'TEXT')"
        ).fetchall()
        assert len(columns) > 20
        for table, column in columns:
            texts += [str(v) for (v,) in conn.exec_driver_sql(
                f'SELECT "{column}" FROM {table} WHERE "{column}" IS NOT NULL')]
    engine.dispose()
    haystack = "\n".join(texts)
    leaked = [s for s in secrets if s in haystack]
    assert leaked == []
    # and the check can see: the minimised keys are there
    assert dossier_key(export["dossier_id"][0].as_py(), KEY) in haystack


# -- counters, indicators, cross-check --------------------------------------------------
def fact_rows(url: str, table: str, extra_where: str = "") -> list[tuple]:
    engine = sa.create_engine(url)
    skip = {"fetch_id", "run_id", "loaded_at"}
    from warehouse.schema import metadata

    cols = [c.name for c in metadata.tables[table].columns if c.name not in skip]
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql(
            f"SELECT {', '.join(cols)} FROM {table} {extra_where} ORDER BY 1, 2, 3")]
    engine.dispose()
    return rows


def test_loaded_counters_equal_the_worlds_and_balance(simulator, settings):
    sim = simulator()
    run_month(sim, settings)
    _, world_counters = sim.onestop.month_data("H97", OCT)
    loaded = fact_rows(settings.warehouse_url, "fact_dossier_monthly")
    expected = sorted((r["unit_code"], r["procedure_code"], r["period_id"], "H97",
                       *(r[c] for c in COUNTER_COLUMNS)) for r in world_counters)
    assert loaded == expected
    for row in world_counters:
        assert (row["carried_over"] + row["received_total"] == row["resolved_total"]
                + row["in_progress_on_time"] + row["in_progress_overdue"] + row["paused"]
                + row["returned"] + row["withdrawn"])


@pytest.mark.parametrize("province", ["H97", "H99"])
def test_cross_check_agrees_and_flags_a_misstated_aggregate_for_its_unit(simulator, settings,
                                                                         province):
    sim = simulator()
    run_month(sim, settings, province, run_id="clean")
    sim.faults = type(sim.faults)({"stats_mismatch": 1})
    run_month(sim, settings, province, run_id="mismatch")
    with duckdb.connect(settings.warehouse_url.removeprefix("duckdb:///"),
                        read_only=True) as db:
        rows = db.execute("SELECT run_id, check_name, unit_code, success, unexpected_count, "
                          "details FROM dq_result WHERE check_name LIKE 'crosscheck:%' "
                          "ORDER BY 1, 2, 3 NULLS FIRST").fetchall()
    clean = [r for r in rows if r[0] == "clean"]
    assert clean and all(success for *_, success, _, _ in clean)
    assert all(unit is None for _, _, unit, *_ in clean)  # nothing failed: no unit rows
    failed = [(name, unit, count, details) for run, name, unit, success, count, details
              in rows if run == "mismatch" and not success]
    (name, _, count, details), (unit_name, unit, unit_count, _) = failed
    assert name == unit_name == "crosscheck:received_total"
    assert count == unit_count == 1
    (difference,) = json.loads(details)
    assert difference["aggregate"] - difference["export"] == 3
    assert unit == difference["unit_code"]  # the unit-level result routes to its office


def test_quarter_indicator_is_the_ratio_of_summed_counters(simulator, settings):
    sim = simulator()
    refresh_reference(settings)  # the period views read the catalogue from dim_indicator
    for month in (OCT, NOV, DEC):
        run_month(sim, settings, month=month, run_id=f"run-{month}")
    db = duckdb.connect(settings.warehouse_url.removeprefix("duckdb:///"), read_only=True)
    try:
        sums = db.execute("""SELECT unit_code, sum(resolved_early + resolved_on_time),
                                    sum(resolved_total), sum(received_online),
                                    sum(received_total)
                             FROM fact_dossier_monthly GROUP BY 1""").fetchall()
        quarter = {(u, i): (n, d, v) for u, i, n, d, v in db.execute(
            """SELECT unit_code, indicator_code, numerator, denominator, value
               FROM v_indicator_quarterly WHERE year = 2025 AND quarter = 4""").fetchall()}
        months = db.execute("""SELECT count(DISTINCT period_id) FROM fact_indicator_monthly
                               """).fetchone()[0]
        stock_based = db.execute("""SELECT count(*) FROM v_indicator_quarterly WHERE
                                    indicator_code = 'on_time_rate_with_in_progress'
                                 """).fetchone()[0]
    finally:
        db.close()
    assert months == 3
    assert stock_based == 0  # month-end stocks are not summed into a quarter
    for unit, on_time, resolved, online, received in sums:
        n, d, v = quarter[(unit, "on_time_rate")]
        assert (n, d) == (on_time, resolved)
        assert v == pytest.approx(on_time / resolved)
        n, d, v = quarter[(unit, "online_intake_rate")]
        assert (n, d) == (online, received)
        assert v == (pytest.approx(online / received) if received else None)


# -- idempotency and revisions ----------------------------------------------------------
def _rerun_and_revise(simulator, settings) -> None:
    sim = simulator({"missing_field": 1})
    run_month(sim, settings, run_id="run-1")
    first = fact_rows(settings.warehouse_url, "fact_dossier_monthly")
    first_ind = fact_rows(settings.warehouse_url, "fact_indicator_monthly")
    sim.faults = type(sim.faults)({"missing_field": 1})
    run_month(sim, settings, run_id="run-2")
    assert fact_rows(settings.warehouse_url, "fact_dossier_monthly") == first
    assert fact_rows(settings.warehouse_url, "fact_indicator_monthly") == first_ind
    engine = sa.create_engine(settings.warehouse_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM quarantine_row").scalar_one() == 1
    # The source revises the month: new figures replace the old ones, nothing is added.
    revised = simulator(seed=999)
    run_month(revised, settings, run_id="run-3")
    after = fact_rows(settings.warehouse_url, "fact_dossier_monthly")
    assert after != first
    _, world_counters = revised.onestop.month_data("H97", OCT)
    assert len(after) == len(world_counters)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM quarantine_row").scalar_one() == 0
        assert conn.exec_driver_sql(
            "SELECT count(DISTINCT fetch_id) FROM fact_dossier_monthly").scalar_one() == 1
    engine.dispose()


def test_rerun_changes_nothing_and_revision_replaces_on_duckdb(simulator, settings):
    _rerun_and_revise(simulator, settings)


@pytest.mark.postgres
def test_rerun_changes_nothing_and_revision_replaces_on_postgres(simulator, settings,
                                                                 pg_url):
    _rerun_and_revise(simulator, dataclasses.replace(settings, warehouse_url=pg_url))


def test_reference_tables_follow_config(settings):
    counts = refresh_reference(settings)
    assert counts == refresh_reference(settings)  # replaced, not appended
    assert counts["dim_procedure"] == 20 and counts["dim_indicator"] == 9


def test_counters_from_parts_equal_counters_from_one_table(simulator, settings):
    sim = simulator()
    ref = steps.extract_dossiers("H97", OCT, config(sim), settings, part_rows=300)
    parts = sorted(Path(ref["path"], "parts").glob("*.parquet"))
    assert len(parts) > 2
    whole = pa.concat_tables(pq.read_table(p) for p in parts)
    assert monthly_counters(parts, OCT).to_pylist() == monthly_counters(whole, OCT).to_pylist()


def test_validation_drops_duplicate_dossiers_and_quarantines_broken_ones(tmp_path):
    from expectations.sql_rules import run_rules
    from tests.test_dossier_counters import dossier
    from transforms.dossiers import DOSSIER_SCHEMA

    rows = [dossier("2025-10-02 08:00"), dossier("2025-10-03 08:00", channel=2),
            dossier("2025-10-04 08:00", channel=7),                        # unknown channel
            dossier("2025-10-05 08:00", finished="2025-10-01 08:00")]      # ends before intake
    rows.append(dict(rows[1]))                                             # a repeated dossier
    part = tmp_path / "part-00001.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=DOSSIER_SCHEMA), part)
    result = run_rules("dossiers", [part], tmp_path / "good.parquet", tmp_path / "bad.parquet",
                       key="dossier_key", order_by="received_at")
    assert (result.rows_in, result.duplicates_dropped) == (4, 1)
    assert (result.rows_good, result.rows_quarantined) == (2, 2)
    bad = pq.read_table(tmp_path / "bad.parquet").to_pylist()
    assert sorted(r["reasons"] for r in bad) == [
        "intake channel is 1 in person, 2 online or 3 postal",
        "nothing happens to a dossier before it was received"]
    failed = {o.check_name for o in result.outcomes if not o.success}
    assert failed == {"rule:intake_channel_known", "rule:events_after_intake"}
