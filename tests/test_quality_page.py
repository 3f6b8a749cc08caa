"""The data-quality page on a real warehouse (DuckDB, and PostgreSQL where reachable):
check results, quarantined rows and loads written by hand for February and March 2026
(with a rerun, a quarter, and a month too old to show), the page's tables compared with
values counted by hand below, the unit named as dim_unit has it, the quarantined rows'
contents never on the page, both languages, "no data" for an empty warehouse, and the
`reformstats quality` command."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from registry.settings import Settings
from reports.quality import QualityPage, build_quality, render_quality
from warehouse.engine import make_engine, transaction
from warehouse.schema import dq_result, load_audit, quarantine_row

NOW = dt.datetime(2026, 4, 5, 8, 0, tzinfo=dt.UTC)
FEB, MAR, Q1, OLD = 202602, 202603, 202621, 202412  # 2026-02, 2026-03, 2026-Q1, 2024-12
UNIT = "30313"  # Xã Mỹ Hòa Hưng, a commune of An Giang (91) since 1 July 2025
# What the quarantined rows hold besides their unit and reasons: never on the page.
SECRETS = ("Nguyễn Thị Bí Mật", "079123456789", "0912 345 678", "SRC-ID-7731")


def at(day: int, month: int = 3, hour: int = 1, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def check(run: str, source: str, dataset: str, period: int, name: str, success: bool,
          unit: str | None = None, *, severity: str = "critical", unexpected: int = 0,
          checked: dt.datetime) -> dict[str, Any]:
    key = f"{run}|{source}|{dataset}|{period}|{name}|{unit or ''}"
    return {"result_id": hashlib.md5(key.encode()).hexdigest(),  # 32 characters
            "run_id": run, "source": source, "dataset": dataset, "period_id": period,
            "check_name": name, "unit_code": unit, "fetch_id": f"f-{run}",
            "column_name": None, "severity": severity, "success": success,
            "element_count": 10, "unexpected_count": unexpected,
            # details may quote a failing row's values: the page never shows them
            "details": f'{{"sample": ["{SECRETS[2]}"]}}', "checked_at": checked}


def quarantined(source: str, dataset: str, period: int, index: int, unit: str | None,
                reasons: str) -> dict[str, Any]:
    return {"dataset": dataset, "period_id": period, "fetch_id": "f-q",
            "record_index": index, "source": source, "unit_code": unit,
            "source_unit_id": SECRETS[3], "reasons": reasons,
            "row_json": f'{{"applicant": "{SECRETS[0]}", "cccd": "{SECRETS[1]}", '
                        f'"phone": "{SECRETS[2]}"}}',
            "run_id": "run", "quarantined_at": at(3)}


def load(run: str, source: str, dataset: str, period: int, rows: tuple[int, int, int],
         status: str, loaded: dt.datetime) -> dict[str, Any]:
    rows_in, rows_loaded, rows_quarantined = rows
    return {"run_id": run, "source": source, "dataset": dataset, "period_id": period,
            "fetch_id": f"f-{run}", "rows_in": rows_in, "rows_loaded": rows_loaded,
            "rows_quarantined": rows_quarantined, "raw_sha256": "0" * 64, "status": status,
            "loaded_at": loaded}


NULL_UNIT = "expect_column_values_to_not_be_null(unit_code)"
POSTAL = "expect_column_values_to_be_between(received_postal)"
CROSS = "crosscheck:received_total"
HANDLED = "expect_column_values_to_not_be_null(dossiers_handled)"
PCT = "expect_column_values_to_be_between(published_on_time_pct)"
UNMATCHED = "unit unmatched: no unit named 'UBND xã Không Có Thật'"

CHECKS = [
    # February, onestop_91: a first run failing POSTAL, then a rerun (the one that counts)
    # passing it and failing the cross-check, for the whole dataset and for the unit
    check("run-feb-1", "onestop_91", "dossiers", FEB, NULL_UNIT, True, checked=at(2)),
    check("run-feb-1", "onestop_91", "dossiers", FEB, POSTAL, False, unexpected=5,
          checked=at(2)),
    check("run-feb-2", "onestop_91", "dossiers", FEB, NULL_UNIT, True, checked=at(3)),
    check("run-feb-2", "onestop_91", "dossiers", FEB, POSTAL, True, checked=at(3)),
    check("run-feb-2", "onestop_91", "dossiers", FEB, CROSS, False, severity="warning",
          unexpected=1, checked=at(3)),
    check("run-feb-2", "onestop_91", "dossiers", FEB, CROSS, False, UNIT,
          severity="warning", unexpected=1, checked=at(3)),
    # February, onestop_04: two checks, both passed
    check("run-feb-2", "onestop_04", "dossiers", FEB, NULL_UNIT, True, checked=at(3)),
    check("run-feb-2", "onestop_04", "dossiers", FEB, POSTAL, True, checked=at(3)),
    # March, the portal's counters: HANDLED failed (whole dataset and province 91)
    check("run-mar", "national_portal", "portal_monthly_counters", MAR, HANDLED, False,
          unexpected=1, checked=at(2, 4)),
    check("run-mar", "national_portal", "portal_monthly_counters", MAR, HANDLED, False,
          "91", unexpected=1, checked=at(2, 4)),
    check("run-mar", "national_portal", "portal_monthly_counters", MAR, PCT, True,
          checked=at(2, 4)),
    # the first quarter's scores: one check, passed
    check("run-mar", "national_portal", "portal_score", Q1, "total_score_fits", True,
          checked=at(2, 4)),
    # December 2024: older than 12 months before March 2026, not shown by default
    check("run-old", "onestop_91", "dossiers", OLD, "old_check", False, unexpected=9,
          checked=at(3, 1)),
]
QUARANTINED = [
    quarantined("national_portal", "portal_monthly_counters", MAR, 0, "91",
                "dossiers_handled is present"),
    quarantined("onestop_91", "dossiers", FEB, 0, UNIT,
                "received_total is a non-negative count"),
    quarantined("onestop_91", "dossiers", FEB, 1, UNIT,
                "received_total is a non-negative count"),
    quarantined("onestop_91", "dossiers", FEB, 2, None, UNMATCHED),
    quarantined("onestop_91", "dossiers", OLD, 0, UNIT, "old reason"),
]
LOADS = [
    load("run-feb-1", "onestop_91", "dossiers", FEB, (10, 0, 0), "rejected", at(2, 3, 1, 5)),
    load("run-feb-2", "onestop_91", "dossiers", FEB, (12, 9, 3), "loaded", at(3, 3, 1, 5)),
    load("run-feb-2", "onestop_04", "dossiers", FEB, (20, 0, 0), "rejected", at(3, 3, 1, 6)),
    load("run-mar", "national_portal", "portal_monthly_counters", MAR, (3, 2, 1), "loaded",
         at(2, 4, 2, 0)),
    load("run-mar", "national_portal", "portal_score", Q1, (205, 205, 0), "loaded",
         at(2, 4, 2, 30)),
    load("run-old", "onestop_91", "dossiers", OLD, (7, 6, 1), "loaded", at(3, 1)),
]


def fill(settings: Settings) -> Settings:
    from steps.reference import refresh_reference

    refresh_reference(settings)  # dim_unit; dim_period comes with the migration
    with transaction(settings.warehouse_url) as conn:
        conn.execute(sa.insert(dq_result), CHECKS)
        conn.execute(sa.insert(quarantine_row), QUARANTINED)
        conn.execute(sa.insert(load_audit), LOADS)
    return settings


@pytest.fixture()
def warehouse(settings: Settings) -> Settings:
    return fill(settings)


def page(settings: Settings, lang: str = "vi", **options: Any) -> QualityPage:
    engine = make_engine(settings.warehouse_url, read_only=True)
    try:
        with engine.connect() as conn:
            return build_quality(conn, lang=lang, now=NOW, **options)
    finally:
        engine.dispose()


def values(table) -> list[tuple]:
    return [tuple(row) for row in table.values()]


# Counted by hand from CHECKS, QUARANTINED and LOADS above: the latest run of each
# partition only, 2024-12 left out; periods ending last first (of those ending on 31
# March, the month before the quarter).
SUMMARY = [
    # dataset, period, type, sources, checks run, failed, quarantined, last load status
    ("portal_monthly_counters", "2026-03", "Tháng", 1, 2, 1, 1, "Đã nạp"),
    ("portal_score", "2026-Q1", "Quý", 1, 1, 0, 0, "Đã nạp"),
    # onestop_91's rerun: 3 checks, 1 failed; onestop_04: 2 checks, none failed
    ("dossiers", "2026-02", "Tháng", 2, 5, 1, 3, "Bị từ chối (1), Đã nạp (1)"),
]
FAILED = [
    ("portal_monthly_counters", "national_portal", "2026-03", "Tháng", HANDLED,
     "Nghiêm trọng", "", "(toàn bộ dữ liệu)", 1),
    ("portal_monthly_counters", "national_portal", "2026-03", "Tháng", HANDLED,
     "Nghiêm trọng", "91", "Tỉnh An Giang", 1),
    ("dossiers", "onestop_91", "2026-02", "Tháng", CROSS, "Cảnh báo", "",
     "(toàn bộ dữ liệu)", 1),
    ("dossiers", "onestop_91", "2026-02", "Tháng", CROSS, "Cảnh báo", UNIT,
     "Xã Mỹ Hòa Hưng", 1),
]
QUARANTINE = [
    ("portal_monthly_counters", "national_portal", "2026-03", "Tháng", "91",
     "Tỉnh An Giang", "dossiers_handled is present", 1),
    ("dossiers", "onestop_91", "2026-02", "Tháng", "", None, UNMATCHED, 1),
    ("dossiers", "onestop_91", "2026-02", "Tháng", UNIT, "Xã Mỹ Hòa Hưng",
     "received_total is a non-negative count", 2),
]
LATEST_LOADS = [
    # dataset, source, period, type, status, in, loaded, quarantined, loads, at, run
    ("portal_monthly_counters", "national_portal", "2026-03", "Tháng", "Đã nạp", 3, 2, 1,
     1, "2026-04-02 02:00 UTC", "run-mar"),
    ("portal_score", "national_portal", "2026-Q1", "Quý", "Đã nạp", 205, 205, 0, 1,
     "2026-04-02 02:30 UTC", "run-mar"),
    ("dossiers", "onestop_04", "2026-02", "Tháng", "Bị từ chối", 20, 0, 0, 1,
     "2026-03-03 01:06 UTC", "run-feb-2"),
    ("dossiers", "onestop_91", "2026-02", "Tháng", "Đã nạp", 12, 9, 3, 2,
     "2026-03-03 01:05 UTC", "run-feb-2"),
]


def assert_hand_counts(built: QualityPage) -> None:
    assert values(built.summary) == SUMMARY
    assert values(built.failed) == FAILED
    assert values(built.quarantine) == QUARANTINE
    assert values(built.loads) == LATEST_LOADS


def test_the_tables_hold_the_hand_counted_results(warehouse: Settings) -> None:
    built = page(warehouse)
    assert built.since == dt.date(2025, 4, 1)  # 12 months to March 2026
    assert_hand_counts(built)
    assert [t.name for t in built.tables()] == [
        "quality_summary", "quality_failed", "quality_quarantine", "quality_loads"]


def test_the_window_follows_months_and_since(warehouse: Settings) -> None:
    # one month: periods ending in March 2026 (the month and the quarter)
    assert [r[:2] for r in values(page(warehouse, months=1).summary)] == [
        ("portal_monthly_counters", "2026-03"), ("portal_score", "2026-Q1")]
    # since December 2024: the old month too, its failure and its one quarantined row
    old = page(warehouse, since_period_id=OLD)
    assert values(old.summary)[-1] == ("dossiers", "2024-12", "Tháng", 1, 1, 1, 1, "Đã nạp")
    assert values(old.failed)[-1] == ("dossiers", "onestop_91", "2024-12", "Tháng",
                                      "old_check", "Nghiêm trọng", "", "(toàn bộ dữ liệu)", 9)
    with pytest.raises(LookupError, match="no period 202699"):
        page(warehouse, since_period_id=202699)


def test_the_page_names_the_unit_and_check_and_hides_row_contents(warehouse: Settings,
                                                                  tmp_path: Path) -> None:
    html = render_quality(page(warehouse))
    assert '<html lang="vi">' in html
    for table_id in ("quality-summary", "quality-failed", "quality-quarantine",
                     "quality-loads"):
        assert f'id="{table_id}"' in html
    failed = re.search(r'<table id="quality-failed".*?</table>', html, re.S).group(0)
    assert "Xã Mỹ Hòa Hưng" in failed and CROSS in failed and "Tỉnh An Giang" in failed
    assert POSTAL not in failed  # failed only in the run a rerun replaced
    assert "<h2>Kiểm tra không đạt</h2>" in html
    assert "Không có dữ liệu" not in html
    for secret in (*SECRETS, "old_check", "old reason"):
        assert secret not in html, secret

    from reports.exports import write_all

    written = write_all(page(warehouse).tables(), tmp_path, "quality.vi", "vi")
    assert sorted(written) == ["quality.vi.xlsx", "quality.vi_quality_failed.csv",
                               "quality.vi_quality_loads.csv",
                               "quality.vi_quality_quarantine.csv",
                               "quality.vi_quality_summary.csv"]
    for path in written.values():
        assert not any(s.encode() in path.read_bytes() for s in SECRETS[:2]), path


def test_the_english_page_has_english_headings(warehouse: Settings) -> None:
    built = page(warehouse, lang="en")
    html = render_quality(built)
    assert '<html lang="en">' in html and "<h1>Data quality</h1>" in html
    for heading in ("Summary by dataset and period", "Failed checks",
                    "Quarantined rows (left out of the figures)", "Latest loads"):
        assert f"<h2>{heading}</h2>" in html
    assert '<th scope="col">Checks run</th>' in html and "Kiểm tra không đạt" not in html
    assert values(built.summary)[2] == ("dossiers", "2026-02", "Month", 2, 5, 1, 3,
                                        "Rejected (1), Loaded (1)")
    assert values(built.failed)[0][5:8] == ("Critical", "", "(whole dataset)")
    assert "Xã Mỹ Hòa Hưng" in html  # unit names stay as the register writes them


def test_an_empty_warehouse_says_no_data_not_zeros(settings: Settings) -> None:
    for lang, sentence, no_data in (
            ("vi", "Không có dữ liệu: kho chưa có kết quả kiểm tra", "Không có dữ liệu."),
            ("en", "No data: the warehouse holds no check results", "No data.")):
        built = page(settings, lang=lang)
        assert not built.has_data and all(not t.rows for t in built.tables())
        html = render_quality(built)
        assert sentence in html
        for table_id in ("quality-summary", "quality-failed", "quality-quarantine",
                         "quality-loads"):
            assert re.search(rf'<p class="empty" id="{table_id}-empty">{re.escape(no_data)}'
                             r"</p>", html), (lang, table_id)
        assert "<td" not in html and "<table" not in html


def test_postgres_counts_the_same(settings: Settings, pg_url: str) -> None:
    on_pg = fill(dataclasses.replace(settings, warehouse_url=pg_url))
    assert_hand_counts(page(on_pg))
    assert "Xã Mỹ Hòa Hưng" in render_quality(page(on_pg))


def test_the_quality_command_writes_the_page(warehouse: Settings, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from commands.cli import app

    out = tmp_path / "out"
    for lang in ("vi", "en"):
        result = CliRunner().invoke(app, ["quality", "--url", warehouse.warehouse_url,
                                          "--out", str(out), "--lang", lang])
        assert result.exit_code == 0, result.output
        path = out / f"quality.{lang}.html"
        assert path.is_file() and str(path) in result.output
    assert "Xã Mỹ Hòa Hưng" in (out / "quality.vi.html").read_text(encoding="utf-8")
    assert "Failed checks" in (out / "quality.en.html").read_text(encoding="utf-8")
