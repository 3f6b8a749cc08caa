"""Provincial one-stop systems end to end against the simulator over real HTTP: clients,
personal-data minimisation, counters, indicators, cross-check, idempotent loads."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from domain.periods import VN_TZ, Month
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
VENDORS = {"91": "igate", "11": "igate", "04": "opencps"}


def config(sim, province="91", **overrides) -> OneStopConfig:
    options = {"rate_per_second": 500.0, "page_size": 250, "initial_wait": 0.05,
               "max_wait": 0.2, "read_timeout": 10.0, "hash_key": KEY, **overrides}
    return OneStopConfig(province, VENDORS[province], f"{sim.url}/onestop/{province}",
                         "reformstats", "sim-secret", **options)


def run_month(sim, settings, province="91", month=OCT, run_id="run-1", **options):
    """The one-stop DAG's steps for one province, then the marts step for the month."""
    cfg = config(sim, province, **options)
    ref = steps.extract_dossiers(province, month, cfg, settings, part_rows=400)
    aggregates = steps.extract_aggregates(province, month, cfg, settings)
    validated = steps.validate_dossiers(ref, settings)
    audit = steps.load_month(validated, aggregates, run_id, settings)
    build_indicators(month, run_id, settings)
    return ref, validated, audit


def world_export(sim, province="91", month=OCT) -> pa.Table:
    return sim.onestop.export(province, month)


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


def test_a_month_without_any_dossier_is_served_and_extracted(simulator, settings):
    sim = simulator(dossiers_per_unit=0)  # every unit-month draws zero dossiers
    assert world_export(sim).num_rows == 0
    ref = steps.extract_dossiers("91", OCT, config(sim), settings)
    manifest = read_manifest(ref["path"])
    assert (manifest["status"], manifest["records"], manifest["source_total"]) == (
        "complete", 0, 0)


def test_wrong_client_secret_fails_at_once_without_retrying(simulator, settings):
    sim = simulator()
    source = make_source(dataclasses.replace(config(sim), client_secret="wrong"))
    with pytest.raises(SourceHTTPError, match="not retried"):
        list(source.dossier_pages(OCT, agencies(settings)))
    assert sim.onestop.tokens_issued == 0


def test_without_a_hash_key_nothing_is_extracted(simulator, settings):
    sim = simulator()
    with pytest.raises(MissingHashKeyError):
        steps.extract_dossiers("91", OCT, config(sim, hash_key=b""), settings)
    folder = next(Path(settings.raw_dir, "onestop_91", "dossiers").glob("*/fetch=*"))
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
    skip = {"fetch_id", "run_id", "loaded_at", "source"}  # lineage
    from warehouse.schema import metadata

    cols = [c.name for c in metadata.tables[table].columns if c.name not in skip]
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql(
            f"SELECT {', '.join(cols)} FROM {table} {extra_where} ORDER BY 1, 2, 3")]
    engine.dispose()
    return rows


def reference_rows(sim, province="91", month=OCT) -> list[tuple]:
    """The simulator's own counters (simulator/reference_counters.py, row by row from
    INDICATORS.md), as fact_dossier_monthly rows."""
    return sorted((unit, procedure, month.period_id, province,
                   *(c[name] for name in COUNTER_COLUMNS))
                  for (unit, procedure), c in sim.onestop.expected_counters(
                      province, month).items())


def behaviours_in(export: pa.Table, month: Month) -> dict[str, int]:
    """How many dossiers of the export show each behaviour the counters must handle, read
    from the raw fields (so the comparison below is known to exercise them)."""
    start = dt.datetime(month.year, month.month, 1, tzinfo=VN_TZ)
    end = dt.datetime.combine(month.next().first_day, dt.time(), VN_TZ)
    seen: dict[str, int] = dict.fromkeys((
        "carried_over", "paused", "returned", "withdrawn", "open_at_end",
        "on_time_only_thanks_to_supplement_days", "late_by_two_requests",
        "postal_result_mailed_next_month", "resolved_without_promised_date",
        "open_without_promised_date", "received_within_an_hour_of_midnight_at_month_turn",
        "resolved_within_an_hour_of_midnight_at_month_end"), 0)
    for d in export.to_pylist():
        received, finished = d["received_at"], d["finished_at"]
        closed = min((t for t in (finished, d["returned_at"], d["withdrawn_at"]) if t),
                     default=None)
        if received >= end or (closed and closed < start):
            continue
        seen["carried_over"] += received < start
        for when, name in ((d["paused_at"], "paused"), (d["returned_at"], "returned"),
                           (d["withdrawn_at"], "withdrawn")):
            seen[name] += bool(when and when < end)
        seen["open_at_end"] += not closed or closed >= end
        promised = d["promised_date"]
        turns = [start, end]
        seen["received_within_an_hour_of_midnight_at_month_turn"] += any(
            abs((received - turn).total_seconds()) < 3600 for turn in turns)
        if finished and start <= finished < end:
            day = finished.astimezone(VN_TZ).date()
            seen["resolved_within_an_hour_of_midnight_at_month_end"] += (
                abs((finished - end).total_seconds()) < 3600)
            seen["resolved_without_promised_date"] += promised is None
            if promised and d["supplement_days"] and d["additional_requests"] == 1:
                seen["on_time_only_thanks_to_supplement_days"] += (
                    promised < day <= promised + dt.timedelta(days=d["supplement_days"]))
            seen["late_by_two_requests"] += bool(
                d["additional_requests"] > 1 and promised and day <= promised)
            seen["postal_result_mailed_next_month"] += bool(
                d["result_channel"] == 3 and d["result_returned_at"]
                and d["result_returned_at"] >= end)
        elif not closed or closed >= end:
            seen["open_without_promised_date"] += promised is None
    return seen


def test_pipeline_counters_equal_the_simulators_independent_reference(simulator, settings):
    """Extract over HTTP, validate, count, load: fact_dossier_monthly equals what the
    simulator's own reference implementation counts from the same dossiers, in a month
    with every behaviour. Neither side shares code with the other, so this fails when
    either reading of INDICATORS.md changes alone."""
    sim = simulator(dossiers_per_unit=150)
    seen = behaviours_in(world_export(sim), OCT)
    assert all(count > 0 for count in seen.values()), seen
    run_month(sim, settings)
    loaded = fact_rows(settings.warehouse_url, "fact_dossier_monthly")
    expected = reference_rows(sim)
    assert len(expected) > 150  # (unit, procedure) rows: 19 units with 150 dossiers each
    assert loaded == expected
    totals = {c: sum(row[4 + i] for row in expected) for i, c in enumerate(COUNTER_COLUMNS)}
    assert all(totals[c] > 0 for c in COUNTER_COLUMNS), totals
    for row in expected:  # and the reference balances by itself
        c = dict(zip(COUNTER_COLUMNS, row[4:], strict=True))
        assert (c["carried_over"] + c["received_total"] == c["resolved_total"]
                + c["in_progress_on_time"] + c["in_progress_overdue"] + c["paused"]
                + c["returned"] + c["withdrawn"])


@pytest.mark.parametrize("province", ["91", "04"])
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
    assert after == reference_rows(revised)
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
    assert counts["dim_procedure"] == 20 and counts["dim_indicator"] == 13  # 9 + 4 e-office


def test_counters_from_parts_equal_counters_from_one_table(simulator, settings):
    sim = simulator()
    ref = steps.extract_dossiers("91", OCT, config(sim), settings, part_rows=200)
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
            dossier("2025-10-05 08:00", finished="2025-10-01 08:00"),      # ends before intake
            dossier("2025-10-06 08:00", procedure="1." + "0" * 299)]       # longer than 32
    rows.append(dict(rows[1]))                                             # a repeated dossier
    folder = tmp_path / "Sở Nội vụ's data"  # a quote in the path must not break the SQL
    folder.mkdir()
    part = folder / "part-00001.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=DOSSIER_SCHEMA), part)
    result = run_rules("dossiers", [part], folder / "good.parquet", folder / "bad.parquet",
                       key="dossier_key", order_by="received_at", table="fact_dossier_monthly")
    assert (result.rows_in, result.duplicates_dropped) == (5, 1)
    assert (result.rows_good, result.rows_quarantined) == (2, 3)
    bad = pq.read_table(folder / "bad.parquet").to_pylist()
    assert sorted(r["reasons"] for r in bad) == [
        "intake channel is 1 in person, 2 online or 3 postal",
        "nothing happens to a dossier before it was received",
        "procedure_code has at most 32 characters "
        "(fact_dossier_monthly.procedure_code VARCHAR(32))"]
    failed = {o.check_name for o in result.outcomes if not o.success}
    assert failed == {"rule:intake_channel_known", "rule:events_after_intake",
                      "rule:procedure_code_fits"}
