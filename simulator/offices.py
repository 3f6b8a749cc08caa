"""Simulated reform offices: they fill the blank manual-points sheet the pipeline writes
(`reformstats scoring template`), as units do for their self-assessment and the province's
appraisers do after them: deterministic points from (seed, unit, criterion), appraisers
lowering about a third of them, booleans 0 or the maximum. Used by the demo, which then
imports the sheets through the same path an office's file takes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from simulator.world import _clamp, _unit_random

HEADER_CELLS = {"unit": "Mã đơn vị", "criterion": "Mã tiêu chí", "max": "Điểm tối đa",
                "points": "Điểm", "evidence": "Tài liệu kiểm chứng"}


def _points(seed: int, unit: str, criterion: str, top: float, boolean: bool,
            round_name: str) -> float:
    quality = 0.55 + 0.45 * _unit_random(seed, unit, "office")
    share = _clamp(quality + 0.3 * (_unit_random(seed, unit, criterion) - 0.5))
    if round_name != "self_assessment" and _unit_random(seed, unit, criterion,
                                                        round_name) < 0.35:
        share = _clamp(share - 0.25)  # the appraisers take points off
    if boolean:
        return top if share >= 0.6 else 0.0
    return round(round(share * top * 4) / 4, 2)  # quarter points, as offices write them


def fill_sheet(template: Path, out: Path, *, round_name: str,
               boolean_criteria: Collection[str] = (), seed: int = 766) -> int:
    """Write `out`: the template with `Điểm` and `Tài liệu kiểm chứng` filled in for every
    row; returns the rows filled."""
    from openpyxl import load_workbook

    book = load_workbook(template)
    sheet = book.worksheets[0]
    columns: dict[str, int] = {}
    header_row = 0
    for row in sheet.iter_rows(min_row=1, max_row=15):
        texts = {str(c.value).strip(): c.column for c in row if c.value is not None}
        if HEADER_CELLS["unit"] in texts:
            columns = {key: texts[text] for key, text in HEADER_CELLS.items()}
            header_row = row[0].row
            break
    if not columns:
        raise ValueError(f"{template}: no header row with {HEADER_CELLS['unit']!r}")
    filled = 0
    for row in sheet.iter_rows(min_row=header_row + 1):
        unit = row[columns["unit"] - 1].value
        criterion = row[columns["criterion"] - 1].value
        top = row[columns["max"] - 1].value
        if unit is None or criterion is None or top is None:
            continue
        unit, criterion = str(unit), str(criterion)
        row[columns["points"] - 1].value = _points(
            seed, unit, criterion, float(top), criterion in boolean_criteria, round_name)
        row[columns["evidence"] - 1].value = f"Hồ sơ minh chứng {criterion}/{unit}"
        filled += 1
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return filled


# How offices head their e-office report's columns: not always the template's words (no
# accents from a keyboard without Vietnamese input, decomposed accents from a Mac, spaces).
EOFFICE_HEADERS = ("STT", "Mã ĐV", "Tên cơ quan, đơn vị", "Van ban den", "Văn bản đi",
                   "Văn bản đi được ký số", "Gửi qua Trục  liên thông", "Nhận qua Trục liên thông",
                   unicodedata.normalize("NFD", "Hồ sơ công việc"),
                   "Hồ sơ công việc xử lý trên môi trường mạng", "Xử lý đúng hạn",
                   "Xử lý quá hạn")


def eoffice_report(out: Path, month: Any, rows: Sequence[tuple[str, str, dict[str, int]]],
                   *, break_row: int | None = None) -> Path:
    """Write an office's monthly e-office report as offices make them: two merged title
    rows, headers in the office's own words, one row per unit ((code, name, counts) in
    the simulator's field order), numbers some as text, a total row at the end. With
    `break_row`, that unit's signed documents exceed its outgoing ones (a typing slip)."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "Báo cáo"
    sheet["A1"] = "BÁO CÁO TÌNH HÌNH ỨNG DỤNG CÔNG NGHỆ THÔNG TIN TRONG QUẢN LÝ VĂN BẢN"
    sheet["A2"] = f"Kỳ báo cáo: Tháng {month.month:02d}/{month.year}"
    for row in (1, 2):
        sheet.merge_cells(start_row=row, start_column=1, end_row=row, end_column=12)
    for position, text in enumerate(EOFFICE_HEADERS, start=1):
        sheet.cell(4, position, text)
    totals = [0] * 9
    for number, (code, name, counts) in enumerate(rows, start=1):
        values = list(counts.values())
        if number == break_row:
            values[2] = values[1] + 3  # outgoing_signed > outgoing
        sheet.cell(4 + number, 1, number)
        sheet.cell(4 + number, 2, code).number_format = "@"
        sheet.cell(4 + number, 3, name)
        for offset, value in enumerate(values):
            text = _unit_random(766, code, str(month), offset, "as-text") < 0.15
            sheet.cell(4 + number, 4 + offset, str(value) if text else value)
            totals[offset] += value
    sheet.cell(5 + len(rows), 3, "Tổng cộng")
    for offset, value in enumerate(totals):
        sheet.cell(5 + len(rows), 4 + offset, value)
    out.parent.mkdir(parents=True, exist_ok=True)
    book.save(out)
    return out
