"""A table as offices read it: columns with Vietnamese and English headers and a number
format, rows as plain values. The scorecard's HTML, the .xlsx and the CSV exports all take
this one shape, so a figure on the page and in the file come from the same row.

Formats (`Column.fmt`):
- `text`: as is;
- `int`: a count (`#,##0`);
- `decimal`: points and other decimals, 2 places (`#,##0.00`);
- `ratio`: a fraction 0..1 shown as a percentage (`0.00%`); the value stays the fraction;
- `percent`: a number already ×100 (e.g. `fact_scheme_result.percent`), 2 places;
- `signed`: a change, with its sign (`+#,##0;-#,##0;0`);
- `bool`: met / not met (đạt / không đạt), empty when unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FORMATS = ("text", "int", "decimal", "ratio", "percent", "signed", "bool")
LANGUAGES = ("vi", "en")


@dataclass(frozen=True)
class Column:
    key: str
    vi: str
    en: str
    fmt: str = "text"

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"column {self.key}: format {self.fmt!r} is not one of {FORMATS}")

    def header(self, lang: str) -> str:
        return self.vi if lang == "vi" else self.en


@dataclass(frozen=True)
class Table:
    """`name` is a short identifier (sheet and file names: ASCII, at most 31 characters);
    `title_vi` / `title_en` what a reader sees above it."""

    name: str
    title_vi: str
    title_en: str
    columns: Sequence[Column]
    rows: Sequence[Mapping[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if len(self.name) > 31 or not self.name.isascii():
            raise ValueError(f"table name {self.name!r}: at most 31 ASCII characters "
                             "(an Excel sheet name)")

    def title(self, lang: str) -> str:
        return self.title_vi if lang == "vi" else self.title_en

    def values(self) -> list[list[Any]]:
        """The rows as lists in column order."""
        return [[row.get(c.key) for c in self.columns] for row in self.rows]


def written_percent(fraction: float, lang: str) -> str:
    """A fraction as a percentage: 98,50 % in Vietnamese, 98.50% in English."""
    return written_number(fraction * 100, lang) + ("%" if lang == "en" else " %")


def written_number(value: Any, lang: str, places: int = 2) -> str:
    """A number as the language writes it: 1.234,56 in Vietnamese, 1,234.56 in English;
    "" for a missing value."""
    if value is None:
        return ""
    text = f"{float(value):,.{places}f}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "vi" else text
