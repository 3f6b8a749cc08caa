"""Manual points (điểm tự chấm, thẩm định): real .xlsx and CSV sheets against a small rule
set, read, checked and imported into a real DuckDB warehouse (and PostgreSQL); the blank
template written, filled and imported. Expected values are written by hand."""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import shutil
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from domain.periods import Period
from marts.manual_points import (
    ManualPointsError,
    latest_round,
    read_points,
    read_points_file,
    write_template,
)
from marts.rulesets import RuleSet, load_rule_sets
from registry.settings import Settings
from steps.manual_points import import_points, read_latest_points, template
from warehouse.engine import make_engine

SCHEME = "par_test"
YEAR = Period("year", 2026, 0)  # period_id 202600
RULE_SET = """\
scheme: par_test
version: "2026"
name_vi: Bộ chỉ số cải cách hành chính cấp xã (kiểm thử)
name_en: Commune PAR index (test)
level: commune
provinces: ["91"]
valid_from: 2026-01-01
valid_to: null
period_types: [quarter, year]
rounding: 2
max_points: 20
classification:
  - {code: tot, name_vi: Tốt, name_en: Good, min_percent: 90}
  - {code: yeu, name_vi: Yếu, name_en: Weak, min_percent: 0}
fields:
  - code: "1"
    name_vi: Công tác chỉ đạo, điều hành cải cách hành chính
    name_en: Directing and managing administrative reform
    max_points: 10
    criteria:
      - code: "1.1"
        name_vi: Kế hoạch cải cách hành chính năm
        name_en: Annual reform plan
        max_points: 6
        sub_criteria:
          - code: "1.1.1"
            name_vi: Ban hành kế hoạch đúng thời hạn
            name_en: Plan issued on time
            max_points: 2
            source: manual
            method: manual
          - code: "1.1.2"
            name_vi: Mức độ hoàn thành kế hoạch
            name_en: Plan carried out
            max_points: 4
            source: manual
            method: manual
      - code: "1.2"
        name_vi: Báo cáo cải cách hành chính đầy đủ, đúng hạn
        name_en: Reform reports complete and on time
        max_points: 4
        source: manual
        method: boolean
  - code: "2"
    name_vi: Cải cách thủ tục hành chính
    name_en: Administrative procedure reform
    max_points: 10
    criteria:
      - code: "2.1"
        name_vi: Tuyên truyền cải cách hành chính
        name_en: Communicating the reform
        max_points: 3
        source: manual
        method: manual
      - code: "2.2"
        name_vi: Tỷ lệ hồ sơ giải quyết đúng hạn và trước hạn
        name_en: Dossiers resolved early or on time
        max_points: 7
        source: {indicator: on_time_rate}
        method: linear
"""
# Three communes of An Giang (91) from 1 July 2025.
UNITS = {"30292": "Phường Bình Đức", "30307": "Phường Long Xuyên",
         "30313": "Xã Mỹ Hòa Hưng"}
MAX = {"1.1.1": 2, "1.1.2": 4, "1.2": 4, "2.1": 3, "2.2": 7}
HEADER = ["Mã đơn vị", "Tên đơn vị", "Mã tiêu chí", "Nội dung tiêu chí", "Điểm tối đa",
          "Điểm", "Tài liệu kiểm chứng", "Người nhập"]
TITLE = ["BẢNG TỰ CHẤM ĐIỂM CẢI CÁCH HÀNH CHÍNH NĂM 2026", "Kỳ đánh giá: Năm 2026"]
# With the two title rows, the header is row 3 and the first data row is row 4.
BASELINE = [("30292", "1.1.1", 2), ("30292", "1.1.2", 3), ("30292", "1.2", 4),
            ("30292", "2.1", 1.5), ("30307", "1.1.1", 1), ("30307", "1.1.2", 4),
            ("30307", "1.2", 0), ("30307", "2.1", 3)]
WHO = "Nguyễn Văn An"


def line(unit: str, criterion: str, points: Any, max_points: Any = None,
         evidence: str | None = "Báo cáo số 12/BC-UBND", entered_by: str | None = None
         ) -> list[Any]:
    return [unit, UNITS.get(unit, ""), criterion, "", MAX.get(criterion, 1)
            if max_points is None else max_points, points, evidence, entered_by]


def xlsx(path: Path, rows: Sequence[Sequence[Any]], header: Sequence[Any] = HEADER,
         title: Sequence[str] = TITLE) -> Path:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Chấm điểm"
    for text in title:
        sheet.append([text])
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    workbook.save(path)
    return path


def csv_file(path: Path, text: str, bom: bool = True) -> Path:
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + text.encode("utf-8"))
    return path


@pytest.fixture
def rule_set(tmp_path: Path) -> RuleSet:
    root = tmp_path / "schemes_only"
    (root / SCHEME).mkdir(parents=True)
    (root / SCHEME / "2026.yaml").write_text(RULE_SET, encoding="utf-8")
    return load_rule_sets(root, {"on_time_rate"}).get(SCHEME, "2026")


@pytest.fixture
def office(own_config: Callable[..., Settings]) -> Settings:
    """Settings whose config folder holds only the test rule set, on a migrated DuckDB."""
    settings = own_config()
    shutil.rmtree(settings.schemes_dir)
    (settings.schemes_dir / SCHEME).mkdir(parents=True)
    (settings.schemes_dir / SCHEME / "2026.yaml").write_text(RULE_SET, encoding="utf-8")
    return settings


def stored(settings: Settings) -> list[tuple]:
    """Every row of fact_manual_points, sorted."""
    engine = make_engine(settings.warehouse_url, create=False)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT scheme, version, period_id, unit_code, criterion_code, round, "
                "CAST(points AS DOUBLE), evidence, entered_by, source_file, file_sha256, "
                "row_number, imported_at FROM fact_manual_points ORDER BY ALL")).all()
    finally:
        engine.dispose()
    return [tuple(r) for r in rows]


def points_of(settings: Settings) -> dict[tuple[str, str, str], float]:
    """{(unit, criterion, round): points} of what the warehouse holds."""
    return {(r[3], r[4], r[5]): r[6] for r in stored(settings)}


def load(settings: Settings, path: Path, round: str = "self_assessment",
         period: Period = YEAR) -> Any:
    return import_points(path, SCHEME, period, round, WHO, settings)


@pytest.fixture
def loaded(office: Settings, tmp_path: Path) -> Settings:
    """The office's warehouse with a self-assessment of 30292 and 30307 loaded."""
    load(office, xlsx(tmp_path / "baseline.xlsx", [line(*r) for r in BASELINE]))
    assert len(stored(office)) == 8
    return office


def rejected(settings: Settings, path: Path, round: str = "self_assessment") -> str:
    """The error importing a bad file raises; the warehouse is exactly as before."""
    before = stored(settings)
    with pytest.raises(ManualPointsError) as error:
        load(settings, path, round)
    assert stored(settings) == before
    return str(error.value)


# -- bad files: every problem named by row and column, nothing loaded ---------------------
def test_wrong_header_names_the_missing_columns_and_what_was_found(loaded: Settings,
                                                                  tmp_path: Path) -> None:
    header = ["Mã đơn vị", "Tên đơn vị", "Mã tiêu chí", "Điểm số", "Ghi chú"]
    message = rejected(loaded, xlsx(tmp_path / "bad.xlsx", [["30292", "", "1.1.1", 2, ""]],
                                    header=header))
    assert "row 3: header without the column(s) Điểm" in message
    assert "found: Mã đơn vị, Tên đơn vị, Mã tiêu chí, Điểm số, Ghi chú" in message


def test_a_header_below_the_first_15_rows_is_not_found(loaded: Settings,
                                                       tmp_path: Path) -> None:
    title = [f"dòng tiêu đề {n}" for n in range(1, 16)]  # the header is row 16
    message = rejected(loaded, xlsx(tmp_path / "deep.xlsx", [line("30292", "1.1.1", 2)],
                                    title=title))
    assert "no header row in the first 15 rows" in message
    assert "Mã đơn vị, Mã tiêu chí, Điểm" in message
    assert "the first filled row has: dòng tiêu đề 1" in message


def test_unknown_unit_is_rejected(loaded: Settings, tmp_path: Path) -> None:
    rows = [line("30292", "1.1.1", 2), line("99999", "1.1.1", 2),
            line("00004", "1.1.2", 3)]  # 00004 is a commune of Hà Nội, not of 91
    message = rejected(loaded, xlsx(tmp_path / "units.xlsx", rows))
    assert "row 5, column Mã đơn vị (A): unknown unit '99999'" in message
    assert "row 6, column Mã đơn vị (A): unknown unit '00004'" in message
    assert "2 problem(s)" in message


def test_unknown_criterion_is_rejected(loaded: Settings, tmp_path: Path) -> None:
    message = rejected(loaded, xlsx(tmp_path / "crit.xlsx", [line("30292", "9.9", 1)]))
    assert "row 4, column Mã tiêu chí (C): unknown criterion '9.9': not in par_test 2026" \
        in message


def test_computed_criterion_is_rejected_naming_its_source(loaded: Settings,
                                                          tmp_path: Path) -> None:
    rows = [line("30292", "2.2", 5), line("30292", "1.1", 4, max_points=6)]
    message = rejected(loaded, xlsx(tmp_path / "computed.xlsx", rows))
    assert "row 4, column Mã tiêu chí (C): criterion 2.2 of par_test 2026 is not entered " \
           "by hand: it is computed from indicator on_time_rate" in message
    assert "row 5, column Mã tiêu chí (C): criterion 1.1 of par_test 2026 is not entered " \
           "by hand: it is the sum of its sub-criteria" in message


def test_points_above_the_maximum_or_below_zero_are_rejected(loaded: Settings,
                                                             tmp_path: Path) -> None:
    rows = [line("30292", "1.1.1", 2.5), line("30292", "2.1", -1)]
    message = rejected(loaded, xlsx(tmp_path / "range.xlsx", rows))
    assert "row 4, column Điểm (F): 2.5 is above the maximum 2 of criterion 1.1.1" in message
    assert "row 5, column Điểm (F): -1 is below 0" in message


def test_text_in_a_number_cell_is_rejected(loaded: Settings, tmp_path: Path) -> None:
    rows = [line("30292", "1.1.1", "abc"), line("30292", "1.1.2", "5 điểm"),
            line("30292", "2.1", 2, max_points="ba")]
    message = rejected(loaded, xlsx(tmp_path / "text.xlsx", rows))
    assert "row 4, column Điểm (F): 'abc' is not a number" in message
    assert "row 5, column Điểm (F): '5 điểm' is not a number" in message
    assert "row 6, column Điểm tối đa (E): 'ba' is not a number" in message


def test_a_duplicate_unit_and_criterion_row_is_rejected(loaded: Settings,
                                                        tmp_path: Path) -> None:
    rows = [line("30292", "1.1.1", 2), line("30292", "1.1.2", 3), line("30292", "1.1.1", 1)]
    message = rejected(loaded, xlsx(tmp_path / "dup.xlsx", rows))
    assert "row 6, column Mã tiêu chí (C): unit 30292 criterion 1.1.1 again (first in row 4)" \
        in message


def test_an_empty_file_is_rejected(loaded: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(empty)
    assert "the file is empty" in rejected(loaded, empty)
    assert "the file is empty" in rejected(loaded, csv_file(tmp_path / "empty.csv", ""))


def test_a_header_without_data_rows_is_rejected(loaded: Settings, tmp_path: Path) -> None:
    message = rejected(loaded, xlsx(tmp_path / "header_only.xlsx", []))
    assert "a header in row 3 but no data row below it" in message


def test_a_boolean_criterion_takes_zero_or_its_maximum_only(loaded: Settings,
                                                            tmp_path: Path) -> None:
    message = rejected(loaded, xlsx(tmp_path / "bool.xlsx", [line("30313", "1.2", 2)]))
    assert "row 4, column Điểm (F): criterion 1.2 is met or not: 0 or 4, not 2" in message
    load(loaded, xlsx(tmp_path / "bool_ok.xlsx", [line("30313", "1.2", 4),
                                                  line("30313", "1.1.1", 0)]))
    assert points_of(loaded)[("30313", "1.2", "self_assessment")] == 4.0


def test_max_points_differing_from_the_rule_set_is_rejected(loaded: Settings,
                                                            tmp_path: Path) -> None:
    message = rejected(loaded, xlsx(tmp_path / "max.xlsx", [line("30292", "1.1.1", 2,
                                                                 max_points=3)]))
    assert "row 4, column Điểm tối đa (E): 3 in the file, but criterion 1.1.1 has 2 in " \
           "par_test 2026: the sheet was made for another version" in message


def test_every_problem_of_a_file_is_listed_at_once(loaded: Settings, tmp_path: Path) -> None:
    rows = [line("30292", "1.1.1", 2), line("99999", "1.1.1", 2), line("30292", "9.9", 1),
            line("30292", "1.1.2", 4.5), line("30292", "1.2", "x")]
    message = rejected(loaded, xlsx(tmp_path / "many.xlsx", rows))
    assert "4 problem(s), nothing loaded" in message
    for fragment in ("row 5, column Mã đơn vị (A)", "row 6, column Mã tiêu chí (C)",
                     "row 7, column Điểm (F)", "row 8, column Điểm (F)"):
        assert fragment in message


def test_not_a_sheet_file_is_rejected(loaded: Settings, tmp_path: Path) -> None:
    fake = tmp_path / "points.xlsx"
    fake.write_bytes(b"not a workbook")
    assert "not a readable Excel workbook" in rejected(loaded, fake)
    old = tmp_path / "points.xls"
    old.write_bytes(b"\xd0\xcf\x11\xe0")
    assert "save it as .xlsx" in rejected(loaded, old)
    latin = tmp_path / "latin.csv"
    # A Windows code page (cp1258's ã is 0xE3): not UTF-8.
    latin.write_bytes(b"M\xe3 \xf0\xf5n v\xf2,M\xe3 ti\xeau ch\xed,\xd0i\xea\xf2m\n"
                      b"30292,1.1.1,2\n")
    assert "not UTF-8 text" in rejected(loaded, latin)


# -- good files --------------------------------------------------------------------------
def test_decimal_comma_and_numbers_stored_as_text_are_accepted(office: Settings,
                                                               tmp_path: Path) -> None:
    rows = [line("30292", "1.1.1", "1,5"), line("30292", "1.1.2", "2"),
            line("30292", "2.1", " 2.25 ", max_points="3"), line("30292", "1.2", "4,0")]
    load(office, xlsx(tmp_path / "comma.xlsx", rows))
    assert points_of(office) == {("30292", "1.1.1", "self_assessment"): 1.5,
                                 ("30292", "1.1.2", "self_assessment"): 2.0,
                                 ("30292", "2.1", "self_assessment"): 2.25,
                                 ("30292", "1.2", "self_assessment"): 4.0}


def test_a_blank_points_cell_is_skipped_and_counted(office: Settings,
                                                    tmp_path: Path) -> None:
    rows = [line("30292", "1.1.1", 2), line("30292", "1.1.2", None), line("30292", "1.2", "  "),
            [None] * 8, line("30292", "2.1", 3)]
    result = load(office, xlsx(tmp_path / "blanks.xlsx", rows))
    assert (result.rows, result.sheet.skipped_blank) == (2, 2)
    assert points_of(office) == {("30292", "1.1.1", "self_assessment"): 2.0,
                                 ("30292", "2.1", "self_assessment"): 3.0}


def test_a_sheet_with_every_points_cell_blank_loads_nothing(office: Settings,
                                                            tmp_path: Path) -> None:
    message = rejected(office, xlsx(tmp_path / "none.xlsx", [line("30292", "1.1.1", None),
                                                             line("30307", "2.1", None)]))
    assert "no points entered: the column Điểm is blank in all 2 data rows" in message


def test_lineage_file_name_sha256_row_and_who_entered(office: Settings,
                                                      tmp_path: Path) -> None:
    folder = tmp_path / "từ xã"
    folder.mkdir()
    path = xlsx(folder / "tu_cham_30292.xlsx",
                [line("30292", "1.1.1", 2, entered_by="Trần Thị Bình"),
                 line("30292", "2.1", 1, evidence=None)])
    load(office, path)
    rows = stored(office)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert [r[:12] for r in rows] == [
        (SCHEME, "2026", 202600, "30292", "1.1.1", "self_assessment", 2.0,
         "Báo cáo số 12/BC-UBND", "Trần Thị Bình", "tu_cham_30292.xlsx", digest, 4),
        (SCHEME, "2026", 202600, "30292", "2.1", "self_assessment", 1.0, None, WHO,
         "tu_cham_30292.xlsx", digest, 5)]
    imported_at = rows[0][12]
    assert imported_at.utcoffset() == dt.timedelta(0)
    assert abs(dt.datetime.now(dt.UTC) - imported_at) < dt.timedelta(minutes=5)


def test_headers_match_without_case_or_unicode_form_and_in_english(office: Settings,
                                                                  tmp_path: Path) -> None:
    nfd = [unicodedata.normalize("NFD", h) for h in ("  MÃ ĐƠN VỊ ", "mã tiêu chí")]
    rows = [["30292", "1.1.1", "2", "QĐ 1"], ["30307", "2.1", "1,5", ""]]
    load(office, xlsx(tmp_path / "nfd.xlsx", rows, header=[*nfd, "ĐIỂM", "evidence"],
                      title=[]))
    english = [["30313", "1.1.2", 3]]
    load(office, xlsx(tmp_path / "en.xlsx", english,
                      header=["unit_code", "criterion_code", "Points"]))
    assert points_of(office) == {("30292", "1.1.1", "self_assessment"): 2.0,
                                 ("30307", "2.1", "self_assessment"): 1.5,
                                 ("30313", "1.1.2", "self_assessment"): 3.0}


def test_a_csv_file_with_bom_loads(office: Settings, tmp_path: Path) -> None:
    text = ("Bảng tự chấm điểm năm 2026\n"
            "Mã đơn vị,Tên đơn vị,Mã tiêu chí,Điểm tối đa,Điểm,Tài liệu kiểm chứng\n"
            '30292,Phường Bình Đức,1.1.1,2,"1,5",Kế hoạch số 5/KH-UBND\n'
            "30292,Phường Bình Đức,1.1.2,4,,\n"
            "30307,Phường Long Xuyên,2.1,3,3,\n")
    result = load(office, csv_file(tmp_path / "tu_cham.csv", text))
    assert (result.rows, result.sheet.skipped_blank, result.sheet.units) == \
        (2, 1, ["30292", "30307"])
    assert points_of(office) == {("30292", "1.1.1", "self_assessment"): 1.5,
                                 ("30307", "2.1", "self_assessment"): 3.0}
    semicolons = csv_file(tmp_path / "excel_vi.csv", "Mã đơn vị;Mã tiêu chí;Điểm\n"
                                                     "30313;1.1.1;1,5\n", bom=False)
    load(office, semicolons)
    assert points_of(office)[("30313", "1.1.1", "self_assessment")] == 1.5


def test_a_csv_error_names_row_and_column(loaded: Settings, tmp_path: Path) -> None:
    text = "Mã đơn vị,Mã tiêu chí,Điểm\n30292,1.1.1,2\n30292,1.1.2,nhiều\n"
    message = rejected(loaded, csv_file(tmp_path / "bad.csv", text))
    assert "row 3, column Điểm (C): 'nhiều' is not a number" in message


def test_a_unit_code_excel_stored_as_a_number_finds_its_leading_zeros(
        rule_set: RuleSet, tmp_path: Path) -> None:
    path = xlsx(tmp_path / "hanoi.xlsx", [[4, "1.1.1", 2], [70, "2.1", 3]],
                header=["Mã đơn vị", "Mã tiêu chí", "Điểm"], title=[])
    sheet = read_points_file(path, rule_set, {"00004", "00070", "30292"})
    assert [(r.row_number, r.unit_code, r.criterion_code, r.points) for r in sheet.rows] == [
        (2, "00004", "1.1.1", 2.0), (3, "00070", "2.1", 3.0)]


def test_read_points_is_pure_and_returns_typed_rows(rule_set: RuleSet, tmp_path: Path) -> None:
    data = xlsx(tmp_path / "a.xlsx", [line("30292", "1.1.1", 2),
                                      line("30292", "1.2", None)]).read_bytes()
    sheet = read_points("từ xã.xlsx", data, rule_set, set(UNITS))
    assert sheet.header_row == 3 and sheet.skipped_blank == 1
    (row,) = sheet.rows
    assert (row.row_number, row.unit_code, row.criterion_code, row.points, row.evidence,
            row.entered_by) == (4, "30292", "1.1.1", 2.0, "Báo cáo số 12/BC-UBND", None)


# -- rounds and replacement --------------------------------------------------------------
def test_a_corrected_file_replaces_its_round_for_its_units_only(loaded: Settings,
                                                                tmp_path: Path) -> None:
    load(loaded, xlsx(tmp_path / "appraisal.xlsx", [line("30292", "1.1.1", 1.5)]),
         round="appraisal_1")
    corrected = [line("30292", "1.1.1", 1), line("30292", "2.1", 3)]  # 1.1.2 and 1.2 gone
    result = load(loaded, xlsx(tmp_path / "corrected.xlsx", corrected))
    assert (result.rows, result.replaced) == (2, 4)
    assert points_of(loaded) == {
        ("30292", "1.1.1", "self_assessment"): 1.0, ("30292", "2.1", "self_assessment"): 3.0,
        ("30292", "1.1.1", "appraisal_1"): 1.5,
        ("30307", "1.1.1", "self_assessment"): 1.0, ("30307", "1.1.2", "self_assessment"): 4.0,
        ("30307", "1.2", "self_assessment"): 0.0, ("30307", "2.1", "self_assessment"): 3.0}
    # Another period of the same scheme is its own: the year stays as it is.
    year = stored(loaded)
    load(loaded, xlsx(tmp_path / "q1.xlsx", [line("30292", "1.1.1", 0)]),
         period=Period.parse("2026-Q1"))
    after = stored(loaded)
    assert [r for r in after if r[2] == 202600] == year
    assert [r[2:7] for r in after if r[2] == 202621] == [
        (202621, "30292", "1.1.1", "self_assessment", 0.0)]


def test_appraisal_1_before_self_assessment_is_rejected(loaded: Settings,
                                                        tmp_path: Path) -> None:
    rows = [line("30292", "1.1.1", 1), line("30313", "1.1.1", 1)]  # 30313: no self-assessment
    message = rejected(loaded, xlsx(tmp_path / "a1.xlsx", rows), round="appraisal_1")
    assert "appraisal_1 (Thẩm định lần 1) needs the self_assessment (Tự chấm) of each unit " \
           "loaded first" in message
    assert "1 unit(s) of the file: 30313" in message
    message = rejected(loaded, xlsx(tmp_path / "a2.xlsx", [line("30292", "1.1.1", 1)]),
                       round="appraisal_2")
    assert "needs the appraisal_1 (Thẩm định lần 1)" in message and "30292" in message


def test_a_period_the_rule_set_does_not_score_is_rejected(office: Settings,
                                                          tmp_path: Path) -> None:
    path = xlsx(tmp_path / "month.xlsx", [line("30292", "1.1.1", 1)])
    with pytest.raises(ManualPointsError, match="scores quarter, year periods, not a month"):
        load(office, path, period=Period.parse("2026-03"))
    with pytest.raises(ManualPointsError, match="no version of scheme 'par_test' is in force "
                                                "on 2025-12-31"):
        load(office, path, period=Period("year", 2025, 0))


def test_the_latest_round_counts() -> None:
    rows = [(("30292", "1.1.1"), "self_assessment", 3.0),
            (("30292", "1.1.1"), "appraisal_1", 2.5),
            (("30292", "2.1"), "appraisal_2", 1.0), (("30292", "2.1"), "self_assessment", 3.0),
            (("30292", "2.1"), "appraisal_1", 2.0), (("30307", "1.1.1"), "self_assessment", 2.0)]
    assert latest_round(rows) == {("30292", "1.1.1"): (2.5, "appraisal_1"),
                                  ("30292", "2.1"): (1.0, "appraisal_2"),
                                  ("30307", "1.1.1"): (2.0, "self_assessment")}
    with pytest.raises(ValueError, match="unknown round 'final'"):
        latest_round([(("30292", "1.1.1"), "final", 1.0)])


def test_read_latest_points_gives_the_latest_round_per_unit_and_criterion(
        office: Settings, tmp_path: Path) -> None:
    load(office, xlsx(tmp_path / "self.xlsx", [line("30292", "2.1", 3),
                                               line("30292", "1.1.1", 2)]))
    load(office, xlsx(tmp_path / "a1.xlsx", [line("30292", "2.1", "2,5")]),
         round="appraisal_1")
    engine = make_engine(office.warehouse_url, create=False)
    try:
        with engine.connect() as conn:
            latest = read_latest_points(conn, SCHEME, "2026", [202600, 202621])
            other = read_latest_points(conn, SCHEME, "2025", [202600])
    finally:
        engine.dispose()
    assert latest == {(202600, "30292", "2.1"): (2.5, "appraisal_1"),
                      (202600, "30292", "1.1.1"): (2.0, "self_assessment")}
    assert other == {}


# -- the template ------------------------------------------------------------------------
def test_template_round_trip(office: Settings, rule_set: RuleSet, tmp_path: Path) -> None:
    path = tmp_path / "mau_tu_cham.xlsx"
    assert write_template(path, rule_set, UNITS, YEAR, "self_assessment") == 12
    workbook = openpyxl.load_workbook(path)
    assert workbook.sheetnames == ["Chấm điểm", "Hướng dẫn", "reformstats"]
    assert workbook["reformstats"].sheet_state == "hidden"
    sheet = workbook["Chấm điểm"]
    title = [sheet.cell(r, 1).value or "" for r in range(1, 6)]
    assert title[0] == "Bộ chỉ số cải cách hành chính cấp xã (kiểm thử)"
    assert "2026" in title[1] and title[2] == "Kỳ đánh giá: Năm 2026 (2026)"
    assert title[3] == "Vòng chấm: Tự chấm" and "Tài liệu kiểm chứng" in title[4]
    assert [c.value for c in sheet[7]] == HEADER
    data = [[c.value for c in row] for row in sheet.iter_rows(min_row=8)]
    assert len(data) == 3 * 4  # units x manual leaves
    assert [(r[0], r[2], r[4], r[5]) for r in data[:5]] == [
        ("30292", "1.1.1", 2, None), ("30292", "1.1.2", 4, None), ("30292", "1.2", 4, None),
        ("30292", "2.1", 3, None), ("30307", "1.1.1", 2, None)]
    assert data[0][1] == "Phường Bình Đức" and data[0][3] == "Ban hành kế hoạch đúng thời hạn"
    (rule,) = sheet.data_validations.dataValidation
    assert (str(rule.sqref), rule.type, rule.formula1) == (
        "F8:F19", "custom",
        "AND(ISNUMBER(F8),F8>=0,F8<=E8,OR(F8=0,F8=E8,COUNTIFS('Hướng dẫn'!$A$26:$A$29,C8,"
        "'Hướng dẫn'!$D$26:$D$29,\"Đạt/không đạt*\")=0))")
    guide = workbook["Hướng dẫn"]
    assert [[c.value for c in row] for row in guide["A25:D29"]] == [
        ["Mã tiêu chí", "Nội dung tiêu chí", "Điểm tối đa", "Cách chấm"],
        ["1.1.1", "Ban hành kế hoạch đúng thời hạn", 2, "Từ 0 đến 2 điểm"],
        ["1.1.2", "Mức độ hoàn thành kế hoạch", 4, "Từ 0 đến 4 điểm"],
        ["1.2", "Báo cáo cải cách hành chính đầy đủ, đúng hạn", 4, "Đạt/không đạt: 4 hoặc 0 điểm"],
        ["2.1", "Tuyên truyền cải cách hành chính", 3, "Từ 0 đến 3 điểm"]]
    assert sheet.column_dimensions["D"].width >= 40
    # Fill some cells, leave others blank, import.
    sheet["F8"], sheet["G8"] = "1,5", "Kế hoạch số 5/KH-UBND"   # 30292 1.1.1
    sheet["F10"] = 4                                               # 30292 1.2 (boolean)
    sheet["F17"], sheet["H17"] = 2, "Lê Văn Cường"                 # 30313 1.1.2
    workbook.save(path)
    result = load(office, path)
    assert (result.rows, result.sheet.skipped_blank, result.sheet.units) == \
        (3, 9, ["30292", "30313"])
    assert points_of(office) == {("30292", "1.1.1", "self_assessment"): 1.5,
                                 ("30292", "1.2", "self_assessment"): 4.0,
                                 ("30313", "1.1.2", "self_assessment"): 2.0}


def test_a_template_imported_as_another_round_or_period_is_rejected(
        office: Settings, rule_set: RuleSet, tmp_path: Path) -> None:
    from marts.manual_points import ManualPointsError
    from steps.manual_points import import_points

    path = tmp_path / "tu_cham.xlsx"
    write_template(path, rule_set, UNITS, YEAR, "self_assessment")
    workbook = openpyxl.load_workbook(path)
    workbook["Chấm điểm"]["F8"] = 1
    workbook.save(path)
    with pytest.raises(ManualPointsError) as caught:
        import_points(path, SCHEME, YEAR, "appraisal_1", "tester", office)
    assert "written for round 'self_assessment', not 'appraisal_1'" in str(caught.value)
    with pytest.raises(ManualPointsError) as caught:
        import_points(path, SCHEME, Period.parse("2026-Q1"), "self_assessment", "tester",
                      office)
    assert "written for period '2026', not '2026-Q1'" in str(caught.value)
    assert points_of(office) == {}


def test_template_for_a_province_lists_its_communes(office: Settings, tmp_path: Path) -> None:
    out = tmp_path / "out" / "an_giang.xlsx"
    done = template(office, SCHEME, YEAR, "appraisal_1", out, ["91"])
    # An Giang has 102 communes, wards and special zones from 1 July 2025.
    assert (done.units, done.criteria, done.rows, done.provinces) == (102, 4, 408, ("91",))
    sheet = openpyxl.load_workbook(out)["Chấm điểm"]
    assert sheet["A4"].value == "Vòng chấm: Thẩm định lần 1"
    assert sheet.max_row == 7 + 408
    with pytest.raises(ManualPointsError, match="applies to the provinces 91, not 01"):
        template(office, SCHEME, YEAR, "self_assessment", out, ["01"])


def test_commands_template_and_import(office: Settings, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from commands.cli import app

    monkeypatch.setenv("REFORMSTATS_CONFIG_DIR", str(office.config_dir))
    url = office.warehouse_url.removeprefix("duckdb:///")
    out = tmp_path / "mau.xlsx"
    runner = CliRunner()
    written = runner.invoke(app, ["scoring", "template", "--scheme", SCHEME, "--period", "2026",
                                  "--province", "91", "--round", "self_assessment",
                                  "--out", str(out), "--url", url])
    assert written.exit_code == 0, written.output
    assert "102 units x 4 manual criteria = 408 rows" in written.output
    workbook = openpyxl.load_workbook(out)
    sheet = workbook["Chấm điểm"]
    sheet["F8"] = 2  # the first unit's 1.1.1
    sheet["F9"] = "abc"
    workbook.save(out)
    arguments = ["scoring", "import", str(out), "--scheme", SCHEME, "--period", "2026",
                 "--round", "self_assessment", "--entered-by", WHO, "--url", url]
    bad = runner.invoke(app, arguments)
    assert bad.exit_code == 1
    assert "row 9, column Điểm (F): 'abc' is not a number" in bad.output
    assert stored(office) == []
    sheet["F9"] = 3
    workbook.save(out)
    good = runner.invoke(app, arguments)
    assert good.exit_code == 0, good.output
    assert "rows loaded: 2; units: 1; blank Điểm skipped: 406" in good.output
    assert len(stored(office)) == 2


@pytest.mark.postgres
def test_import_and_replace_on_postgresql(office: Settings, pg_url: str,
                                          tmp_path: Path) -> None:
    import dataclasses

    on_pg = dataclasses.replace(office, warehouse_url=pg_url)
    load(on_pg, xlsx(tmp_path / "self.xlsx", [line(*r) for r in BASELINE]))
    result = load(on_pg, xlsx(tmp_path / "fix.xlsx", [line("30307", "2.1", "2,5")]))
    assert result.replaced == 4
    load(on_pg, xlsx(tmp_path / "a1.xlsx", [line("30307", "2.1", 2)]), round="appraisal_1")
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            latest = read_latest_points(conn, SCHEME, "2026", [202600])
    finally:
        engine.dispose()
    assert latest == {
        (202600, "30292", "1.1.1"): (2.0, "self_assessment"),
        (202600, "30292", "1.1.2"): (3.0, "self_assessment"),
        (202600, "30292", "1.2"): (4.0, "self_assessment"),
        (202600, "30292", "2.1"): (1.5, "self_assessment"),
        (202600, "30307", "2.1"): (2.0, "appraisal_1")}
