"""`reformstats eoffice …`: an office's monthly e-office report (docs/eoffice_report.md) by
hand: import one file (or see what it would load), write the blank template."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from commands.scoring import UrlOption, _refused, _settings

eoffice = typer.Typer(help="E-office statistics (văn bản điện tử): import an office's "
                           "monthly report file, write the blank template.",
                      no_args_is_help=True)


@eoffice.command("import")
def import_report(
    file: Annotated[Path, typer.Argument(help="the report: .xlsx, or .csv in UTF-8")],
    month: Annotated[str | None, typer.Option(
        help="the report month YYYY-MM (default: the one the file states in its title or "
             "name; both given must agree)")] = None,
    province: Annotated[str | None, typer.Option(
        help="the province's code, for a file naming units without codes (default: the "
             "province of its coded units)")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="check the file and say what would load; load nothing")] = False,
    english: Annotated[bool, typer.Option("--english", help="problems in English only")
                       ] = False,
    url: UrlOption = None,
) -> None:
    """Check a report file whole and load it into fact_document_monthly: the rows of the
    units it holds for its month are replaced (the province's other units stay). With any
    problem, every one is printed (sheet, row, column; Vietnamese, then English) and
    nothing loads (exit 1). The file is not moved: the inbox DAG archives what it takes."""
    from domain.periods import Month
    from steps.eoffice import import_file
    from transforms.eoffice import MEASURES, ReportFileError
    from warehouse.migrate import SchemaNotCurrentError

    if not file.is_file():
        _refused(FileNotFoundError(f"no file {file}"))
    try:
        done = import_file(file, _settings(url), f"import:{getpass.getuser()}",
                           Month.parse(month) if month else None, province, dry_run)
    except ReportFileError as exc:
        typer.echo(str(exc) if english else exc.report(), err=True)
        raise typer.Exit(1) from None
    except (SchemaNotCurrentError, ValueError) as exc:
        _refused(exc)
    checked = done.checked
    skipped = checked.resolved.report.skipped
    if done.unchanged:
        typer.echo(f"{file.name} (sha256 {checked.sha256[:12]}…): fact_document_monthly "
                   f"already holds these figures for its {done.rows} units of "
                   f"{checked.source}, {checked.month}: nothing "
                   f"{'would be ' if dry_run else ''}written")
        return
    verb = "would load" if dry_run else "loaded"
    typer.echo(f"{verb} {file.name} (sha256 {checked.sha256[:12]}…) into "
               f"fact_document_monthly: {checked.source}, {checked.month}, {done.rows} units "
               f"(rows of these units and month {'to replace' if dry_run else 'replaced'}: "
               f"{done.replaced})")
    totals = checked.frame[list(MEASURES)].sum()
    typer.echo("  totals: " + ", ".join(f"{k} {int(v)}" for k, v in totals.items()))
    if skipped:
        typer.echo(f"  {skipped} listed unit(s) with every figure blank: not reported yet, "
                   "not loaded (what the warehouse holds for them stays)")
    if not dry_run:
        typer.echo(f"  raw zone fetch {done.fetch_id}; the indicators follow with the marts "
                   f"(under Airflow on the load's Asset; by hand: reformstats run "
                   f"marts_monthly --first {checked.month})")


@eoffice.command("template")
def template(
    out: Annotated[Path, typer.Option("--out", help="the .xlsx file to write")],
    month: Annotated[str | None, typer.Option(help="the report month YYYY-MM to print in it")
                     ] = None,
    province: Annotated[str | None, typer.Option(
        help="list this province's units of the month (codes and names) in it")] = None,
    url: UrlOption = None,
) -> None:
    """Write the blank monthly report an office fills in (Vietnamese headers, a guide
    sheet in Vietnamese and English)."""
    from domain.periods import Month
    from steps.eoffice import province_units
    from transforms.eoffice import write_template

    when = Month.parse(month) if month else None
    units = None
    if province:
        if when is None:
            _refused(ValueError("--province lists the units of a month: give --month too"))
        settings = _settings(url)
        units = province_units(settings, province, when)
        if not units:
            _refused(ValueError(f"no unit of province {province} on {when.last_day}"))
        if province in settings.sources.eoffice.provinces:
            typer.echo(f"note: province {province}'s e-office figures come from its API "
                       "(config/sources.yaml eoffice.provinces): a report file for it is "
                       "refused", err=True)
    rows = write_template(out, when, units)
    typer.echo(f"wrote {out}" + (f": {rows} units of province {province}, {when}"
                                 if units else ""))
