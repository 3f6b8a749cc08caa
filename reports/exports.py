"""The offices' files: a `Table` (reports/tables.py) as an .xlsx sheet or a CSV file.

- .xlsx: one sheet per table, titles above the header, the header frozen and filtered,
  widths fitted, each column's number format; numbers stay numbers (a ratio stays the
  fraction, shown as a percentage), codes stay text, a missing value is an empty cell.
- CSV: UTF-8 with a byte-order mark (so Excel on Windows reads Vietnamese intact), comma
  separated, CRLF line ends, the header in the chosen language, values raw.

Text is written in NFC; booleans as "Đạt" / "Không đạt" ("Met" / "Not met" in English).
Every file is written to a temporary name beside it and renamed, so a reader never opens
half a file.
"""

from __future__ import annotations

import csv
import io
import math
import numbers
import os
import re
import unicodedata
import uuid
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from reports.tables import LANGUAGES, Column, Table

CREATOR = "reformstats"
NUMBER_FORMATS = {
    "text": "@",
    "int": "#,##0",
    "decimal": "#,##0.00",
    "ratio": "0.00%",
    "percent": "0.00",
    "signed": "+#,##0;-#,##0;0",
    "bool": "@",
}
BOOL_WORDS = {"vi": ("Đạt", "Không đạt"), "en": ("Met", "Not met")}
# A note for `notes=`: what an empty cell means.
MISSING_NOTE = {"vi": "Ô để trống: chưa có số liệu (không phải 0).",
                "en": "An empty cell means no data (not zero)."}

MIN_WIDTH = 8
MAX_WIDTH = 60
# Characters a sheet name (and so a CSV file name) cannot hold.
_BAD_NAME = re.compile(r"[\[\]:*?/\\]")
# Control characters an .xlsx cannot hold (openpyxl refuses them).
_ILLEGAL_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _check_lang(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"language {lang!r} is not one of {LANGUAGES}")


def _text(value: Any) -> str:
    return unicodedata.normalize("NFC", str(value))


def _put(sheet: Any, row: int, column: int, value: str | int | float | None) -> Any:
    """Write a cell; text stays text ("01" and "=…" alike, never a number or a formula),
    without the control characters an .xlsx cannot hold."""
    if not isinstance(value, str):
        return sheet.cell(row, column, value)
    cell = sheet.cell(row, column, _ILLEGAL_XML.sub("", value))
    cell.data_type = "s"
    return cell


def _number(column: Column, value: Any) -> int | float | None:
    """A numeric cell's value: None (also for NaN and pandas' NA) when missing."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        raise TypeError(f"column {column.key} ({column.fmt}): not a number: {value!r}")
    if isinstance(value, numbers.Integral):
        return int(value)
    number = float(value)
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise ValueError(f"column {column.key} ({column.fmt}): infinite value")
    if column.fmt in ("int", "signed") and number.is_integer():
        return int(number)
    return number


def _flag(column: Column, value: Any, lang: str) -> str | None:
    if value is None:
        return None
    if type(value).__name__ == "bool_":  # numpy's
        value = bool(value)
    if not isinstance(value, bool):
        raise TypeError(f"column {column.key} (bool): not a boolean: {value!r}")
    met, not_met = BOOL_WORDS[lang]
    return met if value else not_met


def cell_value(column: Column, value: Any, lang: str = "vi") -> str | int | float | None:
    """What a file holds for `value` in `column`: NFC text, a number, the met / not met
    word, or None for a missing value (an empty cell, never 0)."""
    if column.fmt == "text":
        return None if value is None else _text(value)
    if column.fmt == "bool":
        return _flag(column, value, lang)
    return _number(column, value)


def _csv_field(value: str | int | float | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        shortest = repr(value)
        # Positional, never 1e-05: any reader parses it, and it is the same number.
        return format(Decimal(shortest), "f") if "e" in shortest else shortest
    return str(value)


def _shown(column: Column, value: str | int | float | None) -> str:
    """Roughly what Excel shows in the cell, to fit the column's width."""
    if value is None:
        return ""
    if isinstance(value, str):
        return max(value.splitlines() or [""], key=len)
    return {"int": f"{value:,.0f}", "decimal": f"{value:,.2f}", "ratio": f"{value:.2%}",
            "percent": f"{value:.2f}", "signed": f"{value:+,.0f}"}[column.fmt]


def write_whole(path: Path, data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.partial")
    try:
        with open(partial, "xb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def _check_names(tables: Sequence[Table]) -> None:
    seen: set[str] = set()
    for table in tables:
        if not table.name or _BAD_NAME.search(table.name):
            raise ValueError(f"table name {table.name!r}: empty, or holds one of [ ] : * ? / \\")
        if table.name.lower() in seen:
            raise ValueError(f"two tables are named {table.name!r} (sheet names must differ)")
        seen.add(table.name.lower())


def _write_sheet(sheet: Any, table: Table, lang: str, title: str | None,
                 notes: Sequence[str]) -> None:
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    lines = [(title, Font(bold=True, size=14))] if title else []
    lines.append((table.title(lang), Font(bold=True, size=14 if not title else 12)))
    lines += [(note, Font(italic=True, color="595959")) for note in notes]
    for row, (text, font) in enumerate(lines, start=1):
        _put(sheet, row, 1, _text(text)).font = font
    header_row = len(lines) + 2  # a blank row between the titles and the header

    header_font, header_fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    header_alignment = Alignment(wrap_text=True, vertical="center")
    wrapped = Alignment(wrap_text=True, vertical="top")
    widths = []
    for position, column in enumerate(table.columns, start=1):
        header = _text(column.header(lang))
        cell = _put(sheet, header_row, position, header)
        cell.font, cell.fill, cell.alignment = header_font, header_fill, header_alignment
        widths.append(len(header) + 2)  # bold, and the filter's button

    for offset, values in enumerate(table.values(), start=1):
        for position, (column, raw) in enumerate(zip(table.columns, values, strict=True),
                                                 start=1):
            value = cell_value(column, raw, lang)
            cell = _put(sheet, header_row + offset, position, value)
            cell.number_format = NUMBER_FORMATS[column.fmt]
            shown = len(_shown(column, value))
            if shown > MAX_WIDTH or (isinstance(value, str) and "\n" in value):
                cell.alignment = wrapped
            widths[position - 1] = max(widths[position - 1], shown + 1)

    for position, width in enumerate(widths, start=1):
        letter = get_column_letter(position)
        sheet.column_dimensions[letter].width = min(MAX_WIDTH, max(MIN_WIDTH, width))
    last_column = get_column_letter(max(1, len(table.columns)))
    last_row = header_row + len(table.rows)
    sheet.freeze_panes = f"A{header_row + 1}"
    sheet.auto_filter.ref = f"A{header_row}:{last_column}{last_row}"


def write_xlsx(tables: Sequence[Table], path: Path, lang: str = "vi", *,
               title: str | None = None, notes: Sequence[str] = ()) -> Path:
    """Write one sheet per table (named `table.name`) to `path`: `title` (the workbook's:
    province, period…), the table's title and `notes` (generated at, what an empty cell
    means: see MISSING_NOTE) above the header row in `lang`; the header frozen and
    filtered. Returns `path`."""
    from openpyxl import Workbook

    _check_lang(lang)
    if not tables:
        raise ValueError("a workbook needs at least one table")
    _check_names(tables)
    workbook = Workbook()
    workbook.remove(workbook.active)
    for table in tables:
        _write_sheet(workbook.create_sheet(table.name), table, lang, title, notes)
    workbook.properties.title = _text(title or "; ".join(t.title(lang) for t in tables))
    workbook.properties.creator = CREATOR
    workbook.properties.lastModifiedBy = CREATOR
    buffer = io.BytesIO()
    workbook.save(buffer)
    return write_whole(Path(path), buffer.getvalue())


def write_csv(table: Table, path: Path, lang: str = "vi") -> Path:
    """Write `table` to `path` as Excel reads CSV: UTF-8 with a BOM, commas, CRLF, the
    header in `lang`, raw values (a ratio as its fraction, a dot decimal; an empty field
    for a missing value). Returns `path`."""
    _check_lang(lang)
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_text(c.header(lang)) for c in table.columns])
    for values in table.values():
        writer.writerow([_csv_field(cell_value(c, v, lang))
                         for c, v in zip(table.columns, values, strict=True)])
    return write_whole(Path(path), buffer.getvalue().encode("utf-8-sig"))


def write_all(tables: Sequence[Table], out_dir: Path, stem: str, lang: str = "vi", *,
              title: str | None = None, notes: Sequence[str] = ()) -> dict[str, Path]:
    """Write `<stem>.xlsx` (every table) and `<stem>_<table.name>.csv` (one per table)
    into `out_dir`; returns {file name: path}, the workbook first."""
    if not stem or _BAD_NAME.search(stem) or stem.startswith("."):
        raise ValueError(f"file stem {stem!r}: empty, hidden, or holds one of [ ] : * ? / \\")
    _check_names(tables)
    out_dir = Path(out_dir)
    written = {f"{stem}.xlsx": write_xlsx(tables, out_dir / f"{stem}.xlsx", lang,
                                          title=title, notes=notes)}
    for table in tables:
        name = f"{stem}_{table.name}.csv"
        written[name] = write_csv(table, out_dir / name, lang)
    return written
