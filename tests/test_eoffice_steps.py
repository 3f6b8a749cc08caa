"""E-office statistics into fact_document_monthly, by API and by report file (issue 13):
the API's month loads with the simulator's counts; a report file built here with openpyxl
loads its units, a bad one loads nothing and says where (sheet, row, column), reloading
changes nothing, a corrected file replaces the figures, and the API and a file with the
same figures give the same facts. Expected values come from the simulator's world or are
written by hand; the warehouse is real DuckDB."""

from __future__ import annotations

import hashlib
import io
import json
import unicodedata
from pathlib import Path

import duckdb
import pytest
from openpyxl import Workbook

from domain.periods import Month
from simulator.eoffice import COUNTS, DEFAULT_CLIENT
from sources.eoffice import EOfficeConfig
from steps import eoffice
from transforms.eoffice import ReportFileError

MONTH = Month(2026, 3)
HEADER = ["STT", "Mã đơn vị", "Tên đơn vị", "Văn bản đến", "Văn bản đi", "Văn bản đi ký số",
          "Gửi qua Trục liên thông", "Nhận qua Trục liên thông", "Hồ sơ công việc",
          "Hồ sơ công việc xử lý trên môi trường mạng", "Văn bản xử lý đúng hạn",
          "Văn bản xử lý quá hạn"]
# Two communes of Điện Biên (11) on 2026-03-31, their figures written by hand.
ROWS = [["1", "03325", "Xã Mường Phăng", 120, 60, 55, 40, 70, 30, 24, 100, 5],
        ["2", "03328", "Xã Thanh Nưa", 80, 40, 40, 10, 50, 20, 20, 70, 2]]


def workbook(rows: list[list], header: list = HEADER, titles: tuple = (
        "BÁO CÁO SỐ LIỆU VĂN BẢN ĐIỆN TỬ", "Tháng báo cáo: 03/2026")) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "Báo cáo"
    for number, text in enumerate(titles, start=1):
        sheet.cell(number, 1, text)
        sheet.merge_cells(start_row=number, start_column=1, end_row=number, end_column=12)
    start = len(titles) + 2
    for position, text in enumerate(header, start=1):
        sheet.cell(start, position, text)
    for offset, row in enumerate(rows, start=1):
        for position, value in enumerate(row, start=1):
            sheet.cell(start + offset, position, value)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def drop(settings, name: str, data: bytes) -> Path:
    inbox = settings.eoffice_folder("inbox")
    inbox.mkdir(parents=True, exist_ok=True)
    (inbox / name).write_bytes(data)
    return inbox / name


def facts(settings, period_id: int = 202603) -> dict[str, tuple]:
    path = settings.warehouse_url.removeprefix("duckdb:///")
    with duckdb.connect(path, read_only=True) as db:
        rows = db.execute(f"""SELECT unit_code, province_code, channel, {', '.join(COUNTS)}
                              FROM fact_document_monthly WHERE period_id = ?
                              ORDER BY unit_code""", [period_id]).fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def test_a_report_file_loads_its_units_then_reloading_changes_nothing(settings) -> None:
    data = workbook(ROWS)
    taken = eoffice.take_file(drop(settings, "dienbien_2026-03.xlsx", data), settings, "test")
    assert taken.status == "loaded", taken.problems
    expected = {"03325": ("11", "file", 120, 60, 55, 40, 70, 30, 24, 100, 5),
                "03328": ("11", "file", 80, 40, 40, 10, 50, 20, 20, 70, 2)}
    assert facts(settings) == expected
    assert Path(taken.path).parent == settings.eoffice_folder("archive") / "2026-03"
    assert not list(settings.eoffice_folder("inbox").iterdir())
    # the raw zone keeps it byte for byte, with its hash
    [kept] = settings.raw_dir.glob("eoffice_11/documents/month=2026-03/fetch=*/files/*.xlsx")
    assert kept.read_bytes() == data
    meta = json.loads(kept.with_name(kept.name + ".meta.json").read_text(encoding="utf-8"))
    assert meta["sha256"] == hashlib.sha256(data).hexdigest() == taken.sha256
    again = eoffice.take_file(drop(settings, "dienbien_2026-03.xlsx", data), settings,
                              "test-again")
    assert again.status == "unchanged" and again.replaced == 2
    assert facts(settings) == expected
    # nothing was written again: one landing in the raw zone, one load in the audit
    assert len(list(settings.raw_dir.glob("eoffice_11/documents/month=2026-03/fetch=*"))) == 1


def test_a_bad_file_loads_nothing_and_names_sheet_row_and_column(settings) -> None:
    rows = [list(r) for r in ROWS]
    rows[1][8] = "mười"  # work files (I) as text, row 6
    data = workbook(rows)
    taken = eoffice.take_file(drop(settings, "bad_2026-03.xlsx", data), settings, "test")
    assert taken.status == "rejected"
    assert facts(settings) == {}
    report = Path(taken.report).read_text(encoding="utf-8")
    assert "trang tính «Báo cáo», dòng 6, cột I (Hồ sơ công việc)" in report
    assert "sheet «Báo cáo», row 6, column I (Hồ sơ công việc)" in report
    assert Path(taken.path).read_bytes() == data  # moved aside, byte for byte


def problems_of(settings, name: str, data: bytes, **options) -> list:
    path = drop(settings, name, data)
    with pytest.raises(ReportFileError) as caught:
        eoffice.check_file(path, settings, **options)
    return caught.value.problems


def where(problem) -> tuple:
    return (problem.sheet, problem.row, problem.column)


def with_cell(row: int, column: int, value: object) -> list[list]:
    rows = [list(r) for r in ROWS]
    rows[row][column] = value
    return rows


# (what is wrong, the workbook's rows, the places the problems must name: (row, column))
BAD_VALUES = [
    ("signed greater than outgoing", with_cell(0, 5, 61), [(5, "F")]),
    ("hub sent greater than outgoing", with_cell(1, 6, 41), [(6, "G")]),
    ("online work files greater than work files", with_cell(0, 9, 31), [(5, "J")]),
    ("a negative count", with_cell(1, 3, -3), [(6, "D")]),
    ("text where a number goes", with_cell(0, 4, "sáu mươi"), [(5, "E")]),
    ("a decimal count", with_cell(0, 4, 60.5), [(5, "E")]),
    ("an empty count cell", with_cell(1, 10, None), [(6, "K")]),
    ("an unknown unit code", with_cell(1, 1, "99999"), [(6, "B")]),
    ("a unit twice", [ROWS[0], ROWS[1], ["3", *ROWS[0][1:]]], [(7, "B")]),
]


@pytest.mark.parametrize(("what", "rows", "places"), BAD_VALUES, ids=[b[0] for b in BAD_VALUES])
def test_each_bad_value_is_refused_naming_its_sheet_row_and_column(
        settings, what: str, rows: list, places: list) -> None:
    problems = problems_of(settings, "report_2026-03.xlsx", workbook(rows))
    assert [where(p) for p in problems] == [("Báo cáo", r, c) for r, c in places], what
    for problem in problems:  # both languages, each naming the place
        assert problem.text().startswith(f"trang tính «Báo cáo», dòng {problem.row}, cột ")
        assert problem.text(english=True).startswith(f"sheet «Báo cáo», row {problem.row}")


def test_files_that_are_not_reports_are_refused_with_what_is_wrong(settings) -> None:
    assert "not a readable Excel workbook" in problems_of(
        settings, "report_2026-03.xlsx", b"%PDF-1.7 not a workbook")[0].en
    assert "not taken" in problems_of(settings, "report_2026-03.pdf", b"%PDF-1.7")[0].en
    empty = problems_of(settings, "report_2026-03.xlsx", workbook([], header=[], titles=()))
    assert [p.en for p in empty] == ["the file is empty"]
    wrong = problems_of(settings, "report_2026-03.xlsx",
                        workbook(ROWS, header=["A", "B", "C", "D"]))
    assert wrong[0].en.startswith("no header row in the first 20 rows")
    missing = problems_of(settings, "report_2026-03.xlsx",
                          workbook([r[:11] for r in ROWS], header=HEADER[:11]))
    assert (missing[0].row, "Văn bản xử lý quá hạn") == (4, missing[0].en.split(": ")[1]
                                                         .split(";")[0])
    only_header = problems_of(settings, "report_2026-03.xlsx", workbook([]))
    assert only_header[0].en == "a header in row 4 but no data row below it"
    no_month = problems_of(settings, "report.xlsx", workbook(ROWS, titles=("BÁO CÁO",)))
    assert no_month[0].en.startswith("no report month")


def test_headers_as_offices_write_them_are_read(settings) -> None:
    """NFD text, no accents, extra spaces and case, names instead of codes, a total row,
    a CSV saved by Excel with semicolons."""
    header = [unicodedata.normalize("NFD", h) for h in HEADER]
    header[3] = "  VAN BAN   DEN "
    header[5] = "Văn bản đi được ký số"
    rows = [[r[0], None, *r[2:]] for r in ROWS] + [[None, None, "Tổng cộng", 200]]
    (settings.eoffice_folder("inbox") / "11").mkdir(parents=True)
    checked = eoffice.check_file(drop(settings, "11/bao_cao.xlsx", workbook(rows)), settings)
    assert (checked.month, checked.province, checked.units) == (MONTH, "11",
                                                                ["03325", "03328"])
    csv = "\n".join(";".join("" if v is None else str(v) for v in line)
                     for line in [["Tháng báo cáo: 03/2026"], HEADER, *ROWS])
    checked = eoffice.check_file(drop(settings, "report.csv", ("\ufeff" + csv).encode()),
                                 settings)
    assert checked.frame["incoming"].tolist() == [120, 80]


def test_a_corrected_file_replaces_its_units_figures_and_leaves_the_others(settings) -> None:
    eoffice.import_file(drop(settings, "a_2026-03.xlsx", workbook(ROWS)), settings, "one")
    corrected = [["1", "03325", "Xã Mường Phăng", 121, 61, 61, 41, 71, 31, 25, 101, 6]]
    dry = eoffice.import_file(drop(settings, "b_2026-03.xlsx", workbook(corrected)),
                              settings, "dry", dry_run=True)
    assert (dry.rows, dry.replaced, dry.audit) == (1, 1, None)
    assert facts(settings)["03325"][2:] == (120, 60, 55, 40, 70, 30, 24, 100, 5)
    eoffice.import_file(drop(settings, "b_2026-03.xlsx", workbook(corrected)), settings, "two")
    assert facts(settings) == {
        "03325": ("11", "file", 121, 61, 61, 41, 71, 31, 25, 101, 6),
        "03328": ("11", "file", 80, 40, 40, 10, 50, 20, 20, 70, 2)}


def test_a_file_for_a_province_that_reports_by_api_is_refused(settings) -> None:
    rows = [["1", "91", "Tỉnh An Giang", 1, 1, 1, 1, 1, 1, 1, 1, 0]]
    [problem] = problems_of(settings, "ag_2026-03.xlsx", workbook(rows))
    assert "come from its API" in problem.en


def api_config(sim, province: str = "91") -> EOfficeConfig:
    login, password = DEFAULT_CLIENT
    return EOfficeConfig(province_code=province, base_url=f"{sim.url}/eoffice/{province}",
                         client_id=login, client_secret=password, rate_per_second=500.0,
                         initial_wait=0.01, max_wait=0.05)


def load_api(sim, settings, province: str = "91", month: Month = MONTH) -> dict:
    ref = eoffice.extract(province, month, api_config(sim, province), settings)
    return eoffice.load(eoffice.validate(ref, settings), "api-test", settings)


def test_the_api_month_loads_the_simulators_counts(simulator, settings) -> None:
    sim = simulator()
    audit = load_api(sim, settings)
    units = sim.onestop.world.units_of("91", MONTH)
    # departments are known once the national portal's lists registered them (not yet in
    # this warehouse): until then they wait in quarantine, never guessed
    departments = {u.unit_code for u in units if u.level == "department"}
    expected = {u.unit_code: tuple(sim.eoffice.world.counts(u, MONTH).values())
                for u in units if u.unit_code not in departments}
    assert departments and expected
    assert audit["status"] == "loaded" and audit["rows_loaded"] == len(expected)
    assert audit["rows_quarantined"] == len(departments)
    assert {code: row[2:] for code, row in facts(settings).items()} == expected
    assert {row[:2] for row in facts(settings).values()} == {("91", "api")}
    # no token reached the raw zone; the answers did, byte for byte
    kept = list(settings.raw_dir.glob("eoffice_91/documents/month=2026-03/fetch=*/"
                                      "responses/*.body"))
    assert kept and not any(b"access_token" in p.read_bytes() for p in kept)


def test_a_unit_the_api_sends_without_a_count_waits_in_quarantine(simulator, settings) -> None:
    sim = simulator(faults={"missing_field": 1})
    audit = load_api(sim, settings)
    path = settings.warehouse_url.removeprefix("duckdb:///")
    with duckdb.connect(path, read_only=True) as db:
        reasons = dict(db.execute("SELECT unit_code, reasons FROM quarantine_row WHERE "
                                  "dataset = 'documents'").fetchall())
    missing = {code for code, why in reasons.items() if "could be read" in why}
    assert len(missing) == 1 and not missing & set(facts(settings))
    assert len(facts(settings)) == audit["rows_loaded"] == audit["rows_in"] - len(reasons)


def test_a_month_the_system_has_not_published_loads_nothing(simulator, settings) -> None:
    sim = simulator()
    sim.eoffice.provinces.discard("91")  # the system answers 404 for every path
    ref = eoffice.extract("91", MONTH, api_config(sim), settings)
    assert "not_published" in ref
    assert eoffice.load(eoffice.validate(ref, settings), "t", settings)["status"] == \
        "not_published"


def test_the_api_and_a_file_with_the_same_figures_give_the_same_facts(
        simulator, settings, own_config, migrated_duckdb, tmp_path) -> None:
    sim = simulator()
    load_api(sim, settings)
    by_api = facts(settings)
    # the same figures typed into an office's report, loaded into a second warehouse of a
    # deployment where An Giang reports by file
    import shutil

    import yaml

    from registry.settings import Settings

    config = own_config()
    sources = yaml.safe_load((config.config_dir / "sources.yaml").read_text(encoding="utf-8"))
    sources["eoffice"]["provinces"] = []
    (config.config_dir / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True),
                                                     encoding="utf-8")
    other = tmp_path / "other"
    other.mkdir()
    shutil.copyfile(migrated_duckdb, other / "warehouse.duckdb")
    by_file_settings = Settings(config.config_dir, other,
                                f"duckdb:///{other / 'warehouse.duckdb'}")
    units = {u.unit_code: u for u in sim.onestop.world.units_of("91", MONTH)}
    rows = [[n, code, units[code].name_vi, *row[2:]]
            for n, (code, row) in enumerate(sorted(by_api.items()), start=1)]
    taken = eoffice.take_file(drop(by_file_settings, "angiang_2026-03.xlsx", workbook(rows)),
                              by_file_settings, "file-test")
    assert taken.status == "loaded", taken.problems
    by_file = facts(by_file_settings)
    assert {c: (r[0], *r[2:]) for c, r in by_file.items()} == \
        {c: (r[0], *r[2:]) for c, r in by_api.items()}
    assert {r[1] for r in by_file.values()} == {"file"}


def test_the_e_office_indicators_of_a_month_come_from_its_facts(settings) -> None:
    from steps.marts import build_indicators

    eoffice.import_file(drop(settings, "a_2026-03.xlsx", workbook(ROWS)), settings, "one")
    build_indicators(MONTH, "marts-test", settings)
    path = settings.warehouse_url.removeprefix("duckdb:///")
    with duckdb.connect(path, read_only=True) as db:
        rows = db.execute("""SELECT indicator_code, numerator, denominator, target, met
                             FROM fact_indicator_monthly
                             WHERE unit_code = '03325' AND period_id = 202603
                             AND indicator_code IN ('signed_document_rate', 'hub_exchange_rate',
                               'work_files_online_rate', 'document_on_time_rate')
                             ORDER BY indicator_code""").fetchall()
    # by hand from ROWS[0]: a commune (work files online: 80% target)
    assert rows == [("document_on_time_rate", 100, 105, None, None),
                    ("hub_exchange_rate", 40, 60, 0.9, False),
                    ("signed_document_rate", 55, 60, 0.9, True),
                    ("work_files_online_rate", 24, 30, 0.8, True)]


def test_the_shipped_blank_template_has_the_columns_the_reader_expects() -> None:
    from registry.settings import PROJECT_ROOT
    from transforms.eoffice import COLUMNS, read_report

    path = PROJECT_ROOT / "docs" / "templates" / "bao_cao_van_ban_dien_tu.xlsx"
    with pytest.raises(ReportFileError) as caught:
        read_report(path.name, path.read_bytes())
    # a header (every column found, in the template's order) and nothing to load yet
    assert [p.en for p in caught.value.problems] == [
        "a header in row 4 but no data row below it"]
    from openpyxl import load_workbook

    sheet = load_workbook(path, read_only=True)["Báo cáo"]
    assert [c.value for c in next(sheet.iter_rows(min_row=4, max_row=4))] == [
        c.header_vi for c in COLUMNS]


def test_reports_as_other_tools_write_them_are_read(settings) -> None:
    """A two-row header (group headers merged over sub-headers), the report on the
    workbook's second sheet, a code Excel stored as a number (leading zero lost) and a
    count typed with a thousands separator."""
    book = Workbook()
    book.active.title = "Ghi chú"
    book.active["A1"] = "Số liệu do Văn phòng UBND tỉnh tổng hợp"
    sheet = book.create_sheet("Sheet2")
    sheet["A1"] = "BÁO CÁO THÁNG 03/2026"
    upper = ["STT", "Mã ĐV", "Tên đơn vị", "Văn bản đến", "Văn bản đi", None,
             "Văn bản qua Trục liên thông", None, "Hồ sơ công việc", None,
             "Xử lý văn bản đến", None]
    lower = [None, None, None, None, "Tổng số", "Trong đó: ký số", "Gửi", "Nhận", "Tổng số",
             "Trong đó xử lý trên môi trường mạng", "Đúng hạn", "Quá hạn"]
    for position, (top, below) in enumerate(zip(upper, lower, strict=True), start=1):
        sheet.cell(3, position, top)
        sheet.cell(4, position, below)
    sheet.merge_cells("E3:F3")
    sheet.merge_cells("G3:H3")
    rows = [[1, 3325, "Xã Mường Phăng", "1.120", 60, 55, 40, 70, 30, 24, 100, 5],
            [2, "03328", "Xã Thanh Nưa", 80, 40, 40, 10, 50, 20, 20, 70, 2]]
    for offset, row in enumerate(rows, start=5):
        for position, value in enumerate(row, start=1):
            sheet.cell(offset, position, value)
    buffer = io.BytesIO()
    book.save(buffer)
    checked = eoffice.check_file(drop(settings, "report.xlsx", buffer.getvalue()), settings)
    assert (checked.month, checked.units) == (MONTH, ["03325", "03328"])
    assert checked.resolved.report.sheet == "Sheet2"
    assert checked.frame[["incoming", "outgoing_signed", "hub_received",
                          "work_files_online", "processed_late"]].values.tolist() == [
        [1120, 55, 70, 24, 5], [80, 40, 50, 20, 2]]


def test_every_problem_of_a_file_is_reported_at_once(settings) -> None:
    """A text count, an unknown unit and signed above outgoing, in three rows: one report
    lists all three, in row order, so the office fixes the file once."""
    rows = [["1", "03325", "Xã Mường Phăng", "một trăm", 60, 55, 40, 70, 30, 24, 100, 5],
            ["2", "99999", "Xã Không Có", 80, 40, 40, 10, 50, 20, 20, 70, 2],
            ["3", "03328", "Xã Thanh Nưa", 80, 40, 41, 10, 50, 20, 20, 70, 2]]
    problems = problems_of(settings, "report_2026-03.xlsx", workbook(rows))
    assert [where(p) for p in problems] == [("Báo cáo", 5, "D"), ("Báo cáo", 6, "B"),
                                            ("Báo cáo", 7, "F")]
    assert "Outgoing documents digitally signed" in problems[2].en


@pytest.mark.parametrize(("text", "month"), [
    ("Tháng báo cáo: 03/2026", Month(2026, 3)), ("THÁNG 3-2026", Month(2026, 3)),
    ("Kỳ báo cáo: Tháng 10/2026", Month(2026, 10)), ("bao_cao_2026-10", Month(2026, 10)),
    ("bao_cao_2026_10", Month(2026, 10)), ("BC_T10_2026", Month(2026, 10)),
    ("Tháng 13/2026", None), ("bao_cao_van_ban", None), ("2026-13", None)])
def test_the_report_month_is_read_from_a_title_or_a_file_name(text: str, month) -> None:
    from transforms.eoffice import month_in

    assert month_in(text) == month
