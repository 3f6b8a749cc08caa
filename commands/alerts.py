"""`reformstats alerts …`: run the alerts by hand (what the alerts_hourly DAG does), and
list what is open."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from registry.settings import Settings

alerts = typer.Typer(help="Alerts (cảnh báo) to the reform offices and ops: evaluate, "
                          "send, list what is open (routing: config/alerts.yaml).",
                     no_args_is_help=True)

UrlOption = Annotated[str | None, typer.Option(
    "--url", help="warehouse URL or DuckDB path; a DuckDB file's folder is then the data "
                  "folder the alert links point into (its reports/), unless "
                  "REFORMSTATS_DATA_DIR says otherwise")]


def _settings(url: str | None) -> Settings:
    import dataclasses
    import os

    from commands.cli import _warehouse_url
    from registry.settings import Settings
    from warehouse.engine import duckdb_path

    settings = dataclasses.replace(Settings.from_env(), warehouse_url=_warehouse_url(url))
    path = duckdb_path(settings.warehouse_url)
    if url and path is not None and "REFORMSTATS_DATA_DIR" not in os.environ:
        settings = dataclasses.replace(settings, data_dir=Path(path).parent)
    return settings


def _moment(text: str | None) -> dt.datetime | None:
    from alerts.run import as_at

    if not text:
        return None
    try:
        return as_at(text)
    except ValueError as exc:
        raise typer.BadParameter(f"{text!r}: an ISO date-time, e.g. 2026-12-03T08:00+07:00",
                                 param_hint="--at") from exc


@alerts.command("run")
def run(url: UrlOption = None,
        at: Annotated[str | None, typer.Option(
            "--at", help="evaluate as at this time (ISO; Vietnam time if no offset); "
                         "default now")] = None,
        deliver: Annotated[bool, typer.Option(
            "--deliver/--no-deliver", help="send what is queued (default) or only queue "
                                           "it in the outbox")] = True,
        show: Annotated[bool, typer.Option("--show", help="print each message's text")
                        ] = False) -> None:
    """Evaluate what is open, update the state, queue and send the messages; print the
    counts and one line per message."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from alerts.routing import RoutingError
    from alerts.run import run_alerts

    try:
        done = run_alerts(_settings(url), now=_moment(at), deliver=deliver)
    except RoutingError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    console = Console(width=150)
    table = Table("route", "kind", "alerts", "subject", title=f"alert messages ({done['at']})")
    for message in done["messages"]:
        table.add_row(message["route"], message["kind"], str(message["alerts"]),
                      escape(message["subject"]))
    console.print(table)
    counts = {k: done[k] for k in ("opened", "resent", "suppressed", "resolved", "expired",
                                   "queued")}
    console.print(" · ".join(f"{k} {v}" for k, v in counts.items()))
    if done["delivery"]:
        console.print("delivery: " + " · ".join(f"{k} {v}" for k, v in
                                                sorted(done["delivery"].items())))
    if show:
        for message in done["messages"]:
            console.rule(f"{message['route']} · {message['kind']}")
            console.print(message["text"], markup=False, highlight=False)


@alerts.command("list")
def list_open(url: UrlOption = None,
              route: Annotated[str | None, typer.Option("--route", help="one route only")
                               ] = None) -> None:
    """The open alerts, per route: kind, severity, period, unit, dataset, check, rows,
    since when, how often sent."""
    import sqlalchemy as sa
    from rich.console import Console
    from rich.table import Table

    from domain.periods import Period
    from warehouse.engine import transaction
    from warehouse.schema import alert_state

    query = sa.select(alert_state).where(alert_state.c.status == "open").order_by(
        alert_state.c.route, alert_state.c.period_id, alert_state.c.unit_code,
        alert_state.c.dataset, alert_state.c.check_name)
    settings = _settings(url)
    if route:
        from alerts.routing import RoutingError, load_routing

        try:
            load_routing(settings.config_dir).route(route)
        except RoutingError as exc:  # an unknown route: say which exist
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
        query = query.where(alert_state.c.route == route)
    with transaction(settings.warehouse_url) as conn:
        rows = conn.execute(query).fetchall()
    from alerts.state import as_utc
    from domain.periods import VN_TZ

    table = Table("route", "kind", "severity", "period", "unit", "dataset", "check", "rows",
                  "since (Vietnam)", "sent", title=f"open alerts: {len(rows)}")
    for r in rows:
        table.add_row(r.route, r.kind, r.severity, str(Period.from_id(r.period_id)),
                      r.unit_code or "—", r.dataset, r.check_name,
                      "—" if r.rows_affected is None else str(r.rows_affected),
                      f"{as_utc(r.first_seen_at).astimezone(VN_TZ):%Y-%m-%d %H:%M}",
                      str(r.times_sent))
    Console(width=170).print(table)
