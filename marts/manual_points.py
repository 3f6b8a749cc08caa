"""The offices' manual points (điểm tự chấm, điểm thẩm định): reading their sheets, checking
them against a rule set, writing the blank template an office fills in.

A sheet (`.xlsx`, or `.csv` in UTF-8 with or without BOM) has one row per unit and manual
sub-criterion under a header row (found in the first rows, below any title block):
`Mã đơn vị`, `Tên đơn vị`, `Mã tiêu chí`, `Nội dung tiêu chí`, `Điểm tối đa`, `Điểm`,
`Tài liệu kiểm chứng`, `Người nhập` (or their English names). A row whose `Điểm` is blank
is not entered yet: skipped and counted. Every problem of a file is collected, each with
its row as the office sees it in Excel and its column, and raised together
(`ManualPointsError`): a file loads whole or not at all.

Rounds: self-assessment (tự chấm), then appraisal 1 and 2 (thẩm định lần 1, 2); the latest
round present counts (`latest_round`).

Pure: files in, rows out; no Airflow, no warehouse.
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from domain.periods import Period
from marts.rulesets import TOLERANCE, Criterion, RuleSet
from transforms.coerce import CoercionError, to_id, to_number, to_text
from transforms.sheets import (
    EXCEL_SUFFIXES,
    UNREADABLE,
    best_header_row,
    column_letter,
    csv_rows,
    filled,
    header_key,
    is_blank,
    workbook_rows,
)

ROUNDS = ("self_assessment", "appraisal_1", "appraisal_2")  # in order: the latest counts
ROUND_NAMES_VI = {"self_assessment": "Tự chấm", "appraisal_1": "Thẩm định lần 1",
                  "appraisal_2": "Thẩm định lần 2"}
SHEET_NAME = "Chấm điểm"
IDENTITY_SHEET = "reformstats"  # hidden: scheme, version, period, round of the template
GUIDE_SHEET_NAME = "Hướng dẫn"
GUIDE_ENGLISH = "Instructions (English)"
HEADER_SEARCH_ROWS = 15
POINT_DECIMALS = 2  # fact_manual_points.points is NUMERIC(7, 2)
TEXT_LIMIT = 255  # fact_manual_points.entered_by


@dataclass(frozen=True)
class Column:
    key: str
    header_vi: str
    required: bool
    width: int


# The sheet's columns, in the template's order.
COLUMNS = (
    Column("unit_code", "Mã đơn vị", True, 12),
    Column("unit_name", "Tên đơn vị", False, 30),
    Column("criterion_code", "Mã tiêu chí", True, 12),
    Column("criterion_name", "Nội dung tiêu chí", False, 60),
    Column("max_points", "Điểm tối đa", False, 12),
    Column("points", "Điểm", True, 10),
    Column("evidence", "Tài liệu kiểm chứng", False, 40),
    Column("entered_by", "Người nhập", False, 22),
)
BY_KEY = {c.key: c for c in COLUMNS}


class ManualPointsError(ValueError):
    """A sheet that cannot load: every problem found, each naming its row and column."""

    def __init__(self, problems: Sequence[str], source: str = "") -> None:
        self.problems = list(problems)
        where = f"{source}: " if source else ""
        outcome = ", nothing loaded" if source else ""
        super().__init__(f"{where}{len(self.problems)} problem(s){outcome}:\n"
                         + "\n".join(f"  {p}" for p in self.problems))


@dataclass(frozen=True)
class ManualPoint:
    """One entered row of a sheet; `row_number` is the sheet's row (1-based, as in Excel)."""

    row_number: int
    unit_code: str
    criterion_code: str
    points: float
    evidence: str | None = None
    entered_by: str | None = None  # the `Người nhập` cell, when filled


@dataclass(frozen=True)
class ManualPointsSheet:
    file_name: str
    sha256: str
    header_row: int
    rows: tuple[ManualPoint, ...]
    skipped_blank: int  # rows with a unit and criterion but no `Điểm` entered

    @property
    def units(self) -> list[str]:
        return sorted({r.unit_code for r in self.rows})


# -- reading cells ---------------------------------------------------------------------
_HEADERS = {header_key(name): c.key for c in COLUMNS for name in (c.header_vi, c.key)}
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d+$")


def parse_number(value: Any) -> float:
    """A number from a cell: a number, or text such as `2`, `1.5` or `1,5` (the Vietnamese
    decimal comma); CoercionError for anything else (`abc`, `5 điểm`, a date)."""
    if isinstance(value, str):
        text = value.strip().replace("\u00a0", "")
        value = text.replace(",", ".") if _DECIMAL_COMMA.match(text) else text
    number = to_number(value)
    if number is None or not math.isfinite(number):
        raise CoercionError(f"not a number: {value!r}")
    return number


def written_for(name: str, data: bytes) -> dict[str, str]:
    """What a template says it was written for (its hidden sheet: scheme, version, period,
    round); empty for a CSV or a sheet made by hand."""
    from openpyxl import load_workbook

    if Path(name).suffix.lower() not in EXCEL_SUFFIXES:
        return {}
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except UNREADABLE:
        return {}  # read_points says why
    try:
        if IDENTITY_SHEET not in workbook.sheetnames:
            return {}
        return {str(k): str(v) for k, v, *_ in workbook[IDENTITY_SHEET].iter_rows(
            values_only=True) if k is not None and v is not None}
    finally:
        workbook.close()


def identity_problems(found: Mapping[str, str], wanted: Mapping[str, str]) -> list[str]:
    """How a template's identity differs from what it is imported as."""
    return [f"the sheet was written for {key} {found[key]!r}, not {wanted[key]!r}: import it "
            f"as {key} {found[key]!r}, or write a new template for {wanted[key]!r}"
            for key in ("scheme", "version", "period", "round")
            if key in found and found[key] != wanted[key]]


def sheet_rows(name: str, data: bytes) -> list[list[Any]]:
    """The cells of a file's sheet, row by row from row 1 (ManualPointsError when the file
    cannot be read)."""
    suffix = Path(name).suffix.lower()
    if suffix in EXCEL_SUFFIXES:
        try:
            return workbook_rows(data, (SHEET_NAME,))[1]
        except UNREADABLE as exc:
            raise ManualPointsError([f"not a readable Excel workbook ({exc})"], name) from None
    if suffix == ".csv":
        try:
            return csv_rows(data.decode("utf-8-sig"),
                            lambda rows: _find_header(rows)[1] is None)
        except UnicodeDecodeError:
            raise ManualPointsError(["not UTF-8 text: save it as \"CSV UTF-8\""],
                                    name) from None
    raise ManualPointsError([f"a {suffix or 'nameless'} file: write .xlsx, or .csv in "
                             "UTF-8 (an old .xls: save it as .xlsx)"], name)


# -- the header ------------------------------------------------------------------------
def _find_header(rows: Sequence[Sequence[Any]]) -> tuple[tuple[int, dict[str, int]], str | None]:
    """((row index, {column key: cell index}), None) of the header row, or the best
    candidate and the problem with it. The header is the row of the first ones with the
    most cells naming a column."""
    best = best_header_row(rows, lambda cell: _HEADERS.get(header_key(cell)),
                           HEADER_SEARCH_ROWS)
    required = [c.header_vi for c in COLUMNS if c.required]
    index, matched = best
    if not matched:
        first = next((cells for cells in rows[:HEADER_SEARCH_ROWS]
                      if any(not is_blank(v) for v in cells)), [])
        return best, (f"no header row in the first {HEADER_SEARCH_ROWS} rows: expected the "
                      f"columns {', '.join(required)} (and optionally the others of the "
                      f"template); the first filled row has: {filled(first)}")
    missing = [c.header_vi for c in COLUMNS if c.required and c.key not in matched]
    if missing:
        return best, (f"row {index + 1}: header without the column(s) {', '.join(missing)}; "
                      f"found: {filled(rows[index])}")
    return best, None


def _header_problems(cells: Sequence[Any], matched: Mapping[str, int], row: int) -> list[str]:
    problems = []
    for key in matched:
        where = [column_letter(i) for i, cell in enumerate(cells)
                 if _HEADERS.get(header_key(cell)) == key]
        if len(where) > 1:
            problems.append(f"row {row}: column {BY_KEY[key].header_vi} appears "
                            f"{len(where)} times ({', '.join(where)}): keep one")
    return problems


# -- checking rows ---------------------------------------------------------------------
def _source_of(criterion: Criterion) -> str:
    if criterion.children:
        return "the sum of its sub-criteria"
    return f"computed from {criterion.source_kind} {criterion.source_code}"


def _numeric_unit_codes(units: Collection[str]) -> dict[int, list[str]]:
    """Codes of digits by value: a code Excel stored as a number lost its leading zeros
    (`00004` -> 4)."""
    by_value: dict[int, list[str]] = {}
    for code in units:
        if code.isdigit():
            by_value.setdefault(int(code), []).append(code)
    return by_value


class _Checker:
    def __init__(self, rule_set: RuleSet, units: Collection[str], header: Sequence[Any],
                 columns: Mapping[str, int]) -> None:
        self.rule_set = rule_set
        self.units = set(units)
        self.header = header
        self.columns = columns
        self.problems: list[str] = []
        self._by_value: dict[int, list[str]] | None = None

    def cell(self, cells: Sequence[Any], key: str) -> Any:
        index = self.columns.get(key)
        return cells[index] if index is not None and index < len(cells) else None

    def problem(self, row: int, key: str, message: str) -> None:
        index = self.columns[key]
        header = to_text(self.header[index]) or BY_KEY[key].header_vi
        self.problems.append(f"row {row}, column {header} ({column_letter(index)}): "
                             f"{message}")

    def unit(self, row: int, value: Any) -> str | None:
        code = to_id(value)
        if code is None:
            self.problem(row, "unit_code", "empty")
            return None
        if code in self.units:
            return code
        if isinstance(value, int | float) and not isinstance(value, bool) \
                and float(value).is_integer():
            if self._by_value is None:
                self._by_value = _numeric_unit_codes(self.units)
            candidates = self._by_value.get(int(value), [])
            if len(candidates) == 1:
                return candidates[0]
        provinces = ", ".join(self.rule_set.provinces) if self.rule_set.provinces else "all"
        self.problem(row, "unit_code", f"unknown unit {code!r}: not a {self.rule_set.level} "
                                       f"unit that {self.rule_set.scheme} "
                                       f"{self.rule_set.version} scores (provinces: "
                                       f"{provinces})")
        return None

    def criterion(self, row: int, value: Any) -> Criterion | None:
        code = to_id(value)
        if code is None:
            self.problem(row, "criterion_code", "empty")
            return None
        criterion = self.rule_set.by_code.get(code)
        where = f"{self.rule_set.scheme} {self.rule_set.version}"
        if criterion is None:
            self.problem(row, "criterion_code", f"unknown criterion {code!r}: not in {where}")
            return None
        if not criterion.manual:
            self.problem(row, "criterion_code", f"criterion {code} of {where} is not entered "
                                                f"by hand: it is {_source_of(criterion)}")
            return None
        return criterion

    def number(self, row: int, key: str, value: Any) -> float | None:
        try:
            return parse_number(value)
        except CoercionError:
            self.problem(row, key, f"{to_text(value)!r} is not a number (write e.g. 2, 1,5 "
                                   "or 1.5)")
            return None

    def points(self, row: int, criterion: Criterion, points: float) -> bool:
        top = criterion.max_points
        if points < 0:
            self.problem(row, "points", f"{points:g} is below 0")
        elif points > top + TOLERANCE:
            self.problem(row, "points", f"{points:g} is above the maximum {top:g} of "
                                        f"criterion {criterion.code}")
        elif criterion.method == "boolean" and not (abs(points) <= TOLERANCE
                                                     or abs(points - top) <= TOLERANCE):
            self.problem(row, "points", f"criterion {criterion.code} is met or not: 0 or "
                                        f"{top:g}, not {points:g}")
        elif abs(round(points, POINT_DECIMALS) - points) > 1e-9:
            self.problem(row, "points", f"{points!r} has more than {POINT_DECIMALS} decimals")
        else:
            return True
        return False

    def max_points(self, row: int, criterion: Criterion, value: Any) -> None:
        if is_blank(value):
            return
        stated = self.number(row, "max_points", value)
        if stated is not None and abs(stated - criterion.max_points) > TOLERANCE:
            self.problem(row, "max_points", f"{stated:g} in the file, but criterion "
                                            f"{criterion.code} has {criterion.max_points:g} "
                                            f"in {self.rule_set.scheme} "
                                            f"{self.rule_set.version}: the sheet was made for "
                                            "another version; write a new template")

    def text(self, row: int, key: str, value: Any, limit: int | None) -> str | None:
        text = to_text(value)
        if text is not None and limit is not None and len(text) > limit:
            self.problem(row, key, f"longer than {limit} characters")
        return text


def read_points(name: str, data: bytes, rule_set: RuleSet,
                units: Collection[str]) -> ManualPointsSheet:
    """The entered rows of a sheet (`name` says its type: .xlsx or .csv), checked against
    the rule set and the unit codes it scores; ManualPointsError with every problem."""
    rows = sheet_rows(name, data)
    if not any(not is_blank(v) for cells in rows for v in cells):
        raise ManualPointsError(["the file is empty"], name)
    (header_index, columns), problem = _find_header(rows)
    if problem:
        raise ManualPointsError([problem], name)
    header = rows[header_index]
    header_row = header_index + 1
    header_problems = _header_problems(header, columns, header_row)
    if header_problems:
        raise ManualPointsError(header_problems, name)
    check = _Checker(rule_set, units, header, columns)
    entered: list[ManualPoint] = []
    seen: dict[tuple[str, str], int] = {}
    data_rows = skipped = 0
    for index in range(header_index + 1, len(rows)):
        cells, row = rows[index], index + 1
        if all(is_blank(v) for v in cells):
            continue
        data_rows += 1
        if is_blank(check.cell(cells, "points")):
            skipped += 1
            continue
        unit = check.unit(row, check.cell(cells, "unit_code"))
        criterion = check.criterion(row, check.cell(cells, "criterion_code"))
        points = check.number(row, "points", check.cell(cells, "points"))
        if criterion is not None:
            check.max_points(row, criterion, check.cell(cells, "max_points"))
        valid = criterion is not None and points is not None \
            and check.points(row, criterion, points)
        evidence = check.text(row, "evidence", check.cell(cells, "evidence"), None) \
            if "evidence" in columns else None
        entered_by = check.text(row, "entered_by", check.cell(cells, "entered_by"),
                                TEXT_LIMIT) if "entered_by" in columns else None
        if unit is None or criterion is None:
            continue
        first = seen.setdefault((unit, criterion.code), row)
        if first != row:
            check.problem(row, "criterion_code", f"unit {unit} criterion {criterion.code} "
                                                 f"again (first in row {first}): keep one row")
        elif valid and points is not None:
            entered.append(ManualPoint(row, unit, criterion.code, round(points, POINT_DECIMALS),
                                       evidence, entered_by))
    if not data_rows:
        check.problems.append(f"a header in row {header_row} but no data row below it")
    elif not entered and not check.problems:
        check.problems.append(f"no points entered: the column {BY_KEY['points'].header_vi} "
                              f"is blank in all {skipped} data rows")
    if check.problems:
        raise ManualPointsError(check.problems, name)
    return ManualPointsSheet(file_name=Path(name).name, sha256=hashlib.sha256(data).hexdigest(),
                             header_row=header_row, rows=tuple(entered), skipped_blank=skipped)


def read_points_file(path: Path, rule_set: RuleSet, units: Collection[str]) -> ManualPointsSheet:
    """`read_points` of a file on disk."""
    return read_points(Path(path).name, Path(path).read_bytes(), rule_set, units)


# -- rounds ----------------------------------------------------------------------------
K = TypeVar("K", bound=Hashable)
_ROUND_ORDER = {name: position for position, name in enumerate(ROUNDS)}


def previous_round(round: str) -> str | None:
    """The round that must be loaded before `round` (None for the self-assessment)."""
    position = _ROUND_ORDER[round]
    return ROUNDS[position - 1] if position else None


def latest_round(rows: Iterable[tuple[K, str, float]]) -> dict[K, tuple[float, str]]:
    """For each key (e.g. (unit_code, criterion_code)) of rows (key, round, points), the
    points of the latest round present (appraisal_2 > appraisal_1 > self_assessment) and
    that round."""
    latest: dict[K, tuple[float, str]] = {}
    for key, round_name, points in rows:
        if round_name not in _ROUND_ORDER:
            raise ValueError(f"unknown round {round_name!r} (known: {', '.join(ROUNDS)})")
        held = latest.get(key)
        if held is None or _ROUND_ORDER[round_name] > _ROUND_ORDER[held[1]]:
            latest[key] = (points, round_name)
    return latest


# -- the template ----------------------------------------------------------------------
def period_vi(period: Period) -> str:
    """A period as an office writes it: `Năm 2026`, `Quý 1 năm 2026`, ..."""
    year, number = period.year, period.number
    return {
        "year": f"Năm {year}",
        "quarter": f"Quý {number} năm {year}",
        "half": f"6 tháng {'đầu' if number == 1 else 'cuối'} năm {year}",
        "month": f"Tháng {number} năm {year}",
        "year_to_date": f"Lũy kế từ tháng 1 đến tháng {number} năm {year}",
    }[period.period_type]


def manual_leaves(rule_set: RuleSet) -> list[Criterion]:
    """The criteria an office enters, in the rule set's order."""
    return sorted((c for c in rule_set.leaves if c.manual), key=lambda c: c.position)


MET_OR_NOT = "Đạt/không đạt"  # how a boolean criterion reads in the guide's table


def _how_vi(criterion: Criterion) -> str:
    top = f"{criterion.max_points:g}".replace(".", ",")
    if criterion.method == "boolean":
        return f"{MET_OR_NOT}: {top} hoặc 0 điểm"
    return f"Từ 0 đến {top} điểm"


def _points_rule(index: Mapping[str, int], first: int, last: int,
                 criteria_rows: tuple[int, int]) -> Any:
    """One rule over the whole `Điểm` column, relative to each row: a number from 0 to the
    row's `Điểm tối đa`; for a met / not met criterion (so marked in the guide's table of
    criteria, rows `criteria_rows`) 0 or that maximum."""
    from openpyxl.worksheet.datavalidation import DataValidation

    points, top, code = (f"{column_letter(index[key] - 1)}{first}"
                         for key in ("points", "max_points", "criterion_code"))
    low, high = criteria_rows
    guide = f"'{GUIDE_SHEET_NAME}'!"
    met_or_not = (f'COUNTIFS({guide}$A${low}:$A${high},{code},'
                  f'{guide}$D${low}:$D${high},"{MET_OR_NOT}*")')
    formula = (f"AND(ISNUMBER({points}),{points}>=0,{points}<={top},"
               f"OR({points}=0,{points}={top},{met_or_not}=0))")
    rule = DataValidation(type="custom", formula1=formula, allow_blank=True,
                          showInputMessage=True, showErrorMessage=True,
                          promptTitle="Điểm", errorTitle="Điểm không hợp lệ",
                          prompt="Từ 0 đến Điểm tối đa; tiêu chí đạt/không đạt: 0 hoặc "
                                 "Điểm tối đa",
                          error="Nhập một số từ 0 đến Điểm tối đa (tiêu chí đạt/không đạt: "
                                "0 hoặc Điểm tối đa)")
    column = column_letter(index["points"] - 1)
    rule.add(f"{column}{first}:{column}{max(first, last)}")
    return rule


def _guide_lines(rule_set: RuleSet, period: Period, round: str) -> list[str]:
    points = BY_KEY["points"].header_vi
    evidence = BY_KEY["evidence"].header_vi
    return [
        f"Hướng dẫn chấm điểm — {rule_set.name_vi}",
        f"Phiên bản {rule_set.version}; kỳ đánh giá: {period_vi(period)}; vòng chấm: "
        f"{ROUND_NAMES_VI[round]}.",
        "",
        f"1. Nhập điểm vào cột «{points}» của sheet «{SHEET_NAME}», mỗi dòng là một tiêu chí "
        "thành phần của một đơn vị.",
        "2. Điểm từ 0 đến «Điểm tối đa». Tiêu chí chấm đạt/không đạt chỉ nhập 0 hoặc điểm "
        "tối đa (xem bảng dưới).",
        "3. Số thập phân viết 1,5 hoặc 1.5; tối đa 2 chữ số thập phân. Không ghi chữ vào ô "
        "điểm (không viết «5 điểm»).",
        f"4. Ghi tài liệu kiểm chứng (số, ký hiệu, ngày văn bản hoặc đường dẫn) vào cột "
        f"«{evidence}».",
        f"5. Để trống ô «{points}» nếu chưa chấm: dòng đó không được nạp.",
        "6. Không sửa «Mã đơn vị», «Mã tiêu chí», «Điểm tối đa»; không thêm dòng trùng đơn "
        "vị và tiêu chí; không đổi tên cột.",
        "7. Các vòng chấm: tự chấm → thẩm định lần 1 → thẩm định lần 2. Điểm của vòng sau "
        "cùng đã nạp được dùng để tính điểm. Thẩm định lần 1 chỉ nạp được khi đơn vị đã có "
        "điểm tự chấm, thẩm định lần 2 khi đã có thẩm định lần 1.",
        "8. Nạp lại một tệp đã sửa thì điểm của vòng đó được thay toàn bộ cho các đơn vị có "
        "trong tệp; các đơn vị khác và các vòng khác giữ nguyên.",
        "9. Tệp có lỗi thì không nạp dòng nào: danh sách lỗi ghi rõ hàng và cột cần sửa.",
        "",
        GUIDE_ENGLISH,
        f"1. Enter the points in the «{points}» column of the «{SHEET_NAME}» sheet: one row "
        "per unit and manual sub-criterion.",
        "2. Points from 0 to «Điểm tối đa» (maximum); a met / not met criterion takes 0 or "
        "its maximum only (see the table below).",
        "3. Decimals as 1,5 or 1.5, at most 2 decimals; no text in the points cell.",
        f"4. Write the evidence (document number, date or link) in «{evidence}».",
        f"5. Leave «{points}» blank where not assessed yet: the row is not loaded.",
        "6. Do not change the unit code, the criterion code or the maximum; no duplicate "
        "rows; do not rename the columns.",
        "7. Rounds: self-assessment, then appraisal 1, then appraisal 2; the latest round "
        "loaded counts. Appraisal 1 loads only for units with a self-assessment, appraisal 2 "
        "only for units with appraisal 1.",
        "8. Importing a corrected file replaces that round for the units it holds; other "
        "units and rounds are untouched.",
        "9. A file with any error loads nothing: the errors name the row and column to fix.",
        "",
    ]


def write_template(path: Path, rule_set: RuleSet, units: Mapping[str, str], period: Period,
                   round: str) -> int:
    """Write the blank sheet for `units` ({code: name}) and the rule set's manual
    criteria, ordered by unit code, then criterion; returns the data rows written."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    if round not in ROUND_NAMES_VI:
        raise ValueError(f"unknown round {round!r} (known: {', '.join(ROUNDS)})")
    leaves = manual_leaves(rule_set)
    if not leaves:
        raise ValueError(f"{rule_set.scheme} {rule_set.version} has no manual criteria")
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_NAME
    last = column_letter(len(COLUMNS) - 1)
    titles = [
        (rule_set.name_vi, Font(bold=True, size=14)),
        (f"Phiên bản: {rule_set.version}"
         + (f" — {rule_set.decision}" if rule_set.decision else ""), Font(italic=True)),
        (f"Kỳ đánh giá: {period_vi(period)} ({period.label})", Font(bold=True)),
        (f"Vòng chấm: {ROUND_NAMES_VI[round]}", Font(bold=True)),
        (f"Nhập điểm vào cột «{BY_KEY['points'].header_vi}» (từ 0 đến «Điểm tối đa»; tiêu "
         "chí đạt/không đạt: 0 hoặc điểm tối đa) và tài liệu kiểm chứng vào cột "
         f"«{BY_KEY['evidence'].header_vi}». Không sửa các cột khác. Xem sheet "
         f"«{GUIDE_SHEET_NAME}».", Font(color="C00000")),
    ]
    plain, wrapped = Alignment(vertical="top"), Alignment(wrap_text=True, vertical="top")
    for row, (text, font) in enumerate(titles, start=1):
        cell = sheet.cell(row, 1, text)
        cell.font, cell.alignment = font, wrapped
        sheet.merge_cells(f"A{row}:{last}{row}")
    sheet.row_dimensions[len(titles)].height = 32
    header_row = len(titles) + 2
    fill, bold = PatternFill("solid", fgColor="DDEBF7"), Font(bold=True)
    centred = Alignment(wrap_text=True, horizontal="center", vertical="center")
    for position, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(header_row, position, column.header_vi)
        cell.font, cell.fill, cell.alignment = bold, fill, centred
        sheet.column_dimensions[column_letter(position - 1)].width = column.width
    index = {c.key: position for position, c in enumerate(COLUMNS, start=1)}
    row = header_row
    for code in sorted(units):
        for leaf in leaves:
            row += 1
            values = {"unit_code": code, "unit_name": units[code],
                      "criterion_code": leaf.code, "criterion_name": leaf.name_vi,
                      "max_points": leaf.max_points}
            for key, value in values.items():
                cell = sheet.cell(row, index[key], value)
                if key in ("unit_code", "criterion_code"):
                    cell.number_format = "@"  # codes stay text (leading zeros)
                cell.alignment = wrapped if key == "criterion_name" else plain
    lines = _guide_lines(rule_set, period, round)
    table_row = len(lines) + 1  # the guide's table of criteria: its header row
    sheet.add_data_validation(_points_rule(index, header_row + 1, row,
                                           (table_row + 1, table_row + len(leaves))))
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.auto_filter.ref = f"A{header_row}:{last}{row}"

    guide = workbook.create_sheet(GUIDE_SHEET_NAME)
    guide.column_dimensions["A"].width = 14
    guide.column_dimensions["B"].width = 70
    guide.column_dimensions["C"].width = 14
    guide.column_dimensions["D"].width = 30
    for number, text in enumerate(lines, start=1):
        if number == 1 or text == GUIDE_ENGLISH:
            guide.cell(number, 1, text).font = bold
        else:
            guide.cell(number, 1, text)
    for position, text in enumerate(("Mã tiêu chí", "Nội dung tiêu chí", "Điểm tối đa",
                                     "Cách chấm"), start=1):
        cell = guide.cell(table_row, position, text)
        cell.font, cell.fill = bold, fill
    for offset, leaf in enumerate(leaves, start=1):
        for position, value in enumerate((leaf.code, leaf.name_vi, leaf.max_points,
                                          _how_vi(leaf)), start=1):
            cell = guide.cell(table_row + offset, position, value)
            cell.alignment = wrapped if position == 2 else plain
    identity = workbook.create_sheet(IDENTITY_SHEET)  # what the sheet was written for
    for number, (key, value) in enumerate(
            (("scheme", rule_set.scheme), ("version", rule_set.version),
             ("period", period.label), ("round", round)), start=1):
        identity.cell(number, 1, key)
        identity.cell(number, 2, value)
    identity.sheet_state = "hidden"
    workbook.save(path)
    return row - header_row
