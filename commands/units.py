"""`reformstats units …`: what the warehouse knows of units, and what it could not match."""

from __future__ import annotations

from typing import Annotated

import typer

units = typer.Typer(help="Administrative units: reference counts, and the units a source "
                         "sent that matched no unit (or more than one).",
                    no_args_is_help=True)

UNMATCHED_SQL = """
    SELECT i.dataset, p.label, i.scheme, i.source_id, i.problem, i.unit_name,
           i.published_unit_code, i.unit_level, i.parent_code, i.candidates, i.fetch_id
    FROM unit_match_issue i JOIN dim_period p ON p.period_id = i.period_id
    {where} ORDER BY p.period_id DESC, i.dataset, i.parent_code NULLS FIRST, i.unit_name
"""


def _url(url: str | None) -> str:
    from commands.cli import _warehouse_url

    return _warehouse_url(url)


def _rows(url: str, sql: str, params: dict | None = None) -> list[tuple]:
    import sqlalchemy as sa

    from warehouse.engine import make_engine

    try:
        engine = make_engine(url, create=False, read_only=True)
    except FileNotFoundError as exc:
        typer.echo(str(exc))
        raise typer.Exit(1) from None
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params or {})]
    finally:
        engine.dispose()


@units.command("unmatched")
def unmatched(
    url: Annotated[str | None, typer.Option("--url", help="warehouse URL or DuckDB path")] = None,
    dataset: Annotated[str | None, typer.Option(help="only this dataset")] = None,
) -> None:
    """List the units the latest loads could not match, each with a line to complete and
    paste into config/units/overrides.csv; exit 1 when there are any."""
    from rich.console import Console
    from rich.table import Table

    where, params = ("WHERE i.dataset = :dataset", {"dataset": dataset}) if dataset else ("", {})
    rows = _rows(_url(url), UNMATCHED_SQL.format(where=where), params)
    console = Console()
    if not rows:
        console.print("Every unit the loads saw matched exactly one unit.")
        return
    table = Table(title=f"Units that matched no unit, or more than one ({len(rows)})")
    for column in ("dataset", "period", "scheme", "source ID", "problem", "name as sent",
                   "code as sent", "level", "in list of", "candidates"):
        table.add_column(column)
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row[:10]))
    console.print(table)
    console.print("\nResolve each in config/units/overrides.csv (scheme,source_id,unit_code,"
                  "note), then rerun the period; `unit_code` is a dim_unit code (e.g. a "
                  "candidate above):", markup=False)
    for _, _, scheme, source_id, problem, name, *_rest, candidates, _fetch in rows:
        hint = f"one of {candidates}" if candidates else "?"
        console.print(f"{scheme},{source_id},{hint},{problem}: {name}", markup=False,
                      soft_wrap=True)
    raise typer.Exit(1)


@units.command("provinces")
def provinces() -> None:
    """The 34 provinces from 1 July 2025 with their statistical codes (what
    `national_portal.provinces` in config/sources.yaml takes) and commune counts."""
    from collections import Counter

    from rich.console import Console
    from rich.table import Table

    from domain.reference_units import reference_units

    current = [u for u in reference_units() if u.valid_to is None]
    communes = Counter(u.parent_code for u in current if u.level == "commune")
    table = Table(title="Provinces from 1 July 2025 (vietnam-provinces)")
    for column in ("code", "name", "communes"):
        table.add_column(column)
    for unit in sorted((u for u in current if u.level == "province"),
                       key=lambda u: u.unit_code):
        table.add_row(unit.unit_code, unit.name_vi, str(communes[unit.unit_code]))
    Console().print(table)


@units.command("summary")
def summary(
    url: Annotated[str | None, typer.Option("--url", help="warehouse URL or DuckDB path")] = None,
) -> None:
    """Units by level, era and origin; the crosswalk; source IDs by scheme."""
    from rich.console import Console
    from rich.table import Table

    url = _url(url)
    console = Console()
    for title, columns, sql in (
            ("Units (dim_unit)", ("level", "valid", "origin", "units"),
             "SELECT level, CASE WHEN valid_to IS NULL THEN 'current' "
             "ELSE 'until ' || CAST(valid_to AS VARCHAR) END, origin, count(*) FROM dim_unit "
             "GROUP BY 1, 2, 3 ORDER BY 2, 1, 3"),
            ("Old -> new (unit_crosswalk)", ("old level", "basis", "approximate", "edges"),
             "SELECT old_level, basis, approximate, count(*) "
             "FROM unit_crosswalk GROUP BY 1, 2, 3 ORDER BY 1, 2"),
            ("Source IDs (unit_source_id)", ("scheme", "origin", "matched by", "IDs"),
             "SELECT scheme, origin, matched_by, count(*) "
             "FROM unit_source_id GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")):
        rows = _rows(url, sql)
        table = Table(title=title)
        for column in columns:
            table.add_column(column)
        for row in rows:
            table.add_row(*(str(v) for v in row))
        console.print(table)
