"""The scorecard and its files, on a real DuckDB warehouse scored from facts written by hand
(tests/test_scoring_step.py's: three communes of An Giang, 91): the workbook read back with
openpyxl holds the warehouse views' figures (read here with their own SQL), the CSV keeps
Vietnamese names through its byte-order mark, and a period with missing months or no data
says so on the page instead of showing zeros."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from domain.periods import Month, Period
from registry.settings import Settings
from tests.test_scoring_step import A, B, C, scored  # noqa: F401  (the fixture)
from warehouse.engine import make_engine

NOW = dt.datetime(2026, 4, 5, 8, 0, tzinfo=dt.UTC)
MONTHS = ("2025-12", "2026-01", "2026-02", "2026-03")


@pytest.fixture()
def warehouse(scored: Settings) -> Settings:  # noqa: F811
    """Indicators and scores of every month the facts hold, as the marts DAG builds them."""
    from steps.marts import build_indicators
    from steps.scoring import score_month

    for month in MONTHS:
        build_indicators(Month.parse(month), "run-1", scored)
        score_month(Month.parse(month), "run-1", scored)
    return scored


def publish(settings: Settings, period: str, tmp_path: Path, langs=("vi",)):
    from reports.publish import publish as write
    from reports.settings import ReportSettings

    report_settings = ReportSettings.from_file(settings.config_dir / "reports.yaml")
    engine = make_engine(settings.warehouse_url, read_only=True)
    try:
        with engine.connect() as conn:
            return write(conn, "91", Period.parse(period), report_settings,
                         tmp_path / "reports", langs, now=NOW)
    finally:
        engine.dispose()


def query(settings: Settings, sql: str, **params) -> list[tuple]:
    engine = make_engine(settings.warehouse_url, read_only=True)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def sheet_rows(path: Path, name: str) -> list[dict[str, object]]:
    """A sheet's rows as {header: value}, below its title lines (the frozen pane says
    where the header is)."""
    from openpyxl import load_workbook

    sheet = load_workbook(path, read_only=False)[name]
    header_row = sheet.freeze_panes and int(sheet.freeze_panes[1:]) - 1
    rows = list(sheet.iter_rows(min_row=header_row, values_only=True))
    header = rows[0]
    return [dict(zip(header, r, strict=True)) for r in rows[1:] if any(v is not None for v in r)]


def test_the_workbook_holds_the_views_figures(warehouse: Settings, tmp_path: Path) -> None:
    [written] = publish(warehouse, "2026-Q1", tmp_path)
    assert written.xlsx.name == "scorecard.vi.xlsx" and written.has_data
    assert written.missing == ()

    ranking = {r["Mã đơn vị"]: r for r in sheet_rows(written.xlsx, "rank_test_commune_comm")}
    # hand-worked in tests/test_scoring_step.py: B 9.5 (Tốt), A 8.93 (Khá), C 2.0
    assert {u: (r["Hạng"], r["Tổng điểm"], r["Xếp loại"]) for u, r in ranking.items()} == {
        B: (1, 9.5, "Tốt"), A: (2, 8.93, "Khá"), C: (3, 2.0, None)}
    view = query(warehouse, """
        SELECT unit_code, peer_rank, total_points, percent, rank_change
        FROM v_scheme_ranking WHERE scheme = 'test_commune' AND period_id = :p""",
        p=Period.parse("2026-Q1").period_id)
    assert {u: (ranking[u]["Hạng"], ranking[u]["Tổng điểm"], ranking[u]["Tỷ lệ điểm (%)"],
                ranking[u]["Thay đổi hạng so với kỳ trước"]) for u in ranking} == {
        u: (rank, float(total), float(pct), change) for u, rank, total, pct, change in view}

    # A field whose criteria are all entered by hand, none entered: no data, not 0
    fields = {r["Mã đơn vị"]: r for r in sheet_rows(written.xlsx,
                                                   "fields_par_commune_example_comm")}
    by_name = {str(k).split(" (")[0]: v for k, v in fields[A].items()}
    assert by_name["Công tác chỉ đạo, điều hành cải cách hành chính và cải cách thể chế"] is None
    assert by_name["Cải cách thủ tục hành chính"] is not None
    notes = {r["Ghi chú"] for r in sheet_rows(written.xlsx, "points_lost")}
    assert "Chưa nhập điểm" in notes and "not entered" not in notes

    # The indicators sheet: the quarter's ratio of summed counts, as v_indicator_quarterly
    indicators = [r for r in sheet_rows(written.xlsx, "indicators_units")
                  if r["Mã chỉ tiêu"] == "on_time_rate"]
    got = {r["Mã đơn vị"]: (r["Tử số"], r["Mẫu số"], r["Giá trị"]) for r in indicators}
    # A: (9 + 10 + 19) / 40 = 0.95; B: 40 / 40 = 1
    assert got[A] == (38, 40, pytest.approx(0.95)) and got[B] == (40, 40, 1.0)
    view = query(warehouse, """
        SELECT unit_code, numerator, denominator FROM v_indicator_quarterly
        WHERE indicator_code = 'on_time_rate' AND year = 2026 AND quarter = 1
          AND unit_code IN (:a, :b)""",
        a=A, b=B)
    assert {u: (int(n), int(d)) for u, n, d in view} == {u: g[:2] for u, g in got.items()
                                                         if u in (A, B)}

    from openpyxl import load_workbook

    sheet = load_workbook(written.xlsx)["indicators_units"]
    header_row = int(sheet.freeze_panes[1:]) - 1
    headers = [c.value for c in sheet[header_row]]
    first = sheet[header_row + 1]
    assert first[headers.index("Giá trị")].number_format == "0.00%"
    assert first[headers.index("Mã đơn vị")].data_type == "s"  # a code stays text


def test_the_csv_keeps_vietnamese_names_for_excel(warehouse: Settings, tmp_path: Path) -> None:
    [written] = publish(warehouse, "2026-Q1", tmp_path)
    path = next(p for p in written.csv if p.name.endswith("_rank_test_commune_comm.csv"))
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # the byte-order mark Excel needs
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    names = dict(query(warehouse, "SELECT unit_code, name_vi FROM dim_unit "
                                  "WHERE unit_code IN (:a, :b) AND is_current", a=A, b=B))
    assert {r["Mã đơn vị"]: r["Đơn vị"] for r in rows if r["Mã đơn vị"] in names} == names
    assert any("ư" in n or "ơ" in n or "ạ" in n for n in names.values())  # real diacritics
    assert b"\r\n" in raw


def test_a_period_with_missing_months_says_so(warehouse: Settings, tmp_path: Path) -> None:
    # 2025-Q4: only December has facts; October and November are named, not zeroed
    [written] = publish(warehouse, "2025-Q4", tmp_path)
    page = written.html.read_text(encoding="utf-8")
    assert "Tháng chưa có dữ liệu (" in page and "2025-10, 2025-11" in page
    assert any("2025-10, 2025-11" in m for m in written.missing)


def test_a_period_without_data_says_so_not_zeros(warehouse: Settings, tmp_path: Path) -> None:
    written = publish(warehouse, "2026-06", tmp_path, langs=("vi", "en"))[0]
    vi = written.html.read_text(encoding="utf-8")
    assert not written.has_data
    assert "Không có dữ liệu nào của tỉnh cho kỳ 2026-06" in vi
    assert "class=\"notice missing\"" in vi
    # the indicators table shows "no data" rows with empty figures, never a 0 value
    table = re.search(r'<table id="indicator-levels".*?</table>', vi, re.S).group(0)
    cells = re.findall(r'<td class="num[^"]*"[^>]*>([^<]*)</td>', table)
    assert cells and set(cells) <= {"—"}
    en = publish(warehouse, "2026-06", tmp_path, langs=("en",))[0].html.read_text("utf-8")
    assert "There is no data of the province for 2026-06" in en


def test_both_languages_link_to_each_other(warehouse: Settings, tmp_path: Path) -> None:
    vi, en = publish(warehouse, "2026-03", tmp_path, langs=("vi", "en"))
    assert 'href="scorecard.en.html"' in vi.html.read_text("utf-8")
    assert 'href="scorecard.vi.html"' in en.html.read_text("utf-8")
    assert "Xếp hạng" in vi.html.read_text("utf-8") and "Rankings" in en.html.read_text(
        "utf-8")


def test_the_page_in_a_real_browser(warehouse: Settings, tmp_path: Path, browser_page) -> None:
    """What a reader sees in headless Chromium: the ranking rows, the trend charts drawn by
    plotly.js (inlined), no console error, no network request; a screenshot is kept."""
    [written] = publish(warehouse, "2026-Q1", tmp_path)
    opened = browser_page(written.html)
    page = opened.page
    rows = page.locator("#rankings table[data-table=rank_test_commune_comm] tbody tr")
    assert rows.count() == 3
    first = [c.strip() for c in rows.nth(0).locator("td").all_inner_texts()]
    assert first[:2] == ["1", B] and "9,50" in first  # B: 9.5 points, hand-worked
    page.wait_for_selector("#trends .js-plotly-plot .main-svg", state="attached")
    assert page.locator("#trends .js-plotly-plot").count() >= 1
    assert page.locator("#trends .js-plotly-plot .scatterlayer .trace").count() >= 1
    opened.screenshot("scorecard_91_2026-Q1")
    assert opened.errors == [] and opened.requests == []


def test_the_commands_write_the_files(warehouse: Settings, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from commands.cli import app

    monkeypatch.setenv("REFORMSTATS_CONFIG_DIR", str(warehouse.config_dir))
    url = ["--url", warehouse.warehouse_url, "--out", str(tmp_path / "out")]
    folder = tmp_path / "out" / "91" / "2026-Q1"
    result = CliRunner().invoke(app, ["export", "--province", "91", "--period", "2026-Q1",
                                      "--table", "indicators", *url])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in folder.iterdir()) == [
        "export.vi.xlsx", "export.vi_indicators.csv"]
    result = CliRunner().invoke(app, ["report", "--province", "91", "--period", "2026-Q1",
                                      "--lang", "en", *url])
    assert result.exit_code == 0, result.output
    assert str(folder / "scorecard.en.html") in result.output
    result = CliRunner().invoke(app, ["report", "--province", "99", "--period", "2026-Q1",
                                      *url])
    assert result.exit_code == 1 and "no province '99'" in result.output


def test_the_scorecard_reads_postgres_too(settings: Settings, pg_url: str,
                                          tmp_path: Path) -> None:
    """The same SQL on PostgreSQL: a month's indicators and scores, read back as a page and
    a workbook (B resolved 20 of 20 on time, A 19 of 20: hand-counted)."""
    from steps.marts import build_indicators
    from steps.scoring import score_month
    from tests.test_scoring_step import postgres_with_march

    pg = postgres_with_march(settings, pg_url)
    build_indicators(Month.parse("2026-03"), "run-pg", pg)
    score_month(Month.parse("2026-03"), "run-pg", pg)
    [written] = publish(pg, "2026-03", tmp_path)
    rows = {r["Mã đơn vị"]: r for r in sheet_rows(written.xlsx, "indicators_units")
            if r["Mã chỉ tiêu"] == "on_time_rate"}
    assert (rows[A]["Tử số"], rows[A]["Mẫu số"]) == (19, 20)
    assert (rows[B]["Tử số"], rows[B]["Mẫu số"]) == (20, 20)
    assert "Tỉnh An Giang" in written.html.read_text("utf-8")
