"""`reformstats scoring …`: rule sets, the offices' manual points, scores."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

if TYPE_CHECKING:
    from domain.periods import Period
    from registry.settings import Settings

scoring = typer.Typer(help="Criterion scoring: check the rule sets (config/schemes/), write "
                           "and import the offices' manual-points sheets.",
                      no_args_is_help=True)


@scoring.command("check")
def check() -> None:
    """Read and check every rule set; print what each holds, or every problem (exit 1)."""
    from rich.console import Console
    from rich.table import Table

    from marts.rulesets import RuleSetError, describe
    from registry.settings import Settings
    from steps.scoring import rule_sets

    try:
        sets = rule_sets(Settings.from_env())
    except RuleSetError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    table = Table("scheme", "version", "valid", "fields", "criteria", "sub-criteria",
                  "scored", "manual", "max points", title="rule sets (config/schemes/)")
    for rule_set in sets.sets:
        d = describe(rule_set)
        table.add_row(d["scheme"], d["version"], d["valid"], str(d["field"]),
                      str(d["criterion"]), str(d["sub_criterion"]), str(d["scored"]),
                      str(d["manual"]), f"{d['max_points']:g}")
    Console(width=140).print(table)


RoundOption = Annotated[str, typer.Option(
    "--round", help="self_assessment (tự chấm) | appraisal_1 (thẩm định lần 1) | "
                    "appraisal_2 (thẩm định lần 2)")]
PeriodOption = Annotated[str, typer.Option(
    "--period", help="the assessed period: 2026 (a year), 2026-Q1, 2026-H1, 2026-03, ...")]
SchemeOption = Annotated[str, typer.Option("--scheme",
                                           help="the scheme (config/schemes/<scheme>/)")]
UrlOption = Annotated[str | None, typer.Option("--url", help="warehouse URL or DuckDB path")]


def _settings(url: str | None) -> Settings:
    """The environment's settings, on the warehouse of --url when given."""
    import dataclasses

    from commands.cli import _warehouse_url
    from registry.settings import Settings

    return dataclasses.replace(Settings.from_env(), warehouse_url=_warehouse_url(url))


def _period(text: str) -> Period:
    from domain.periods import Period

    try:
        return Period.parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--period") from None


def _refused(exc: Exception) -> NoReturn:
    typer.echo(str(exc), err=True)
    raise typer.Exit(1) from None


@scoring.command("template")
def template(
    scheme: SchemeOption,
    period: PeriodOption,
    round: RoundOption,
    out: Annotated[Path, typer.Option("--out", help="the .xlsx file to write")],
    province: Annotated[list[str] | None, typer.Option(
        "--province", help="a province's statistical code (repeatable; default: every "
                           "province the rule set applies to that has units)")] = None,
    url: UrlOption = None,
) -> None:
    """Write the blank manual-points sheet (.xlsx) an office fills in.

    One row per unit of the rule set's level and manual sub-criterion, `Điểm` empty; the
    rule set is the scheme's version in force on the period's last day."""
    from marts.manual_points import ROUND_NAMES_VI, ManualPointsError, period_vi
    from marts.rulesets import RuleSetError
    from steps.manual_points import template as write

    when = _period(period)
    try:
        done = write(_settings(url), scheme, when, round, out, province)
    except (ManualPointsError, RuleSetError) as exc:
        _refused(exc)
    typer.echo(f"wrote {done.path}: {done.scheme} {done.version}, {period_vi(when)}, "
               f"{ROUND_NAMES_VI[round]}; {done.units} units x {done.criteria} manual "
               f"criteria = {done.rows} rows (provinces {', '.join(done.provinces)})")


@scoring.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="the filled sheet: .xlsx, or .csv in UTF-8")],
    scheme: SchemeOption,
    period: PeriodOption,
    round: RoundOption,
    entered_by: Annotated[str, typer.Option(
        "--entered-by", help="who entered the points (when a row's Người nhập is blank)")],
    url: UrlOption = None,
) -> None:
    """Check a filled sheet and load it into fact_manual_points.

    The file replaces its round for the units it holds (other units and rounds stay);
    with any problem, every one is printed and nothing loads (exit 1)."""
    from marts.manual_points import ROUND_NAMES_VI, ManualPointsError
    from marts.rulesets import RuleSetError
    from steps.manual_points import import_points
    from warehouse.migrate import SchemaNotCurrentError

    if not file.is_file():
        _refused(FileNotFoundError(f"no file {file}"))
    when = _period(period)
    try:
        done = import_points(file, scheme, when, round, entered_by, _settings(url))
    except (ManualPointsError, RuleSetError, SchemaNotCurrentError) as exc:
        _refused(exc)
    sheet = done.sheet
    typer.echo(f"loaded {sheet.file_name} (sha256 {sheet.sha256[:12]}…) into "
               f"fact_manual_points: {done.scheme} {done.version}, period {when.label}, "
               f"{done.round} ({ROUND_NAMES_VI[done.round]})")
    typer.echo(f"  rows loaded: {done.rows}; units: {len(sheet.units)}; blank Điểm skipped: "
               f"{sheet.skipped_blank}; rows of this round replaced: {done.replaced}")


@scoring.command("recompute-766")
def recompute_766(
    answers: Annotated[list[Path], typer.Argument(
        help="saved reporting-API answers, one per group (service-results, transparency, "
             "dossier-digitized, handling-satisfaction, the trees), each named after its "
             "group or saved with its request")],
    period: Annotated[str, typer.Option(help="the period they answer: 2026-03, 2026-Q1")],
    all_rows: Annotated[bool, typer.Option("--all", help="every row, not only the gaps")
                        ] = False,
) -> None:
    """Recompute the 766 of every unit in answers saved from the portal with the rule set in
    force, and print where it differs from the published scores by more than 0.01 (exit 1
    when anything does)."""
    from rich.console import Console
    from rich.table import Table

    from domain.periods import Period
    from marts.scoring import gaps_beyond
    from registry.settings import Settings
    from steps.scoring import recompute_766_answers

    try:
        rows = recompute_766_answers(answers, Period.parse(period), Settings.from_env())
    except (OSError, ValueError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    beyond = gaps_beyond(rows)
    shown = rows if all_rows else beyond
    table = Table("unit", "name", "level", "code", "published", "recomputed", "gap", "inputs",
                  title=f"766 recomputed, {period}")
    for r in shown:
        table.add_row(str(r["unit_code"]), r["unit_name"] or "", r["level"], r["code"],
                      *("—" if r[k] is None else f"{r[k]:.2f}"
                        for k in ("published", "recomputed", "gap")), r["inputs"])
    if shown:
        Console(width=160).print(table)
    compared = [r for r in rows if r["gap"] is not None]
    units = len({r["unit_code"] for r in rows})
    typer.echo(f"{units} units, {len(compared)} scores compared, {len(beyond)} differ by more "
               f"than 0.01")
    if beyond:
        raise typer.Exit(1)
