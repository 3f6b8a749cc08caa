"""The warehouse's column limits (warehouse/schema.py) enforced before a load.

A row over a limit (a 300-character procedure code, an over-long unit name or ID, a rank
beyond INTEGER, a score beyond its NUMERIC) is quarantined with a reason naming the column
and the limit; the rest of the partition loads, and DuckDB (which ignores VARCHAR lengths)
and PostgreSQL (which refuses them) accept the same rows. Every expected value below is
written by hand from the rows the test builds.
"""

from __future__ import annotations

import dataclasses
import json
import math

import duckdb
import psycopg
import pyarrow as pa
import pytest
import sqlalchemy as sa

from domain.periods import Month, Period
from expectations.schema_limits import column_limits, for_quarantine, violations
from registry.settings import PROJECT_ROOT
from sources.raw_zone import RawZone
from steps import national_portal as portal_steps
from steps import onestop as onestop_steps
from tests.test_dossier_counters import dossier
from transforms.dossiers import COUNTER_COLUMNS, DOSSIER_SCHEMA, monthly_counters
from transforms.national_portal import (
    MONTHLY_COUNT_FIELDS,
    MONTHLY_COUNTER_COLUMNS,
    PORTAL_SCORE_COLUMNS,
)
from warehouse.loader import replace_partition

OCT = Month(2025, 10)
PERIOD = Period.of_month(OCT)


# -- the limits, from a schema ---------------------------------------------------------
def _scratch_table() -> sa.Table:
    return sa.Table("scratch_limits", sa.MetaData(),
                    sa.Column("code", sa.String(5)), sa.Column("small", sa.SmallInteger),
                    sa.Column("whole", sa.Integer), sa.Column("big", sa.BigInteger),
                    sa.Column("rate", sa.Numeric(4, 1)), sa.Column("note", sa.Text),
                    sa.Column("free", sa.String()), sa.Column("share", sa.Double),
                    sa.Column("flag", sa.Boolean), sa.Column("day", sa.Date))


def test_each_sql_type_gives_its_limit_and_unbounded_types_none() -> None:
    limits = column_limits(_scratch_table())
    assert set(limits) == {"code", "small", "whole", "big", "rate"}
    assert limits["code"].max_length == 5
    assert (limits["small"].minimum, limits["small"].maximum) == (-32768, 32767)
    assert (limits["whole"].minimum, limits["whole"].maximum) == (-2147483648, 2147483647)
    assert (limits["big"].minimum, limits["big"].maximum) == (-9223372036854775808,
                                                              9223372036854775807)
    # NUMERIC(4, 1): 999.94 rounds to 999.9, 999.95 to 1000.0, which has 4 integer digits.
    assert [limits["rate"].fits(v) for v in (999.9, 999.94, -999.94, 999.95, -999.95, 1000,
                                             math.inf)] == [True] * 3 + [False] * 4
    assert limits["code"].notes == "code has at most 5 characters (scratch_limits.code VARCHAR(5))"
    assert limits["whole"].notes == ("whole is within [-2147483648, 2147483647] "
                                     "(scratch_limits.whole INTEGER)")
    assert limits["rate"].notes == ("rate rounded to 1 decimal is within ±999.9 "
                                    "(scratch_limits.rate NUMERIC(4, 1))")


# Columns of a fact table that no source value reaches: the load fills them (lineage,
# partition), or they are aggregates computed by the pipeline.
FILLED_BY_THE_LOAD = {"fetch_id", "run_id", "loaded_at"}
# and the one-stop partition: the source, and each unit's province of its time
ONESTOP_LOAD = {"source", "province_code"}
UNBOUNDED = (sa.String, sa.Float, sa.Boolean, sa.Date, sa.DateTime)  # String: no length


def _loaded_tables() -> list[str]:
    from registry.datasets import Registry

    registry = Registry.from_file(PROJECT_ROOT / "config" / "datasets.yaml")
    return sorted({d.table for d in registry if d.table})


def test_every_sized_column_of_every_loaded_table_has_a_derived_limit() -> None:
    """A column a new migration adds gets its limit without anyone writing it, and a type
    this derivation does not know fails here until someone decides its limit."""
    from warehouse.schema import metadata

    for name in _loaded_tables():
        limits = column_limits(name)
        for column in metadata.tables[name].columns:
            kind = column.type
            sized = (isinstance(kind, sa.String) and kind.length) or isinstance(
                kind, sa.Integer) or (isinstance(kind, sa.Numeric)
                                      and not isinstance(kind, sa.Float))
            if sized:
                assert column.name in limits, f"{name}.{column.name} ({kind}) has no limit"
            else:
                assert isinstance(kind, UNBOUNDED), (
                    f"{name}.{column.name}: type {kind!r} -- what does it accept?")


def test_every_limited_column_a_source_fills_is_checked_where_its_rows_are_validated() -> None:
    """The checks apply to the table's columns the validated rows carry by name; whatever
    else has a limit must be filled by the load, or be an aggregate that cannot exceed it."""
    carried = {"fact_portal_score": set(PORTAL_SCORE_COLUMNS),
               "fact_portal_monthly_counters": set(MONTHLY_COUNTER_COLUMNS),
               "fact_dossier_monthly": set(DOSSIER_SCHEMA.names)}
    not_carried = {table: set(column_limits(table)) - columns
                   for table, columns in carried.items()}
    assert not_carried["fact_portal_score"] <= FILLED_BY_THE_LOAD
    assert not_carried["fact_portal_monthly_counters"] <= FILLED_BY_THE_LOAD
    # Dossiers: unit_code and procedure_code are checked on every dossier; the partition
    # (province_code from the configuration, period_id from the month) and the counters
    # are the pipeline's.
    assert set(column_limits("fact_dossier_monthly")) & set(DOSSIER_SCHEMA.names) == {
        "unit_code", "procedure_code"}
    assert not_carried["fact_dossier_monthly"] <= FILLED_BY_THE_LOAD | ONESTOP_LOAD | {
        "period_id", *COUNTER_COLUMNS}


def test_dossier_counters_cannot_exceed_their_columns() -> None:
    """Counters are count(*) over one province-month: 64-bit by construction, and every
    counter column takes the whole 64-bit range. Narrow one, and this test asks for a check
    on the counters before the load."""
    rows = [dossier("2025-10-02 08:00")]
    counters = monthly_counters(pa.Table.from_pylist(rows, schema=DOSSIER_SCHEMA), OCT)
    limits = column_limits("fact_dossier_monthly")
    for name in COUNTER_COLUMNS:
        assert counters.schema.field(name).type == pa.int64()
        assert (limits[name].minimum, limits[name].maximum) == (-(2 ** 63), 2 ** 63 - 1)


# -- PostgreSQL and DuckDB agree with the limits ---------------------------------------
# value -> accepted by PostgreSQL (by hand: VARCHAR counts characters, not bytes).
BOUNDARIES = {
    "code": {"abcde": True, "ééééé": True, "abcdef": False, "e\u0301e\u0301e\u0301": False},
    "small": {32767: True, -32768: True, 32768: False, -32769: False},
    "whole": {2147483647: True, -2147483648: True, 2147483648: False, -2147483649: False},
    "big": {2 ** 63 - 1: True, -(2 ** 63): True},
    "rate": {999.9: True, 999.94: True, -999.94: True, 999.95: False, -999.95: False,
             1000.0: False, math.inf: False},
}


def _accepted(url: str, table: sa.Table, column: str, value: object) -> bool:
    """Whether the bulk loader gets one row with `value` in `column` into `table`."""
    from warehouse.loader import arrow_schema

    schema = arrow_schema(table)
    row = pa.Table.from_pylist([{column: value}], schema=schema)
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            replace_partition(conn, table, row, {})
        return True
    except (sa.exc.DBAPIError, duckdb.Error, psycopg.Error):  # COPY raises psycopg's own
        return False
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_postgres_refuses_exactly_what_the_limits_refuse(pg_url, tmp_path) -> None:
    table = _scratch_table()
    limits = column_limits(table)
    duck_url = f"duckdb:///{tmp_path / 'scratch.duckdb'}"
    for url in (pg_url, duck_url):
        engine = sa.create_engine(url)
        table.metadata.create_all(engine)
        engine.dispose()
    for column, cases in BOUNDARIES.items():
        for value, accepted in cases.items():
            assert limits[column].fits(value) is accepted, (column, value)
            assert _accepted(pg_url, table, column, value) is accepted, (column, value)
            # DuckDB ignores VARCHAR(n): the divergence these checks exist for.
            in_duckdb = accepted or column == "code"
            assert _accepted(duck_url, table, column, value) is in_duckdb, (column, value)


# -- dossiers --------------------------------------------------------------------------
def _rows(url: str, sql: str) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def _dossier_fetch(settings, rows: list[dict]) -> dict[str, str]:
    writer = RawZone(settings.raw_dir).new_fetch("onestop_91", "dossiers", OCT)
    writer.write_part(pa.Table.from_pylist(rows, schema=DOSSIER_SCHEMA))
    writer.finish("complete", records=len(rows), distinct=len(rows))
    return writer.ref.to_dict()


LONG_PROCEDURE = "1." + "0" * 298          # 300 characters
LONG_UNIT = "H97.101." + "9" * 30          # 38 characters
LONG_AGENCY_ID = "a" * 300


def _dossiers() -> list[dict]:
    return [
        dossier("2025-10-02 08:00"),                              # H97.101 / P1
        dossier("2025-10-03 08:00", channel=2),                   # H97.101 / P1, online
        dossier("2025-10-04 08:00", procedure="P" * 32),          # exactly 32: fits
        dossier("2025-10-05 08:00", procedure=LONG_PROCEDURE),
        dossier("2025-10-06 08:00", unit=LONG_UNIT),
        {**dossier("2025-10-07 08:00", unit="unknown"), "unit_code": None,
         "source_unit_id": LONG_AGENCY_ID},                       # no crosswalk entry
    ]


DOSSIER_REASONS = {
    "procedure": ("procedure_code has at most 32 characters "
                  "(fact_dossier_monthly.procedure_code VARCHAR(32))"),
    "unit": "unit_code has at most 32 characters (fact_dossier_monthly.unit_code VARCHAR(32))",
    "agency": "the agency maps to a known unit through the crosswalk",
}


def _load_dossiers(settings, urls: list[str]) -> dict[str, object]:
    validated = onestop_steps.validate_dossiers(_dossier_fetch(settings, _dossiers()),
                                                settings)
    return {url: onestop_steps.load_month(
        validated, None, "run-1", dataclasses.replace(settings, warehouse_url=url))
        for url in urls}


def _dossier_partition(url: str) -> dict[str, list[tuple]]:
    return {
        "facts": _rows(url, "SELECT unit_code, procedure_code, received_total, "
                            "received_in_person, received_online FROM fact_dossier_monthly "
                            "ORDER BY unit_code, procedure_code"),
        "quarantine": _rows(url, "SELECT unit_code, source_unit_id, reasons, row_json "
                                 "FROM quarantine_row ORDER BY reasons"),
        "failed": _rows(url, "SELECT check_name, unexpected_count FROM dq_result "
                             "WHERE NOT success AND unit_code IS NULL ORDER BY check_name"),
    }


def _check_dossier_partition(partition: dict[str, list[tuple]]) -> None:
    assert partition["facts"] == [("H97.101", "P1", 2, 1, 1),
                                  ("H97.101", "P" * 32, 1, 1, 0)]
    quarantine = {reasons: (unit, source_id, json.loads(row))
                  for unit, source_id, reasons, row in partition["quarantine"]}
    assert set(quarantine) == set(DOSSIER_REASONS.values())
    unit, source_id, row = quarantine[DOSSIER_REASONS["procedure"]]
    assert (unit, row["procedure_code"]) == ("H97.101", LONG_PROCEDURE)
    unit, source_id, row = quarantine[DOSSIER_REASONS["unit"]]
    # quarantine_row.unit_code holds 32 characters; the row's JSON keeps the code as sent.
    assert (unit, row["unit_code_as_sent"]) == (LONG_UNIT[:32], LONG_UNIT)
    unit, source_id, row = quarantine[DOSSIER_REASONS["agency"]]
    assert (unit, source_id, row["source_unit_id_as_sent"]) == (None, "a" * 64,
                                                                LONG_AGENCY_ID)
    assert partition["failed"] == [("rule:procedure_code_fits", 1), ("rule:unit_code_fits", 1),
                                   ("rule:unit_known", 1)]


def test_dossiers_over_a_limit_are_quarantined_and_the_rest_loads(settings) -> None:
    audit = _load_dossiers(settings, [settings.warehouse_url])[settings.warehouse_url]
    assert (audit["rows_in"], audit["rows_loaded"], audit["rows_quarantined"]) == (6, 2, 3)
    _check_dossier_partition(_dossier_partition(settings.warehouse_url))


@pytest.mark.postgres
def test_duckdb_and_postgres_accept_the_same_dossiers(settings, pg_url) -> None:
    audits = _load_dossiers(settings, [settings.warehouse_url, pg_url])
    assert {a["status"] for a in audits.values()} == {"loaded"}
    duck, pg = _dossier_partition(settings.warehouse_url), _dossier_partition(pg_url)
    _check_dossier_partition(pg)
    assert duck == pg


# -- national portal: 766 scores -------------------------------------------------------
COMPONENTS = {"TDGQ": 18.91, "MDHL": 17.55, "MDSH": 19.02, "TTTT": 9.1, "CLGQ": 8.2,
              "CKMB": 16.4}  # TONG_SCORE 89.18


def _score(source_id: str, name: str, **overrides: object) -> dict:
    return {"ID": source_id, "TEN_COQUAN": name, "MA_COQUAN": f"X{source_id}",
            "LOAI_COQUAN": "1", **COMPONENTS, "TONG_SCORE": 89.18, "ROW_STT": "1",
            **overrides}


NAME_255 = ("UBND thành phố Hà Nội " + "x" * 255)[:255]
NAME_300 = "UBND tỉnh Cao Bằng " + "y" * 281
LONG_SOURCE_ID = "7" * 100
LONG_PUBLISHED_CODE = "H" + "1" * 39        # 40 characters
SCORES = [
    ("900001", NAME_255, {}),                                   # 255 characters: fits
    ("900004", NAME_300, {}),                                   # matched by an override
    (LONG_SOURCE_ID, "UBND tỉnh Tuyên Quang", {"MA_COQUAN": "X08"}),
    ("900011", "UBND tỉnh Điện Biên", {"MA_COQUAN": LONG_PUBLISHED_CODE}),
    ("900012", "UBND tỉnh Lai Châu", {"ROW_STT": "3000000000"}),  # beyond INTEGER
    ("900014", "UBND tỉnh Sơn La", {"CKMB": 12345.67, "TONG_SCORE": 12345.67 + 72.78}),
    ("900999", "UBND tỉnh Không Có " + "z" * 300, {}),          # unmatched, and too long
    ("900015", "UBND tỉnh Lào Cai", {}),
]
OVERRIDES = ("scheme,source_id,unit_code,note\n"
             "legacy_766,900001,01,test: a name of 255 characters\n"
             "legacy_766,900004,04,test: a name of 300 characters\n")


def _score_fetch(settings) -> dict[str, str]:
    writer = RawZone(settings.raw_dir).new_fetch("national_portal", "portal_score", PERIOD)
    count = writer.write_records([("national", _score(i, name, **extra))
                                  for i, name, extra in SCORES])
    writer.finish("complete", api="legacy_gateway", period=str(PERIOD), records=count)
    return writer.ref.to_dict()


def _score_partition(url: str) -> dict[str, list[tuple]]:
    return {
        "facts": _rows(url, "SELECT unit_code, unit_name, source_unit_id, total_score, "
                            "published_rank FROM fact_portal_score ORDER BY unit_code"),
        "quarantine": _rows(url, "SELECT record_index, unit_code, source_unit_id, reasons "
                                 "FROM quarantine_row ORDER BY record_index"),
        "source_ids": _rows(url, "SELECT source_id, unit_code FROM unit_source_id "
                                 "WHERE scheme = 'legacy_766' ORDER BY source_id"),
        "issues": _rows(url, "SELECT source_id FROM unit_match_issue ORDER BY source_id"),
    }


def _check_score_partition(partition: dict[str, list[tuple]]) -> None:
    assert [(code, name, source_id, float(total), rank)
            for code, name, source_id, total, rank in partition["facts"]] == [
        ("01", NAME_255, "900001", 89.18, 1), ("15", "UBND tỉnh Lào Cai", "900015", 89.18, 1)]
    quarantine = {index: (unit, source_id, reasons)
                  for index, unit, source_id, reasons in partition["quarantine"]}
    assert sorted(quarantine) == [1, 2, 3, 4, 5, 6]
    assert quarantine[1][:2] == ("04", "900004")
    assert quarantine[1][2] == ("unit_name has at most 255 characters "
                                "(fact_portal_score.unit_name VARCHAR(255))")
    assert quarantine[2][:2] == ("08", "7" * 64)  # quarantine_row holds 64 characters
    assert quarantine[2][2] == ("source_unit_id has at most 64 characters "
                                "(fact_portal_score.source_unit_id VARCHAR(64))")
    assert quarantine[3][2] == ("published_unit_code has at most 32 characters "
                                "(fact_portal_score.published_unit_code VARCHAR(32))")
    assert quarantine[4][2] == ("published_rank is within [-2147483648, 2147483647] "
                                "(fact_portal_score.published_rank INTEGER)")
    assert ("ckmb rounded to 2 decimals is within ±9999.99 "
            "(fact_portal_score.ckmb NUMERIC(6, 2))") in quarantine[5][2]
    assert ("total_score rounded to 2 decimals is within ±9999.99 "
            "(fact_portal_score.total_score NUMERIC(6, 2))") in quarantine[5][2]
    assert quarantine[6][2].startswith("unit unmatched: ")
    assert quarantine[6][2].endswith("; unit_name has at most 255 characters "
                                     "(fact_portal_score.unit_name VARCHAR(255))")
    # What the answer taught is registered where it fits: not the 100-character ID.
    assert partition["source_ids"] == [("900001", "01"), ("900004", "04"), ("900011", "11"),
                                       ("900012", "12"), ("900014", "14"), ("900015", "15")]
    assert partition["issues"] == []  # the unmatched unit's name fits no issue row either


def _load_scores(own_config, urls: list[str], datasets: str) -> dict[str, dict]:
    # 6 of the 8 rows are broken on purpose: past portal_score's max_held_share
    settings = own_config(files={"units/overrides.csv": OVERRIDES, "datasets.yaml": datasets})
    validated = portal_steps.validate(_score_fetch(settings), settings)
    assert validated["rejected"] is None
    return {url: portal_steps.load(validated, "run-1",
                                   dataclasses.replace(settings, warehouse_url=url))
            for url in urls}


def test_portal_scores_over_a_limit_are_quarantined_and_the_rest_loads(
        own_config, settings, datasets_without_held_share) -> None:
    audit = _load_scores(own_config, [settings.warehouse_url],
                         datasets_without_held_share)[settings.warehouse_url]
    assert (audit["rows_in"], audit["rows_loaded"], audit["rows_quarantined"]) == (8, 2, 6)
    _check_score_partition(_score_partition(settings.warehouse_url))


@pytest.mark.postgres
def test_duckdb_and_postgres_accept_the_same_portal_scores(
        own_config, settings, pg_url, datasets_without_held_share) -> None:
    audits = _load_scores(own_config, [settings.warehouse_url, pg_url],
                          datasets_without_held_share)
    assert {a["status"] for a in audits.values()} == {"loaded"}
    duck, pg = _score_partition(settings.warehouse_url), _score_partition(pg_url)
    _check_score_partition(pg)
    assert duck == pg


# -- national portal: monthly counters -------------------------------------------------
def _counters(**overrides: object) -> dict:
    record = {field: 0 for field in MONTHLY_COUNT_FIELDS}
    record.update({"HS_TOTAL": 100, "DB_TOTAL": 90, "HTN_TRUCTIEP_TOTAL": 40,
                   "HTN_BUUCHINH_TOTAL": 10, "HTN_TRUCTUYEN_TOTAL": 45,
                   "HTN_TRUCTUYEN_KHONGCHUAN_TOTAL": 5, "TILE": "95.5", "TILE_DB": 90})
    record.update(overrides)
    return record


@pytest.mark.postgres
def test_duckdb_and_postgres_accept_the_same_monthly_counters(
        own_config, settings, pg_url, datasets_without_held_share) -> None:
    ids = (PROJECT_ROOT / "config" / "units" / "source_ids.csv").read_text(encoding="utf-8")
    # 2 of the 3 rows are broken on purpose: past the counters' max_held_share
    own = own_config(files={"units/source_ids.csv": ids + "legacy_tinh,11301,01,2025-07-01,\n",
                            "datasets.yaml": datasets_without_held_share})
    writer = RawZone(own.raw_dir).new_fetch("national_portal", "portal_monthly_counters",
                                            PERIOD)
    writer.write_records([("11391", _counters()),
                          ("11311", _counters(HS_TOTAL="100000000000000000000")),
                          ("11301", _counters(TILE=12345.6))])
    writer.finish("complete", api="legacy_gateway", period=str(PERIOD), records=3)
    validated = portal_steps.validate(writer.ref.to_dict(), own)
    for url in (settings.warehouse_url, pg_url):
        audit = portal_steps.load(validated, "run-1", dataclasses.replace(own, warehouse_url=url))
        assert (audit["rows_loaded"], audit["rows_quarantined"]) == (1, 2)
    partitions = [{
        "facts": _rows(url, "SELECT unit_code, dossiers_handled, published_on_time_pct "
                            "FROM fact_portal_monthly_counters"),
        "quarantine": _rows(url, "SELECT unit_code, reasons FROM quarantine_row "
                                 "ORDER BY unit_code")} for url in (settings.warehouse_url,
                                                                    pg_url)]
    duck, pg = partitions
    assert [(u, n, float(p)) for u, n, p in pg["facts"]] == [("91", 100, 95.5)]
    (first, first_reasons), (second, second_reasons) = pg["quarantine"]
    assert (first, second) == ("01", "11")
    assert ("published_on_time_pct rounded to 1 decimal is within ±9999.9 "
            "(fact_portal_monthly_counters.published_on_time_pct NUMERIC(5, 1))"
            ) in first_reasons
    assert second_reasons.startswith("every published value could be read as its type")
    assert duck == pg


# -- what reaches other tables ---------------------------------------------------------
def test_quarantined_rows_fit_quarantine_row_and_keep_the_value_as_sent() -> None:
    rows = pa.table({"unit_code": ["91", "U" * 40, None],
                     "source_unit_id": ["s1", "s2", "s" * 65],
                     "reasons": ["a", "b", "c"]})
    fitted = for_quarantine(rows).to_pylist()
    assert [(r["unit_code"], r["unit_code_as_sent"]) for r in fitted] == [
        ("91", None), ("U" * 32, "U" * 40), (None, None)]
    assert [(r["source_unit_id"], r["source_unit_id_as_sent"]) for r in fitted] == [
        ("s1", None), ("s2", None), ("s" * 64, "s" * 65)]
    assert for_quarantine(rows.slice(0, 1)).column_names == rows.column_names  # nothing cut


def test_a_learned_unit_that_does_not_fit_its_table_is_named_by_its_limit() -> None:
    broken = violations("dim_unit", {"unit_code": "H" * 33, "name_vi": "Sở Nội vụ",
                                     "level": "department"})
    assert [b.notes for b in broken] == [
        "unit_code has at most 32 characters (dim_unit.unit_code VARCHAR(32))"]
    assert violations("unit_source_id", {"scheme": "legacy_766", "source_id": "1" * 64}) == []


def test_a_rank_or_count_a_frame_cannot_hold_is_unreadable_not_a_crash() -> None:
    from transforms import national_portal as normalise

    ranks = normalise.legacy_766_scores(
        [("national", _score("900001", "UBND thành phố Hà Nội", ROW_STT=value))
         for value in ("1.5", "1e20", "7")], PERIOD)
    assert ranks["published_rank"].tolist()[2] == 7
    assert [e.split(":")[0] if isinstance(e, str) else None for e in ranks["parse_errors"]] == [
        "ROW_STT", "ROW_STT", None]
