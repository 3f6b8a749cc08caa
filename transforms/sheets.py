"""Reading the spreadsheets offices send (.xlsx, or .csv in UTF-8 with or without BOM):
cells row by row from row 1 as Excel numbers them, and their header row found below any
title block, whatever spelling of the headers an office used.

Shared by every sheet an office fills in (manual points, e-office monthly reports). Pure:
bytes in, cells out; no Airflow, no warehouse.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Callable, Sequence
from typing import Any

from domain.names import display_name
from transforms.coerce import to_text

EXCEL_SUFFIXES = (".xlsx", ".xlsm")
# What openpyxl raises for bytes that are not a workbook (a renamed PDF, a truncated file).
UNREADABLE = (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError)


def header_key(text: Any) -> str:
    """A header as compared: NFC, trimmed, single spaces, no case; `_` reads as a space."""
    return display_name(str(text)).casefold().replace("_", " ") if text is not None else ""


def plain_key(text: Any) -> str:
    """`header_key` without any diacritic (`Văn bản đến` and `Van ban den` agree; `đ` is
    `d`), for headers typed on a keyboard without Vietnamese input."""
    decomposed = unicodedata.normalize("NFD", header_key(text).replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def is_blank(value: Any) -> bool:
    return to_text(value) is None


def column_letter(index: int) -> str:
    """The Excel letter of a 0-based column index (0 -> A, 27 -> AB)."""
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


def workbook_rows(data: bytes, prefer: Sequence[str] = ()) -> tuple[str, list[list[Any]]]:
    """(sheet name, cells) of a workbook's first sheet named in `prefer`, else its first
    sheet; every row, whatever size the file claims. Raises one of UNREADABLE."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        name = next((n for n in prefer if n in workbook.sheetnames), None)
        sheet = workbook[name] if name else workbook.worksheets[0]
        sheet.reset_dimensions()
        return sheet.title, [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def workbook_sheets(data: bytes) -> list[tuple[str, list[list[Any]]]]:
    """(name, cells) of every worksheet of a workbook, in order. Raises one of
    UNREADABLE."""
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        sheets = []
        for sheet in workbook.worksheets:
            sheet.reset_dimensions()
            sheets.append((sheet.title, [list(r) for r in sheet.iter_rows(values_only=True)]))
        return sheets
    finally:
        workbook.close()


def csv_rows(text: str, has_header: Callable[[list[list[Any]]], bool]) -> list[list[Any]]:
    """The rows of CSV text; the delimiter is the one (`,`, `;` as Excel writes with a
    decimal comma, or tab) under which `has_header` finds a header row, else a comma."""
    parsed = {d: list(csv.reader(io.StringIO(text, newline=""), delimiter=d))
              for d in (",", ";", "\t")}
    for rows in parsed.values():
        if has_header(rows):
            return rows
    return parsed[","]


def best_header_row(rows: Sequence[Sequence[Any]], lookup: Callable[[Any], str | None],
                    search_rows: int) -> tuple[int, dict[str, int]]:
    """(row index, {column key: cell index}) of the row among the first `search_rows` with
    the most cells naming a column (`lookup(cell)` gives a cell's key, or None); the first
    cell naming a key wins. ({}, 0) when no row names one."""
    best, best_count = (0, {}), 0
    for index, cells in enumerate(rows[:search_rows]):
        matched: dict[str, int] = {}
        for position, cell in enumerate(cells):
            key = lookup(cell)
            if key is not None:
                matched.setdefault(key, position)
        if len(matched) > best_count:
            best, best_count = (index, matched), len(matched)
    return best


def filled(cells: Sequence[Any]) -> str:
    """A row's filled cells as text, for an error message (`nothing` when none)."""
    texts = [str(to_text(v)) for v in cells if not is_blank(v)]
    return ", ".join(texts) if texts else "nothing"
