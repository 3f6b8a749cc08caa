"""E-office statistics (văn bản điện tử): what a province's e-office API answers, or the
monthly report an office fills in (docs/eoffice_report.md), as one frame of counts per unit
and month.

Both channels give the same columns: `unit_code`, `unit_name`, `source_unit_id`,
`row_number` (the item's position in the answer, or the report's row as Excel numbers it),
`parse_errors` (what could not be read, else null) and the counts of MEASURES. The value
rules (counts >= 0, signed <= outgoing, ...) are the validation suite's
(expectations/suites/documents.json), for both channels alike.

A report is read whole or refused: every problem found is collected with its sheet, row
and column, in Vietnamese and English (`ReportFileError`). Pure: bytes and units in,
frames out; no Airflow, no warehouse.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from domain.names import agency_code, display_name, name_key
from domain.periods import Month
from domain.units import Unit
from transforms import sheets
from transforms.coerce import CoercionError, to_count, to_id, to_text
from transforms.sheets import is_blank

MEASURES = ("incoming", "outgoing", "outgoing_signed", "hub_sent", "hub_received",
            "work_files", "work_files_online", "processed_on_time", "processed_late")
FRAME_COLUMNS = ("unit_code", "unit_name", "source_unit_id", "row_number", "parse_errors",
                 *MEASURES)
SHEET_NAME = "Báo cáo"
GUIDE_SHEET_NAME = "Hướng dẫn"
HEADER_SEARCH_ROWS = 20


@dataclass(frozen=True)
class Column:
    key: str
    header_vi: str
    header_en: str
    aliases: tuple[str, ...] = ()  # other spellings offices use (compared without accents too)
    width: int = 14


# The report's columns, in the template's order. `unit_code` or `unit_name` names the unit
# (either is enough); every count is required.
COLUMNS = (
    Column("row", "STT", "No.", ("số thứ tự", "tt"), 6),
    Column("unit_code", "Mã đơn vị", "Unit code", ("mã đv", "mã", "mã định danh"), 12),
    Column("unit_name", "Tên đơn vị", "Unit name", ("đơn vị", "cơ quan, đơn vị", "tên cơ quan",
                                                    "cơ quan", "tên cơ quan, đơn vị",
                                                    "tên đơn vị, cơ quan"), 34),
    Column("incoming", "Văn bản đến", "Incoming documents",
           ("số văn bản đến", "tổng số văn bản đến", "vb đến")),
    Column("outgoing", "Văn bản đi", "Outgoing documents",
           ("số văn bản đi", "tổng số văn bản đi", "vb đi", "văn bản phát hành")),
    Column("outgoing_signed", "Văn bản đi ký số", "Outgoing documents digitally signed",
           ("văn bản đi được ký số", "số văn bản đi ký số", "vb đi ký số",
            "văn bản ký số")),
    Column("hub_sent", "Gửi qua Trục liên thông", "Sent through the national hub",
           ("văn bản gửi qua trục liên thông", "gửi qua trục", "văn bản gửi qua trục",
            "gửi qua trục liên thông văn bản quốc gia", "văn bản qua trục liên thông gửi",
            "trục liên thông gửi", "gửi, nhận qua trục liên thông gửi",
            "gửi nhận qua trục liên thông gửi", "qua trục liên thông gửi")),
    Column("hub_received", "Nhận qua Trục liên thông", "Received through the national hub",
           ("văn bản nhận qua trục liên thông", "nhận qua trục", "văn bản nhận qua trục",
            "nhận qua trục liên thông văn bản quốc gia", "văn bản qua trục liên thông nhận",
            "trục liên thông nhận", "gửi, nhận qua trục liên thông nhận",
            "gửi nhận qua trục liên thông nhận", "qua trục liên thông nhận")),
    Column("work_files", "Hồ sơ công việc", "Work files",
           ("số hồ sơ công việc", "tổng số hồ sơ công việc", "hscv")),
    Column("work_files_online", "Hồ sơ công việc xử lý trên môi trường mạng",
           "Work files processed online",
           ("hồ sơ công việc xử lý trực tuyến", "hscv xử lý trên môi trường mạng",
            "hồ sơ xử lý trên môi trường mạng", "hscv trực tuyến")),
    Column("processed_on_time", "Văn bản xử lý đúng hạn", "Documents processed on time",
           ("xử lý đúng hạn", "đúng hạn", "xử lý văn bản đến đúng hạn", "văn bản đến đúng hạn",
            "văn bản đến xử lý đúng hạn", "văn bản đến đã xử lý đúng hạn")),
    Column("processed_late", "Văn bản xử lý quá hạn", "Documents processed late",
           ("xử lý quá hạn", "quá hạn", "trễ hạn", "xử lý văn bản đến quá hạn",
            "văn bản đến quá hạn", "văn bản đến xử lý quá hạn", "văn bản đến đã xử lý quá hạn",
            "xử lý trễ hạn")),
)
BY_KEY = {c.key: c for c in COLUMNS}


def _names(column: Column) -> Iterable[str]:
    yield from (column.header_vi, column.header_en, column.key, *column.aliases)


_EXACT = {sheets.header_key(n): c.key for c in COLUMNS for n in _names(c)}
_PLAIN = {sheets.plain_key(n): c.key for c in COLUMNS for n in _names(c)}


def column_of(cell: Any) -> str | None:
    """The report column a header cell names: exactly (NFC or NFD, any case and spacing),
    else without accents (`Van ban di ky so`); None when it names none."""
    if is_blank(cell):
        return None
    for key in _variants(sheets.header_key(cell)):
        found = _EXACT.get(key) or _PLAIN.get(sheets.plain_key(key))
        if found:
            return found
    return None


_FILLER = re.compile(r"\b(?:trong đó|trong do|of which)\b[:,]?\s*")
_TRAILING = re.compile(r"\s*(?:\([^)]*\)|\b(?:tổng số|tong so|tổng cộng|tong cong|tổng|tong|"
                       r"total|số lượng|so luong))\s*$")


def _variants(key: str) -> Iterable[str]:
    """A header, then without `trong đó` (of which) and without a trailing `tổng số`
    (total) or `(…)`: how a sub-header under its group reads (`văn bản đi tổng số`)."""
    yield key
    shorter = re.sub(r"\s+", " ", _FILLER.sub("", key)).strip()
    yield shorter
    yield _TRAILING.sub("", shorter).strip()


# -- problems, in both languages -------------------------------------------------------
@dataclass(frozen=True)
class ReportProblem:
    """One thing wrong with a report; `row` as Excel numbers it, `column` its letter."""

    vi: str
    en: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None   # letter, e.g. F
    header: str | None = None   # the header the office wrote above it

    def where(self, english: bool) -> str:
        parts = []
        if self.sheet:
            parts.append(f"sheet «{self.sheet}»" if english else f"trang tính «{self.sheet}»")
        if self.row is not None:
            parts.append(f"row {self.row}" if english else f"dòng {self.row}")
        if self.column:
            head = f" ({self.header})" if self.header else ""
            parts.append(f"column {self.column}{head}" if english
                         else f"cột {self.column}{head}")
        return ", ".join(parts)

    def text(self, english: bool = False) -> str:
        where = self.where(english)
        message = self.en if english else self.vi
        return f"{where}: {message}" if where else message


class ReportFileError(ValueError):
    """A report that cannot load: every problem found; nothing of it is loaded."""

    def __init__(self, problems: Sequence[ReportProblem], file_name: str = "",
                 fixable: bool = True) -> None:
        self.problems = list(problems)
        self.file_name = file_name
        self.fixable = fixable  # False: no change to the file helps (the operators decide)
        where = f"{file_name}: " if file_name else ""
        super().__init__(f"{where}{len(self.problems)} problem(s), nothing loaded:\n"
                         + "\n".join(f"  {p.text(english=True)}" for p in self.problems))

    def report(self) -> str:
        """The error report an office reads: Vietnamese first, then English."""
        name = self.file_name or "?"
        if self.fixable:
            vi = (f"Tệp «{name}» không được nạp: {len(self.problems)} lỗi. Sửa các lỗi sau "
                  "rồi gửi lại tệp (tệp đã sửa thay thế số liệu cũ của các đơn vị trong tệp "
                  "cho cùng tháng).")
            en = (f"File «{name}» was not loaded: {len(self.problems)} problem(s). Fix them "
                  "and send the file again (a corrected file replaces the month's earlier "
                  "figures of the units it holds).")
        else:
            vi = (f"Tệp «{name}» không được nạp, và sửa tệp không giúp được: xem lý do dưới "
                  "đây.")
            en = f"File «{name}» was not loaded, and no change to it would help: see why below."
        lines = [vi, ""]
        lines += [f"{n}. {p.text()}" for n, p in enumerate(self.problems, start=1)]
        lines += ["", en, ""]
        lines += [f"{n}. {p.text(english=True)}" for n, p in enumerate(self.problems, start=1)]
        return "\n".join(lines) + "\n"


def unit_code_of(value: Any) -> str | None:
    """A unit code as sent: a statistical code as it is (`03325`), a department's agency
    code in its short form whatever form it came in (`000.00.05.H01`, `h01.05` → `H01.05`)."""
    code = to_id(value)
    return code if code is None or code.isdigit() else agency_code(code)


# -- the API's items -------------------------------------------------------------------
def _counts(record: Mapping[str, Any], missing: str) -> tuple[dict[str, int | None], list[str]]:
    counts: dict[str, int | None] = {}
    errors = []
    for measure in MEASURES:
        if measure not in record:
            counts[measure] = None
            errors.append(f"{measure}: {missing}")
            continue
        try:
            counts[measure] = to_count(record[measure])
        except CoercionError as exc:
            counts[measure] = None
            errors.append(f"{measure}: {exc}")
    return counts, errors


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(FRAME_COLUMNS))
    for measure in MEASURES:
        frame[measure] = frame[measure].astype("Int64")
    frame["row_number"] = frame["row_number"].astype("Int64")
    return frame


def api_frame(items: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The frame of an answer's items: numbers as strings and `""` (0) read, names in NFC;
    a missing or unreadable count is null with the reason in `parse_errors`."""
    rows = []
    for position, item in enumerate(items, start=1):
        unit = item.get("unit") if isinstance(item.get("unit"), dict) else {}
        counts, errors = _counts(item, "missing from the item")
        name = to_text(unit.get("name"))
        rows.append({"unit_code": unit_code_of(unit.get("code")),
                     "unit_name": display_name(name) if name else None,
                     "source_unit_id": to_id(unit.get("id")), "row_number": position,
                     "parse_errors": "; ".join(errors) or None, **counts})
    return _frame(rows)


# -- the report file -------------------------------------------------------------------
@dataclass(frozen=True)
class ReportRow:
    row_number: int
    unit_code: str | None
    unit_name: str | None
    counts: Mapping[str, int]


@dataclass(frozen=True)
class ReportFile:
    """A report's rows as read (units not resolved yet), with where each column is."""

    file_name: str
    sha256: str
    sheet: str
    header_row: int
    month: Month | None  # from its title rows or its file name; None when neither says
    rows: tuple[ReportRow, ...]  # the rows read whole (a row with a problem is not here)
    columns: Mapping[str, tuple[str, str]]  # key -> (letter, the header as written)
    problems: tuple[ReportProblem, ...] = ()  # what reading its rows found
    skipped: int = 0  # listed units whose figures are all blank: not reported yet

    def problem(self, row: int | None, key: str | None, vi: str, en: str) -> ReportProblem:
        letter, header = self.columns.get(key, (None, None)) if key else (None, None)
        return ReportProblem(vi, en, self.sheet, row, letter, header)


_MONTH_PATTERNS = (
    re.compile(r"(?:tháng|thang|month|kỳ|ky)(?:\s+(?:báo cáo|bao cao|report))?\s*:?\s*"
               r"(\d{1,2})\s*[/.\-]\s*((?:19|20)\d{2})", re.IGNORECASE),
    re.compile(r"(?<!\d)((?:19|20)\d{2})[-_.](\d{2})(?!\d)"),
    re.compile(r"(?<![0-9A-Za-z])T(\d{1,2})[._\-]((?:19|20)\d{2})(?!\d)", re.IGNORECASE),
)


def month_in(text: str) -> Month | None:
    """The month a title or file name states: `Tháng 10/2026`, `THANG 10-2026`, `2026-10`,
    `2026_10`, `T10_2026`; None when it states none (or an impossible one)."""
    folded = display_name(text)
    for pattern in _MONTH_PATTERNS:
        found = pattern.search(folded)
        if found:
            a, b = found.groups()
            year, month = (int(a), int(b)) if len(a) == 4 else (int(b), int(a))
            if 1 <= month <= 12:
                return Month(year, month)
    return None


def _cells(name: str, data: bytes) -> tuple[str, list[list[Any]]]:
    suffix = Path(name).suffix.lower()
    if suffix in sheets.EXCEL_SUFFIXES:
        try:
            found = sheets.workbook_sheets(data)
        except sheets.UNREADABLE as exc:
            raise ReportFileError([ReportProblem(
                f"không đọc được tệp Excel ({type(exc).__name__}): tệp hỏng hoặc không phải "
                "bảng tính; mở bằng Excel và lưu lại dạng .xlsx",
                f"not a readable Excel workbook ({type(exc).__name__}): damaged or not a "
                "spreadsheet; open it in Excel and save it as .xlsx")], name) from None
        # the report's sheet: the one whose header names most columns (`Báo cáo` first)
        return max(found, key=lambda sheet: (len(_header(sheet[1]).matched),
                                              sheet[0] == SHEET_NAME))
    if suffix == ".csv":
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ReportFileError([ReportProblem(
                "tệp CSV không ở dạng UTF-8: trong Excel chọn Lưu dạng «CSV UTF-8»",
                "the CSV is not UTF-8 text: save it from Excel as \"CSV UTF-8\"")],
                name) from None
        return "CSV", sheets.csv_rows(text, lambda rows: len(_header(rows).matched) >= 3)
    raise ReportFileError([ReportProblem(
        f"tệp {suffix or 'không có phần mở rộng'} không được nhận: gửi tệp .xlsx hoặc .csv "
        "(tệp .xls cũ: lưu lại dạng .xlsx)",
        f"a {suffix or 'nameless'} file is not taken: send .xlsx or .csv (an old .xls: save "
        "it as .xlsx)")], name)


@dataclass(frozen=True)
class _Header:
    first: int                 # index of its first row (two when group headers are merged
    last: int                  # above sub-headers); data rows start below `last`
    matched: dict[str, int]    # column key -> cell index
    cells: list[Any]           # the header text of each cell (group and sub-header joined)


def _two_level(upper: Sequence[Any], lower: Sequence[Any]) -> list[Any]:
    """A header of two rows as one: a group header merged across its sub-headers
    (`Văn bản đi` over `Tổng số`, `Trong đó ký số`) reads `Văn bản đi Trong đó ký số`;
    a cell without a sub-header keeps its own text."""
    cells, group = [], None
    for position in range(max(len(upper), len(lower))):
        top = upper[position] if position < len(upper) else None
        below = lower[position] if position < len(lower) else None
        group = top if not is_blank(top) else group
        if is_blank(below):
            cells.append(top)
        else:
            cells.append(f"{group} {below}" if not is_blank(group) else below)
    return cells


def _header(rows: Sequence[Sequence[Any]]) -> _Header:
    """The header row with the most cells naming a column; or two rows read as one
    (group headers over sub-headers) when those name more."""
    index, matched = sheets.best_header_row(rows, column_of, HEADER_SEARCH_ROWS)
    best = _Header(index, index, matched, list(rows[index]) if rows else [])
    for upper in range(min(len(rows) - 1, HEADER_SEARCH_ROWS)):
        cells = _two_level(rows[upper], rows[upper + 1])
        _, found = sheets.best_header_row([cells], column_of, 1)
        if len(found) > len(best.matched):
            best = _Header(upper, upper + 1, found, cells)
    return best


_THOUSANDS = re.compile(r"^\d{1,3}(?:[.,\s\u00a0]\d{3})+$")


def _read_count(report: ReportFile, row: int, key: str, value: Any,
                problems: list[ReportProblem]) -> int | None:
    if is_blank(value):
        problems.append(report.problem(
            row, key, "ô trống: ghi 0 nếu không có", "empty: write 0 if there were none"))
        return None
    if isinstance(value, dt.date | dt.datetime | dt.time):
        problems.append(report.problem(
            row, key, f"là ngày tháng ({value}), không phải số: định dạng ô là Số",
            f"a date ({value}), not a number: format the cell as Number"))
        return None
    if isinstance(value, str) and _THOUSANDS.match(value.strip()):
        value = re.sub(r"[.,\s\u00a0]", "", value)  # 1.234 or 1 234: one thousand and more
    try:
        count = to_count(value)
    except CoercionError:
        count = None
    if count is None:
        text = to_text(value)
        problems.append(report.problem(
            row, key, f"«{text}» không phải số nguyên (ghi ví dụ 120 hoặc 1.250; không ghi "
            "chữ hay số lẻ)",
            f"{text!r} is not a whole number (write e.g. 120 or 1,250: no text or "
            "decimals)"))
    return count


def read_report(name: str, data: bytes) -> ReportFile:
    """A report's rows, checked for what reading can tell: a spreadsheet, a header row
    (below any title rows, in any of the accepted spellings), every count a whole number,
    each unit once. ReportFileError when there is nothing to go on (not a spreadsheet,
    empty, no usable header, no data row); the problems of its rows are the report's
    `problems` (each naming sheet, row, column), so that the checks after reading can add
    theirs and the office gets every problem of the file at once."""
    sheet, rows = _cells(name, data)
    sha = hashlib.sha256(data).hexdigest()
    if not any(not is_blank(v) for cells in rows for v in cells):
        raise ReportFileError([ReportProblem("tệp không có dữ liệu (trống)",
                                             "the file is empty", sheet)], name)
    found = _header(rows)
    index, matched, header = found.last, found.matched, found.cells
    header_row = index + 1
    need = [c for c in COLUMNS if c.key in MEASURES and c.key not in matched]
    if not matched:
        first = next((cells for cells in rows[:HEADER_SEARCH_ROWS]
                      if any(not is_blank(v) for v in cells)), [])
        raise ReportFileError([ReportProblem(
            f"không tìm thấy dòng tiêu đề cột trong {HEADER_SEARCH_ROWS} dòng đầu: cần các "
            f"cột {', '.join(c.header_vi for c in COLUMNS[1:])} (xem mẫu); dòng đầu có dữ "
            f"liệu ghi: {sheets.filled(first)}",
            f"no header row in the first {HEADER_SEARCH_ROWS} rows: expected the columns "
            f"{', '.join(c.header_vi for c in COLUMNS[1:])} (see the template); the first "
            f"filled row has: {sheets.filled(first)}", sheet)], name)
    problems = []
    for key in matched:
        where = [sheets.column_letter(i) for i, cell in enumerate(header) if column_of(cell) == key]
        if len(where) > 1:
            problems.append(ReportProblem(
                f"cột «{BY_KEY[key].header_vi}» xuất hiện {len(where)} lần "
                f"({', '.join(where)}): giữ một cột",
                f"column {BY_KEY[key].header_vi!r} appears {len(where)} times "
                f"({', '.join(where)}): keep one", sheet, header_row))
    if need or not ({"unit_code", "unit_name"} & set(matched)):
        wanted = [c.header_vi for c in need]
        if not {"unit_code", "unit_name"} & set(matched):
            wanted.insert(0, "Mã đơn vị hoặc Tên đơn vị")
        problems.append(ReportProblem(
            f"dòng tiêu đề thiếu cột: {', '.join(wanted)}; có: {sheets.filled(header)}",
            f"the header lacks the column(s): {', '.join(wanted)}; found: {sheets.filled(header)}",
            sheet, header_row))
    if problems:
        raise ReportFileError(problems, name)
    titles = " ".join(str(to_text(v)) for cells in rows[:found.first] for v in cells
                      if not is_blank(v))
    month = month_in(titles) or month_in(Path(name).stem)
    report = ReportFile(
        file_name=Path(name).name, sha256=sha, sheet=sheet, header_row=header_row,
        month=month, rows=(), columns={key: (sheets.column_letter(i), str(to_text(header[i])))
                                       for key, i in matched.items()})
    from_title, from_name = month_in(titles), month_in(Path(name).stem)
    if from_title and from_name and from_title != from_name:
        problems.append(ReportProblem(
            f"tiêu đề ghi tháng {from_title}, tên tệp ghi {from_name}: sửa cho khớp",
            f"the title says {from_title}, the file name {from_name}: make them agree", sheet))

    def cell(cells: Sequence[Any], key: str) -> Any:
        position = matched.get(key)
        return cells[position] if position is not None and position < len(cells) else None

    read: list[ReportRow] = []
    seen: dict[str, int] = {}
    skipped = 0
    for offset, cells in enumerate(rows[index + 1:], start=index + 2):
        counts_cells = [cell(cells, m) for m in MEASURES]
        code = unit_code_of(cell(cells, "unit_code"))
        unit_name = to_text(cell(cells, "unit_name"))
        if code is None and unit_name is None and all(is_blank(v) for v in counts_cells):
            continue  # a blank row, or the STT column alone
        if code is None and unit_name is None:
            label = sheets.filled(cells)
            if _is_total(label):
                continue  # a "Tổng cộng" row an office adds: not a unit
            problems.append(report.problem(
                offset, "unit_code" if "unit_code" in matched else "unit_name",
                "thiếu mã hoặc tên đơn vị", "no unit code or name"))
            continue
        if code is None and _is_total(unit_name or ""):
            continue
        if all(is_blank(v) for v in counts_cells):
            skipped += 1  # a listed unit whose figures are not entered: not reported
            continue
        counts = {m: _read_count(report, offset, m, cell(cells, m), problems)
                  for m in MEASURES}
        identity = f"code:{code}" if code else f"name:{name_key(unit_name or '')}"
        first = seen.setdefault(identity, offset)
        if first != offset:
            problems.append(report.problem(
                offset, "unit_code" if code else "unit_name",
                f"đơn vị {code or unit_name} lặp lại (đã có ở dòng {first}): giữ một dòng",
                f"unit {code or unit_name} again (first in row {first}): keep one row"))
            continue
        if all(v is not None for v in counts.values()):
            read.append(ReportRow(offset, code, unit_name,
                                  {k: int(v) for k, v in counts.items() if v is not None}))
    if not read and not problems:
        blank = (f" ({skipped} đơn vị chưa ghi số liệu)", f" ({skipped} unit rows with no "
                 "figures entered)") if skipped else ("", "")
        raise ReportFileError([ReportProblem(
            f"có dòng tiêu đề (dòng {header_row}) nhưng không có dòng số liệu nào{blank[0]}",
            f"a header in row {header_row} but no data row below it{blank[1]}", sheet)],
            name)
    return dataclasses.replace(report, rows=tuple(read), problems=tuple(problems),
                               skipped=skipped)


_TOTALS = {"tong cong", "tong so", "tong", "cong", "total", "toan tinh"}


def _is_total(text: str) -> bool:
    return sheets.plain_key(text).strip(" :.") in _TOTALS


# -- units -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ResolvedReport:
    report: ReportFile
    province: str | None  # None when no row told it
    rows: tuple[tuple[str, ReportRow], ...]  # (unit code, row) of each row resolved
    problems: tuple[ReportProblem, ...] = ()  # the rows whose unit did not resolve

    @property
    def unit_codes(self) -> tuple[str, ...]:
        return tuple(code for code, _ in self.rows)

    def frame(self) -> pd.DataFrame:
        return _frame([{"unit_code": code, "unit_name": row.unit_name,
                        "source_unit_id": None, "row_number": row.row_number,
                        "parse_errors": None, **row.counts} for code, row in self.rows])


@dataclass
class UnitIndex:
    """The units valid in the report's month: by code, and by name within a province."""

    valid: Mapping[str, Unit]
    province_of: Callable[[str], str | None]
    _names: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    _numbers: dict[int, list[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for code, unit in self.valid.items():
            province = self.province_of(code)
            if province is None:
                continue
            for key in {name_key(unit.name_vi, keep_type=True), name_key(unit.name_vi)}:
                self._names.setdefault((province, key), []).append(code)

    def by_number(self, code: str) -> str | None:
        """The unit whose digits-only code is this number: a code Excel stored as a number
        lost its leading zeros (`03325` -> 3325); None unless exactly one unit has it."""
        if not code.isdigit():
            return None
        if not self._numbers:
            for known in self.valid:
                if known.isdigit():
                    self._numbers.setdefault(int(known), []).append(known)
        found = self._numbers.get(int(code), [])
        return found[0] if len(found) == 1 else None

    def by_name(self, province: str, name: str) -> list[str]:
        found = self._names.get((province, name_key(name, keep_type=True)))
        return sorted(set(found or self._names.get((province, name_key(name)), [])))


def resolve_units(report: ReportFile, units: UnitIndex, month: Month,
                  province: str | None = None) -> ResolvedReport:
    """Each row's unit in the month's units: by code, else by name within the report's
    province (`province`, or the one its coded units are in). Unknown and ambiguous
    units, a unit twice, and units of several provinces are the result's problems."""
    problems: list[ReportProblem] = []
    day = month.last_day
    rows = [dataclasses.replace(r, unit_code=r.unit_code if r.unit_code in units.valid
                                else units.by_number(r.unit_code) or r.unit_code)
            if r.unit_code else r for r in report.rows]
    coded = {units.province_of(r.unit_code) for r in rows
             if r.unit_code and r.unit_code in units.valid}
    coded.discard(None)
    if province is None and len(coded) == 1:
        province = next(iter(coded))  # type: ignore[assignment]
    codes: list[str] = []
    resolved_rows: list[ReportRow] = []
    for row in rows:
        if row.unit_code:
            unit = units.valid.get(row.unit_code)
            if unit is None:
                problems.append(report.problem(
                    row.row_number, "unit_code",
                    f"mã đơn vị «{row.unit_code}» không có trong danh mục đơn vị hành chính "
                    f"ngày {day:%d/%m/%Y}",
                    f"unknown unit code {row.unit_code!r}: no unit has it on {day}"))
                continue
            if province is not None and units.province_of(row.unit_code) != province:
                problems.append(report.problem(
                    row.row_number, "unit_code",
                    f"đơn vị {row.unit_code} ({unit.name_vi}) không thuộc tỉnh {province}: "
                    "mỗi tệp là báo cáo của một tỉnh",
                    f"unit {row.unit_code} ({unit.name_vi}) is not in province {province}: "
                    "one file reports one province"))
                continue
            codes.append(row.unit_code)
            resolved_rows.append(row)
            continue
        if province is None:
            problems.append(report.problem(
                row.row_number, "unit_name",
                f"đơn vị «{row.unit_name}» chỉ có tên: ghi mã đơn vị, hoặc đặt tệp vào thư "
                "mục của tỉnh (inbox/eoffice/<mã tỉnh>/)",
                f"unit {row.unit_name!r} has a name only: write its code, or drop the file "
                "in its province's folder (inbox/eoffice/<province code>/)"))
            continue
        found = units.by_name(province, row.unit_name or "")
        if len(found) == 1:
            codes.append(found[0])
            resolved_rows.append(row)
        elif not found:
            problems.append(report.problem(
                row.row_number, "unit_name",
                f"không có đơn vị tên «{row.unit_name}» ở tỉnh {province} ngày "
                f"{day:%d/%m/%Y}: ghi mã đơn vị",
                f"no unit named {row.unit_name!r} in province {province} on {day}: write "
                "its code"))
        else:
            problems.append(report.problem(
                row.row_number, "unit_name",
                f"tên «{row.unit_name}» trùng nhiều đơn vị ({', '.join(found)}): ghi mã đơn vị",
                f"{row.unit_name!r} names several units ({', '.join(found)}): write its "
                "code"))
    if len(coded) > 1:
        problems.append(ReportProblem(
            f"tệp có đơn vị của nhiều tỉnh ({', '.join(sorted(map(str, coded)))}): mỗi tỉnh "
            "một tệp",
            f"the file holds units of several provinces ({', '.join(sorted(map(str, coded)))})"
            ": one file per province", report.sheet))
    # a unit written once by code and once by name is still one unit twice
    seen: dict[str, int] = {}
    kept: list[tuple[str, ReportRow]] = []
    for code, row in zip(codes, resolved_rows, strict=True):
        first = seen.setdefault(code, row.row_number)
        if first != row.row_number:
            problems.append(report.problem(
                row.row_number, "unit_code" if row.unit_code else "unit_name",
                f"đơn vị {code} lặp lại (đã có ở dòng {first}): giữ một dòng",
                f"unit {code} again (first in row {first}): keep one row"))
        else:
            kept.append((code, row))
    return ResolvedReport(report, province, tuple(kept), tuple(problems))


# -- the template ----------------------------------------------------------------------
TITLE = "BÁO CÁO SỐ LIỆU VĂN BẢN ĐIỆN TỬ, TRỤC LIÊN THÔNG VÀ HỒ SƠ CÔNG VIỆC"
GUIDE_VI = (
    "Hướng dẫn lập báo cáo",
    "1. Mỗi dòng một đơn vị; ghi «Mã đơn vị» (mã thống kê, hoặc mã định danh của sở, ngành) "
    "hoặc «Tên đơn vị» như trong danh mục đơn vị hành chính của tháng báo cáo.",
    "2. Ghi tháng báo cáo ở dòng tiêu đề «Tháng báo cáo: MM/YYYY», hoặc trong tên tệp "
    "(…_2026-10.xlsx).",
    "3. Mọi cột số là số nguyên không âm; không để trống (ghi 0), không ghi chữ.",
    "4. «Văn bản đi ký số» và «Gửi qua Trục liên thông» không lớn hơn «Văn bản đi»; «Hồ sơ "
    "công việc xử lý trên môi trường mạng» không lớn hơn «Hồ sơ công việc».",
    "5. Mỗi tệp là báo cáo của một tỉnh; không lặp lại đơn vị; có thể thêm dòng «Tổng cộng» "
    "(không được nạp).",
    "6. Tệp có lỗi không được nạp dòng nào: báo cáo lỗi ghi trang tính, dòng, cột cần sửa. "
    "Tệp đã sửa cho cùng tháng thay thế số liệu cũ của các đơn vị trong tệp.",
)
GUIDE_EN = (
    "Instructions (English)",
    "1. One row per unit: its code (statistical code, or a department's agency code) or its "
    "name as in the month's list of administrative units.",
    "2. The report month in the title row «Tháng báo cáo: MM/YYYY», or in the file name "
    "(…_2026-10.xlsx).",
    "3. Every count a whole number, 0 or more; no blank cell (write 0), no text.",
    "4. Signed and hub-sent documents at most the outgoing ones; work files processed online "
    "at most the work files.",
    "5. One province per file; each unit once; a «Tổng cộng» (total) row may be added (not "
    "loaded).",
    "6. A file with any error loads nothing: the error report names the sheet, row and "
    "column to fix. A corrected file for the same month replaces its units' figures.",
)


def write_template(path: Path, month: Month | None = None,
                   units: Mapping[str, str] | None = None) -> int:
    """Write the blank monthly report (title rows, the header, one row per unit of
    `units` {code: name} when given, the guide sheet); returns the unit rows written."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = SHEET_NAME
    last = sheets.column_letter(len(COLUMNS) - 1)
    month_text = f"{month.month:02d}/{month.year}" if month else "MM/YYYY"
    for row, (text, font) in enumerate(((TITLE, Font(bold=True, size=13)),
                                        (f"Tháng báo cáo: {month_text}", Font(bold=True))),
                                       start=1):
        sheet.cell(row, 1, text).font = font
        sheet.merge_cells(f"A{row}:{last}{row}")
    header_row = 4
    fill, centred = PatternFill("solid", fgColor="DDEBF7"), Alignment(
        wrap_text=True, horizontal="center", vertical="center")
    for position, column in enumerate(COLUMNS, start=1):
        cell = sheet.cell(header_row, position, column.header_vi)
        cell.font, cell.fill, cell.alignment = Font(bold=True), fill, centred
        sheet.column_dimensions[sheets.column_letter(position - 1)].width = column.width
    sheet.row_dimensions[header_row].height = 48
    for number, code in enumerate(sorted(units or {}), start=1):
        sheet.cell(header_row + number, 1, number)
        sheet.cell(header_row + number, 2, code).number_format = "@"  # leading zeros stay
        sheet.cell(header_row + number, 3, (units or {})[code])
    sheet.freeze_panes = f"D{header_row + 1}"
    guide = workbook.create_sheet(GUIDE_SHEET_NAME)
    guide.column_dimensions["A"].width = 110
    for number, text in enumerate((*GUIDE_VI, "", *GUIDE_EN, "", "Cột / Columns"), start=1):
        guide.cell(number, 1, text).font = Font(bold=number in (1, len(GUIDE_VI) + 2))
    start = len(GUIDE_VI) + len(GUIDE_EN) + 4
    for offset, column in enumerate(COLUMNS):
        guide.cell(start + offset, 1, f"{column.header_vi} — {column.header_en}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return len(units or {})
