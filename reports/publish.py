"""Writing a scorecard's files: the HTML page per language, the workbook and the CSV files.

`publish(conn, province, period, settings, out_dir, languages)` writes, into
`<out_dir>/<province>/<period label>/`:

- `scorecard.<lang>.html`: the page (reports/render.py), opening offline; each language's
  page links to the other's when both are written;
- `scorecard.<lang>.xlsx`: a sheet per table of the page (reports/exports.py);
- `scorecard.<lang>_<table>.csv`: one CSV per table, UTF-8 with a byte-order mark.

Every file is written whole under a temporary name and renamed, so rewriting a period
(a rerun, a backfill) replaces its files and a reader never opens half a file. Reads the
warehouse only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from domain.periods import Period
from reports.exports import MISSING_NOTE, write_all, write_whole
from reports.render import render_scorecard
from reports.scorecard import Scorecard, build
from reports.settings import Labels, ReportSettings

STEM = "scorecard"


@dataclass(frozen=True)
class Published:
    """What `publish` wrote for one language."""

    province_code: str
    period: str
    lang: str
    html: Path
    xlsx: Path
    csv: tuple[Path, ...]
    has_data: bool
    missing: tuple[str, ...]


def report_folder(out_dir: Path, province: str, period: Period) -> Path:
    return Path(out_dir) / province / period.label


def workbook_title(card: Scorecard) -> str:
    t = Labels(card.lang)
    return t("workbook_title", province=card.province_name, period=card.period.label)


def card_notes(card: Scorecard) -> list[str]:
    """The lines above a workbook's tables: when, what an empty cell means, what is
    missing."""
    t = Labels(card.lang)
    return [t("generated_at", when=card.generated_at.strftime("%Y-%m-%d %H:%M UTC")),
            MISSING_NOTE[card.lang], *card.missing]


def write_card(card: Scorecard, folder: Path, *, other_language: str | None = None
               ) -> Published:
    """The files of one built scorecard."""
    html = write_whole(folder / f"{STEM}.{card.lang}.html", render_scorecard(
        card, other_language_href=f"{STEM}.{other_language}.html" if other_language
        else None).encode("utf-8"))
    written = write_all(card.tables(), folder, f"{STEM}.{card.lang}", card.lang,
                        title=workbook_title(card), notes=card_notes(card))
    paths = list(written.values())
    return Published(card.province_code, card.period.label, card.lang, html, paths[0],
                     tuple(paths[1:]), card.has_data, tuple(card.missing))


def publish(conn: sa.Connection, province: str, period: Period, settings: ReportSettings,
            out_dir: Path, languages: Sequence[str] | None = None,
            now: dt.datetime | None = None) -> list[Published]:
    """Build the scorecard of `province` for `period` in each language and write its
    files (see the module docstring); returns what was written, per language."""
    langs = list(languages or settings.languages)
    folder = report_folder(out_dir, province, period)
    out = []
    for lang in langs:
        other = next((x for x in langs if x != lang), None)
        card = build(conn, province, period, settings, lang, now=now)
        out.append(write_card(card, folder, other_language=other))
    return out
