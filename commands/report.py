"""`reformstats report` and `reformstats export`: the scorecard of a province and period
as an offline HTML page with its workbook and CSV files, or the files alone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

Province = Annotated[str, typer.Option(
    "--province", help="province statistical code (mã tỉnh), e.g. 04 (Cao Bằng)")]
PeriodOption = Annotated[str, typer.Option(
    "--period", help="2026-03 (month), 2026-Q1, 2026-H1 or 2026 (year)")]
Languages = Annotated[list[str] | None, typer.Option(
    "--lang", help="vi (default) or en; repeat for both")]
Out = Annotated[Path | None, typer.Option(
    "--out", help="folder for <province>/<period>/ (default: REFORMSTATS_DATA_DIR/reports)")]
Url = Annotated[str | None, typer.Option(
    "--url", help="warehouse URL or DuckDB file (default: the configured warehouse)")]
Tables = Annotated[list[str] | None, typer.Option(
    "--table", help="only this table (sheet name, e.g. indicators, indicators_units, "
                    "points_lost); repeat for more; default: every table")]


def _open(url: str | None):
    from commands.cli import _warehouse_url
    from warehouse.engine import make_engine

    return make_engine(_warehouse_url(url), read_only=True)


def report_settings():
    from registry.settings import Settings
    from reports.settings import ReportSettings
    from steps.marts import catalogue

    settings = Settings.from_env()
    known = {i.code for i in catalogue(settings).indicators}
    return settings, ReportSettings.from_file(settings.config_dir / "reports.yaml", known)


def _period(text: str):
    from domain.periods import Period

    try:
        return Period.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--period") from None


def report(province: Province, period: PeriodOption, lang: Languages = None,
           out: Out = None, url: Url = None) -> None:
    """Write the scorecard of a province and period (HTML, .xlsx, CSV) and print the
    paths; a period without data gets a page that says so."""
    from reports.publish import publish

    settings, rs = report_settings()
    engine = _open(url)
    try:
        with engine.connect() as conn:
            written = publish(conn, province, _period(period), rs,
                              out or settings.data_dir / rs.out_dir, lang or None)
    except (LookupError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    for w in written:
        typer.echo(f"scorecard ({w.lang}): {w.html}")
        typer.echo(f"workbook ({w.lang}): {w.xlsx}")
        typer.echo(f"CSV ({w.lang}): {len(w.csv)} files in {w.csv[0].parent}" if w.csv
                   else f"CSV ({w.lang}): none")
        for sentence in w.missing:
            typer.echo(f"  missing data: {sentence}")


EXPORT_STEM = "export"


def export(province: Province, period: PeriodOption, lang: Languages = None,
           table: Tables = None, out: Out = None, url: Url = None) -> None:
    """Write the scorecard's tables (rankings, points by field, indicators, points lost,
    766, data quality) as export.<lang>.xlsx and CSV files with a byte-order mark, beside
    the report's (never over them)."""
    from reports.exports import write_all
    from reports.publish import card_notes, report_folder, workbook_title
    from reports.scorecard import build

    settings, rs = report_settings()
    wanted = _period(period)
    folder = report_folder(out or settings.data_dir / rs.out_dir, province, wanted)
    engine = _open(url)
    try:
        with engine.connect() as conn:
            for language in lang or rs.languages:
                card = build(conn, province, wanted, rs, language)
                tables = card.tables()
                if table:
                    unknown = sorted(set(table) - {t.name for t in tables})
                    if unknown:
                        raise ValueError(f"no table {', '.join(unknown)}; this period has "
                                         f"{', '.join(t.name for t in tables)}")
                    tables = [t for t in tables if t.name in table]
                # its own file names: the report's full workbook is never replaced
                written = write_all(tables, folder, f"{EXPORT_STEM}.{language}", language,
                                    title=workbook_title(card),
                                    notes=card_notes(card))
                for path in written.values():
                    typer.echo(str(path))
    except (LookupError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()


def quality(out: Annotated[Path | None, typer.Option(
                "--out", help="folder for quality.<lang>.html (default: "
                              "REFORMSTATS_DATA_DIR/<out_dir of config/reports.yaml>)")
            ] = None,
            months: Annotated[int, typer.Option(
                "--months", min=1, max=120,
                help="periods ending in the last N months of data present")] = 12,
            lang: Annotated[str, typer.Option("--lang", help="vi (default) or en")] = "vi",
            url: Url = None) -> None:
    """Write the data-quality page (checks run and failed, quarantined rows, loads by
    dataset, source, unit and period) as quality.<lang>.html and print its path."""
    from reports.quality import build_quality, write_quality

    if lang not in ("vi", "en"):
        raise typer.BadParameter(f"vi or en, not {lang!r}", param_hint="--lang")
    if out is None:
        settings, rs = report_settings()
        out = settings.data_dir / rs.out_dir
    engine = _open(url)
    try:
        with engine.connect() as conn:
            page = build_quality(conn, months=months, lang=lang)
    except (LookupError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    finally:
        engine.dispose()
    path = write_quality(page, out)
    typer.echo(f"data quality ({lang}): {path}")
