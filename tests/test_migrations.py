"""Warehouse migrations on DuckDB and PostgreSQL: from an empty database and from the
schema as the loader created it before migrations existed (tests/fixtures/, dumped from
that code), ending in exactly the schema of warehouse/schema.py; loads on a warehouse that
was never upgraded fail with the command that fixes it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from steps import national_portal as steps
from tests.conftest import fast_config
from warehouse.engine import make_engine
from warehouse.migrate import PRE_MIGRATION, SchemaNotCurrentError, current, head, upgrade
from warehouse.schema import metadata

FIXTURES = Path(__file__).with_name("fixtures")
VIEWS_0001 = {"v_portal_score", "v_portal_monthly_counters", "v_indicator_monthly",
              "v_indicator_quarterly", "v_indicator_half_yearly", "v_indicator_yearly"}
VIEWS = VIEWS_0001 | {f"v_portal_score_{t}" for t in ("monthly", "quarterly", "half_yearly",
                                                      "yearly", "year_to_date")} | {
    "v_criterion_score", "v_points_lost", "v_scheme_ranking", "v_766_reconciliation",
    "v_dossier_monthly_current_province", "v_portal_monthly_counters_current_province",
    "v_dossier_monthly_current_commune"}


def execute(url: str, sql: str) -> list[tuple]:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.exec_driver_sql(sql)
            return [tuple(r) for r in result] if result.returns_rows else []
    finally:
        engine.dispose()


def build_pre_migration_warehouse(url: str, dialect: str) -> None:
    """Today's schema from its dump, with the rows a warehouse of that time holds."""
    script = (FIXTURES / f"schema_before_migrations.{dialect}.sql").read_text()
    engine = make_engine(url)
    with engine.begin() as conn:
        if dialect == "duckdb":
            conn.connection.driver_connection.execute(script)
        else:
            conn.exec_driver_sql(script)
        conn.exec_driver_sql(
            "INSERT INTO dim_period VALUES (202510, 2025, 2, 4, 10, DATE '2025-10-01', "
            "DATE '2025-10-31')")
        conn.exec_driver_sql(
            "INSERT INTO dq_result VALUES ('run-old', 'national_portal', 'portal_score', "
            "202510, 'expect_column_values_to_not_be_null(unit_code)', 'f1', 'unit_code', "
            "'critical', false, 93, 1, 'x', TIMESTAMPTZ '2025-11-02 00:00:00+00')")
        conn.exec_driver_sql(
            "INSERT INTO fact_indicator_monthly VALUES ('H97.101', 202510, "
            "'digitised_dossier_rate', 'H97', 8, 10, 0.8, 0.8, true, '2026.1', 'run-old', "
            "TIMESTAMPTZ '2025-11-02 00:00:00+00')")
        conn.exec_driver_sql(
            "INSERT INTO fact_portal_score (unit_code, period_id, total_score, source_api, "
            "fetch_id, run_id, loaded_at) VALUES ('H97', 202510, 88.5, 'legacy_gateway', "
            "'f1', 'run-old', TIMESTAMPTZ '2025-11-02 00:00:00+00')")
    engine.dispose()


def schema_of(url: str) -> dict[str, set[tuple[str, bool]]]:
    """{table: {(column, nullable)}} of the base tables, read from information_schema."""
    rows = execute(url, "SELECT c.table_name, c.column_name, c.is_nullable FROM "
                        "information_schema.columns c JOIN information_schema.tables t "
                        "ON t.table_name = c.table_name AND t.table_schema = c.table_schema "
                        "WHERE t.table_type = 'BASE TABLE' AND c.table_schema = "
                        "current_schema()")
    tables: dict[str, set[tuple[str, bool]]] = {}
    for table, column, nullable in rows:
        tables.setdefault(table, set()).add((column, nullable == "YES"))
    return tables


def detailed_schema_of(url: str) -> set[tuple]:
    """Every base-table column with its type, length, precision and nullability."""
    return set(execute(url, "SELECT c.table_name, c.column_name, c.data_type, "
                            "c.character_maximum_length, c.numeric_precision, "
                            "c.numeric_scale, c.is_nullable FROM information_schema.columns c "
                            "JOIN information_schema.tables t ON t.table_name = c.table_name "
                            "AND t.table_schema = c.table_schema WHERE t.table_type = "
                            "'BASE TABLE' AND c.table_schema = current_schema() "
                            "AND c.table_name <> 'alembic_version'"))


def expected_schema() -> dict[str, set[tuple[str, bool]]]:
    tables = {t.name: {(c.name, bool(c.nullable)) for c in t.columns}
              for t in metadata.sorted_tables}
    tables["alembic_version"] = {("version_num", False)}
    return tables


def views_of(url: str) -> set[str]:
    return {r[0] for r in execute(url, "SELECT table_name FROM information_schema.tables "
                                       "WHERE table_type = 'VIEW' AND table_schema = "
                                       "current_schema()")}


def assert_at_head_with_the_code_schema(url: str) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        assert current(conn) == head()
    engine.dispose()
    assert schema_of(url) == expected_schema()
    assert views_of(url) == VIEWS
    if url.startswith("postgresql"):  # reflection works there: compare every detail
        from alembic.autogenerate import compare_metadata
        from alembic.runtime.migration import MigrationContext

        engine = make_engine(url)
        with engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), metadata)
        engine.dispose()
        assert diffs == []


@pytest.fixture
def duck_url(tmp_path: Path) -> str:
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


def test_upgrade_from_empty_on_duckdb(duck_url: str) -> None:
    assert upgrade(duck_url) == (None, head())
    assert_at_head_with_the_code_schema(duck_url)
    # 17 years of 12 months, 4 quarters, 2 halves, 1 year and 12 years to date.
    assert execute(duck_url, "SELECT period_type, count(*), min(period_id), max(period_id) "
                             "FROM dim_period GROUP BY period_type ORDER BY 1") == [
        ("half", 34, 201931, 203532), ("month", 204, 201901, 203512),
        ("quarter", 68, 201921, 203524), ("year", 17, 201900, 203500),
        ("year_to_date", 204, 201941, 203552)]
    assert execute(duck_url, "SELECT label FROM dim_period WHERE period_id IN "
                             "(202603, 202621, 202631, 202600, 202643) ORDER BY 1") == [
        ("2026",), ("2026-03",), ("2026-H1",), ("2026-Q1",), ("2026-YTD03",)]
    assert upgrade(duck_url) == (head(), head())  # idempotent


@pytest.mark.postgres
def test_upgrade_from_empty_on_postgres(pg_empty_url: str) -> None:
    assert upgrade(pg_empty_url) == (None, head())
    assert_at_head_with_the_code_schema(pg_empty_url)
    assert upgrade(pg_empty_url) == (head(), head())


def _from_pre_migration_schema(url: str, dialect: str) -> None:
    build_pre_migration_warehouse(url, dialect)
    assert upgrade(url) == (PRE_MIGRATION, head())
    assert_at_head_with_the_code_schema(url)
    # Nothing was lost: the facts stay, and the old results got the new key and no unit.
    assert execute(url, "SELECT unit_code, total_score FROM fact_portal_score") == [
        ("H97", pytest.approx(88.5))]
    key = "run-old|national_portal|portal_score|202510|" \
          "expect_column_values_to_not_be_null(unit_code)|"
    assert execute(url, "SELECT result_id, unit_code, success, unexpected_count "
                        "FROM dq_result") == [
        (hashlib.md5(key.encode()).hexdigest(), None, False, 1)]
    # the indicator renamed as INDICATORS.md names it, its figures and version untouched
    assert execute(url, "SELECT indicator_code, numerator, denominator, formula_version "
                        "FROM fact_indicator_monthly") == [
        ("digitised_inputs_rate", 8, 10, "2026.1")]


def _revision_0001_is_the_pre_migration_schema(empty: str, dumped: str, dialect: str) -> None:
    upgrade(empty, "0001")
    build_pre_migration_warehouse(dumped, dialect)
    assert detailed_schema_of(empty) == detailed_schema_of(dumped)
    assert views_of(empty) == views_of(dumped) == VIEWS_0001


def test_revision_0001_is_the_pre_migration_schema_on_duckdb(tmp_path: Path) -> None:
    _revision_0001_is_the_pre_migration_schema(f"duckdb:///{tmp_path / 'a.duckdb'}",
                                               f"duckdb:///{tmp_path / 'b.duckdb'}", "duckdb")


@pytest.mark.postgres
def test_revision_0001_is_the_pre_migration_schema_on_postgres(pg_empty_url: str) -> None:
    from tests.conftest import pg_schema_url

    other = pg_schema_url()
    try:
        _revision_0001_is_the_pre_migration_schema(pg_empty_url, next(other), "postgresql")
    finally:
        other.close()


def test_upgrade_from_the_pre_migration_schema_on_duckdb(duck_url: str) -> None:
    _from_pre_migration_schema(duck_url, "duckdb")


@pytest.mark.postgres
def test_upgrade_from_the_pre_migration_schema_on_postgres(pg_empty_url: str) -> None:
    _from_pre_migration_schema(pg_empty_url, "postgresql")


@pytest.mark.postgres
def test_concurrent_upgrades_on_postgres_wait_for_each_other(pg_empty_url: str) -> None:
    """Three `reformstats db upgrade` processes at once (as three DAGs' first tasks would
    be) on an empty database: one creates the schema, the others wait and find it done."""
    cli = Path(sys.executable).with_name("reformstats")
    processes = [subprocess.Popen([str(cli), "db", "upgrade", "--url", pg_empty_url],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
    outputs = [p.communicate(timeout=180) for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], outputs
    said = sorted(out.strip().rsplit(": ", 1)[-1] for out, _ in outputs)
    assert said == sorted([f"empty -> {head()}", f"already at {head()}",
                           f"already at {head()}"])
    assert "password" not in " ".join(out for out, _ in outputs)
    assert_at_head_with_the_code_schema(pg_empty_url)


@pytest.mark.parametrize("state", ["missing", "empty", "pre-migration"])
def test_a_load_on_a_warehouse_never_upgraded_fails_naming_the_command(
        simulator, settings, tmp_path, state) -> None:
    import dataclasses

    path = tmp_path / "never-upgraded.duckdb"
    url = f"duckdb:///{path}"
    if state == "empty":
        execute(url, "SELECT 1")
    elif state == "pre-migration":
        build_pre_migration_warehouse(url, "duckdb")
    sim = simulator()
    ref = steps.extract("portal_monthly_counters", steps_month(), fast_config(sim.url),
                        settings)
    validated = steps.validate(ref, settings)
    with pytest.raises(SchemaNotCurrentError) as error:
        steps.load(validated, "run-1", dataclasses.replace(settings, warehouse_url=url))
    assert f"run `reformstats db upgrade --url '{url}'`" in str(error.value)
    assert {"missing": "no warehouse file at", "empty": "has no schema version",
            "pre-migration": "has no schema version"}[state] in str(error.value)
    # and it changed nothing: no file made, the schema still what it was
    if state == "missing":
        assert not path.exists()
    elif state == "empty":
        assert schema_of(url) == {}
    else:
        assert "unit_code" not in {c for c, _ in schema_of(url)["dq_result"]}


def test_the_db_commands_say_what_they_find(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from commands.cli import app

    runner = CliRunner()
    path = tmp_path / "w.duckdb"
    looked = runner.invoke(app, ["db", "current", "--url", str(path)])  # a plain path
    assert looked.exit_code == 1 and "no warehouse file at" in looked.output
    assert not path.exists()  # looking creates nothing
    made = runner.invoke(app, ["db", "upgrade", "--url", str(path), "--revision", "0002"])
    assert made.exit_code == 0 and "empty -> 0002" in made.output
    behind = runner.invoke(app, ["db", "current", "--url", str(path)])
    assert behind.exit_code == 1 and f"0002; code: {head()}" in behind.output
    assert f"0002 -> {head()}" in runner.invoke(app, ["db", "upgrade", "--url",
                                                     str(path)]).output
    past = runner.invoke(app, ["db", "upgrade", "--url", str(path), "--revision", "0002"])
    assert f"already at {head()}, past 0002" in past.output
    assert runner.invoke(app, ["db", "current", "--url", f"duckdb:///{path}"]).exit_code == 0


def test_the_pre_migration_warehouse_loads_after_upgrade(simulator, settings, tmp_path) -> None:
    import dataclasses

    url = f"duckdb:///{tmp_path / 'old.duckdb'}"
    build_pre_migration_warehouse(url, "duckdb")
    upgrade(url)
    sim = simulator()
    ref = steps.extract("portal_monthly_counters", steps_month(), fast_config(sim.url),
                        settings)
    audit = steps.load(steps.validate(ref, settings), "run-1",
                       dataclasses.replace(settings, warehouse_url=url))
    assert audit["rows_loaded"] == 2  # the two covered provinces of config/sources.yaml
    assert execute(url, "SELECT count(*) FROM fact_portal_score") == [(1,)]  # kept


def steps_month():
    from domain.periods import Month

    return Month(2026, 2)
