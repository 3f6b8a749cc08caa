"""The offices' .xlsx and CSV files, read back as Excel (openpyxl) and a CSV reader would.

Every expected value is written out here by hand; none comes from reports/exports.py."""

from __future__ import annotations

import csv
import io
import unicodedata
from pathlib import Path

import openpyxl
import pytest

from reports.exports import write_all, write_csv, write_xlsx
from reports.tables import Column, Table

NFD_HON_DAT = unicodedata.normalize("NFD", "Xã Hòn Đất")

COLUMNS = [
    Column("code", "Mã đơn vị", "Unit code"),
    Column("name", "Tên đơn vị", "Unit name"),
    Column("dossiers", "Số hồ sơ", "Dossiers", "int"),
    Column("points", "Điểm", "Points", "decimal"),
    Column("on_time", "Tỷ lệ đúng hạn", "On-time rate", "ratio"),
    Column("percent", "Tỷ lệ (%)", "Percent", "percent"),
    Column("rank_change", "Thay đổi hạng", "Rank change", "signed"),
    Column("met", "Đạt chuẩn", "Target met", "bool"),
]
ROWS = [
    {"code": "01", "name": "Phường Bình Đức", "dossiers": 1234, "points": 87.5,
     "on_time": 0.8125, "percent": 81.25, "rank_change": 3, "met": True},
    {"code": "30292", "name": NFD_HON_DAT, "dossiers": None, "points": None,
     "on_time": None, "percent": None, "rank_change": -2, "met": False},
    {"code": "00007", "name": 'Xã "Mới", Đông', "dossiers": 0, "points": 0.0,
     "on_time": 0.0, "percent": 0.0, "rank_change": 0, "met": None},
]


def units_table(rows: list[dict] | None = None) -> Table:
    return Table("units", "Kết quả các đơn vị", "Results by unit", COLUMNS,
                 ROWS if rows is None else rows)


def procedures_table() -> Table:
    return Table("procedures", "Thủ tục hành chính", "Administrative procedures",
                 [Column("code", "Mã thủ tục", "Procedure code"),
                  Column("name", "Tên thủ tục", "Procedure name")],
                 [{"code": "1.001234", "name": "Đăng ký khai sinh"}])


def sheet_rows(sheet) -> list[tuple]:
    return [tuple(c.value for c in row) for row in sheet.iter_rows()]


def csv_rows(path: Path) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_xlsx_cells_formats_and_layout_in_vietnamese(tmp_path: Path) -> None:
    path = write_xlsx([units_table(), procedures_table()], tmp_path / "scorecard.xlsx",
                      title="Tỉnh An Giang — tháng 3/2026",
                      notes=["Lập lúc 2026-04-02 08:00", "Ô để trống: chưa có số liệu."])
    assert path == tmp_path / "scorecard.xlsx"
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["units", "procedures"]
    assert workbook.properties.creator == "reformstats"
    assert workbook.properties.title == "Tỉnh An Giang — tháng 3/2026"

    sheet = workbook["units"]
    rows = sheet_rows(sheet)
    assert [row[0] for row in rows[:5]] == ["Tỉnh An Giang — tháng 3/2026",
                                            "Kết quả các đơn vị",
                                            "Lập lúc 2026-04-02 08:00",
                                            "Ô để trống: chưa có số liệu.", None]
    assert rows[5] == ("Mã đơn vị", "Tên đơn vị", "Số hồ sơ", "Điểm", "Tỷ lệ đúng hạn",
                       "Tỷ lệ (%)", "Thay đổi hạng", "Đạt chuẩn")
    assert rows[6:] == [
        ("01", "Phường Bình Đức", 1234, 87.5, 0.8125, 81.25, 3, "Đạt"),
        ("30292", "Xã Hòn Đất", None, None, None, None, -2, "Không đạt"),
        ("00007", 'Xã "Mới", Đông', 0, 0, 0, 0, 0, None),
    ]
    assert sheet.freeze_panes == "A7"
    assert sheet.auto_filter.ref == "A6:H9"

    first = sheet[7]
    assert [c.number_format for c in first] == ["@", "@", "#,##0", "#,##0.00", "0.00%",
                                                "0.00", "+#,##0;-#,##0;0", "@"]
    assert [c.data_type for c in first] == ["s", "s", "n", "n", "n", "n", "n", "s"]
    assert isinstance(sheet["A8"].value, str) and sheet["A8"].value == "30292"
    # A missing value is an empty cell, never 0.
    assert [sheet.cell(8, column).value for column in (3, 4, 5, 6)] == [None] * 4
    assert sheet["H9"].value is None

    procedures = workbook["procedures"]
    assert sheet_rows(procedures)[5:] == [("Mã thủ tục", "Tên thủ tục"),
                                          ("1.001234", "Đăng ký khai sinh")]
    assert procedures.freeze_panes == "A7"


def test_xlsx_in_english_without_workbook_title(tmp_path: Path) -> None:
    path = write_xlsx([units_table()], tmp_path / "en.xlsx", lang="en")
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["units"]
    rows = sheet_rows(sheet)
    assert rows[0][0] == "Results by unit"
    assert rows[1][0] is None
    assert rows[2] == ("Unit code", "Unit name", "Dossiers", "Points", "On-time rate",
                       "Percent", "Rank change", "Target met")
    assert [row[7] for row in rows[3:]] == ["Met", "Not met", None]
    assert sheet.freeze_panes == "A4"
    assert sheet.auto_filter.ref == "A3:H6"
    assert workbook.properties.title == "Results by unit"


def test_nfd_text_comes_out_nfc(tmp_path: Path) -> None:
    assert NFD_HON_DAT != "Xã Hòn Đất"  # the input really is decomposed
    sheet = openpyxl.load_workbook(write_xlsx([units_table()], tmp_path / "t.xlsx"))["units"]
    assert sheet["B5"].value == "Xã Hòn Đất"
    assert csv_rows(write_csv(units_table(), tmp_path / "t.csv"))[2][1] == "Xã Hòn Đất"
    assert "Xã Hòn Đất".encode() in (tmp_path / "t.csv").read_bytes()


def test_column_widths_fit_vietnamese_text_and_are_capped(tmp_path: Path) -> None:
    long_name = "Ủy ban nhân dân xã " + "Hòn Đất " * 20
    table = Table("wide", "Rộng", "Wide",
                  [Column("code", "Mã", "Code"), Column("name", "Tên đơn vị", "Name")],
                  [{"code": "01", "name": "Phường Bình Đức"}, {"code": "02", "name": long_name}])
    sheet = openpyxl.load_workbook(write_xlsx([table], tmp_path / "w.xlsx"))["wide"]
    assert 8 <= sheet.column_dimensions["A"].width < 15
    assert sheet.column_dimensions["B"].width == 60
    narrow = Table("narrow", "Hẹp", "Narrow", [Column("name", "Tên", "Name")],
                   [{"name": "Phường Bình Đức"}])
    sheet = openpyxl.load_workbook(write_xlsx([narrow], tmp_path / "n.xlsx"))["narrow"]
    assert len("Phường Bình Đức") <= sheet.column_dimensions["A"].width < 30


def test_text_that_looks_like_a_formula_or_number_stays_text(tmp_path: Path) -> None:
    table = Table("odd", "Lạ", "Odd", [Column("name", "Tên", "Name")],
                  [{"name": "=1+1"}, {"name": "0012"}, {"name": "1e5"}])
    sheet = openpyxl.load_workbook(write_xlsx([table], tmp_path / "o.xlsx"))["odd"]
    assert [(c.value, c.data_type) for c in sheet["A"][3:]] == [
        ("=1+1", "s"), ("0012", "s"), ("1e5", "s")]


def test_nan_is_missing_not_zero(tmp_path: Path) -> None:
    rows = [dict(ROWS[0], dossiers=float("nan"), on_time=float("nan"))]
    sheet = openpyxl.load_workbook(write_xlsx([units_table(rows)], tmp_path / "n.xlsx"))
    assert sheet["units"]["C4"].value is None and sheet["units"]["E4"].value is None
    assert csv_rows(write_csv(units_table(rows), tmp_path / "n.csv"))[1][2:5] == [
        "", "87.5", ""]


def test_csv_bytes_and_rows(tmp_path: Path) -> None:
    path = write_csv(units_table(), tmp_path / "units.csv")
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.count(b"\r\n") == 4 and data.count(b"\n") == 4
    assert data.endswith(b"\r\n")
    assert csv_rows(path) == [
        ["Mã đơn vị", "Tên đơn vị", "Số hồ sơ", "Điểm", "Tỷ lệ đúng hạn", "Tỷ lệ (%)",
         "Thay đổi hạng", "Đạt chuẩn"],
        ["01", "Phường Bình Đức", "1234", "87.5", "0.8125", "81.25", "3", "Đạt"],
        ["30292", "Xã Hòn Đất", "", "", "", "", "-2", "Không đạt"],
        ["00007", 'Xã "Mới", Đông', "0", "0.0", "0.0", "0.0", "0", ""],
    ]
    # The name with a comma and quotes is quoted as Excel quotes it.
    assert '"Xã ""Mới"", Đông"'.encode() in data


def test_csv_in_english(tmp_path: Path) -> None:
    rows = csv_rows(write_csv(units_table(), tmp_path / "en.csv", lang="en"))
    assert rows[0] == ["Unit code", "Unit name", "Dossiers", "Points", "On-time rate",
                       "Percent", "Rank change", "Target met"]
    assert [row[7] for row in rows[1:]] == ["Met", "Not met", ""]


def test_small_ratio_is_written_positional(tmp_path: Path) -> None:
    table = Table("tiny", "Nhỏ", "Tiny", [Column("r", "Tỷ lệ", "Ratio", "ratio")],
                  [{"r": 0.00001}])
    assert csv_rows(write_csv(table, tmp_path / "tiny.csv")) == [["Tỷ lệ"], ["0.00001"]]


def test_write_all_names_the_files(tmp_path: Path) -> None:
    out = tmp_path / "out" / "91"
    written = write_all([units_table(), procedures_table()], out, "an_giang_2026-03",
                        title="Tỉnh An Giang")
    assert written == {"an_giang_2026-03.xlsx": out / "an_giang_2026-03.xlsx",
                       "an_giang_2026-03_units.csv": out / "an_giang_2026-03_units.csv",
                       "an_giang_2026-03_procedures.csv":
                           out / "an_giang_2026-03_procedures.csv"}
    assert sorted(p.name for p in out.iterdir()) == sorted(written)
    assert csv_rows(out / "an_giang_2026-03_procedures.csv") == [
        ["Mã thủ tục", "Tên thủ tục"], ["1.001234", "Đăng ký khai sinh"]]
    assert openpyxl.load_workbook(out / "an_giang_2026-03.xlsx").sheetnames == [
        "units", "procedures"]


def test_a_failed_write_leaves_the_old_file_and_no_partial(tmp_path: Path) -> None:
    path = write_xlsx([procedures_table()], tmp_path / "keep.xlsx")
    before = path.read_bytes()
    broken = units_table([dict(ROWS[0], dossiers="many")])
    with pytest.raises(TypeError, match="dossiers"):
        write_xlsx([broken], path)
    with pytest.raises(TypeError, match="dossiers"):
        write_csv(broken, tmp_path / "keep.csv")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.xlsx"]


def test_overwrite_replaces_the_file(tmp_path: Path) -> None:
    path = tmp_path / "again.csv"
    path.write_bytes(b"old")
    write_csv(procedures_table(), path)
    assert csv_rows(path)[1] == ["1.001234", "Đăng ký khai sinh"]
    assert [p.name for p in tmp_path.iterdir()] == ["again.csv"]


def test_refusals(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="language"):
        write_csv(procedures_table(), tmp_path / "x.csv", lang="fr")
    with pytest.raises(ValueError, match="two tables"):
        write_xlsx([procedures_table(), procedures_table()], tmp_path / "x.xlsx")
    with pytest.raises(ValueError, match="at least one"):
        write_xlsx([], tmp_path / "x.xlsx")
    with pytest.raises(ValueError, match="stem"):
        write_all([procedures_table()], tmp_path, "../up")
    assert list(tmp_path.iterdir()) == []


def test_csv_reads_back_with_the_csv_module_from_bytes(tmp_path: Path) -> None:
    data = write_csv(procedures_table(), tmp_path / "p.csv").read_bytes()
    text = data.decode("utf-8-sig")
    assert not text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text, newline=""))) == [
        ["Mã thủ tục", "Tên thủ tục"], ["1.001234", "Đăng ký khai sinh"]]
