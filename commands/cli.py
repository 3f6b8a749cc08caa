"""`reformstats` command line (typer)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from commands.alerts import alerts
from commands.docs import docs
from commands.eoffice import eoffice
from commands.report import export, quality, report
from commands.scoring import scoring
from commands.units import units
from domain.periods import Month

app = typer.Typer(help="Reform-statistics pipeline: demo, simulator, local Airflow, "
                       "warehouse migrations.", no_args_is_help=True)
db = typer.Typer(help="The warehouse schema: create and upgrade tables and views (Alembic).",
                 no_args_is_help=True)
app.add_typer(db, name="db")
app.add_typer(units, name="units")
app.add_typer(scoring, name="scoring")
app.add_typer(docs, name="docs")
app.add_typer(alerts, name="alerts")
app.add_typer(eoffice, name="eoffice")
app.command()(report)
app.command()(export)
app.command()(quality)

WarehouseUrl = Annotated[str | None, typer.Option(
    "--url", help="warehouse URL (default: REFORMSTATS_WAREHOUSE_URL, else the embedded "
                  "DuckDB file under REFORMSTATS_DATA_DIR)")]


def _data_dir() -> Path:
    """REFORMSTATS_DATA_DIR, else the project's data/ (what the DAGs and commands read)."""
    from registry.settings import Settings

    return Settings.from_env().data_dir


def _warehouse_url(url: str | None) -> str:
    """--url as given (a plain path means a DuckDB file), else the configured warehouse."""
    from registry.settings import Settings

    if url and "://" not in url:
        return f"duckdb:///{Path(url).resolve()}"
    return url or Settings.from_env().warehouse_url


@db.command("upgrade")
def db_upgrade(url: WarehouseUrl = None,
               revision: Annotated[str, typer.Option(help="target revision")] = "head"
               ) -> None:
    """Create the warehouse schema, or upgrade it to this code's revision (idempotent)."""
    from warehouse.engine import display_url
    from warehouse.migrate import upgrade

    url = _warehouse_url(url)
    before, after = upgrade(url, revision)
    if before != after:
        typer.echo(f"warehouse {display_url(url)}: {before or 'empty'} -> {after}")
    elif revision not in ("head", after):
        typer.echo(f"warehouse {display_url(url)}: already at {after}, past {revision} "
                   "(migrations only go forward)")
    else:
        typer.echo(f"warehouse {display_url(url)}: already at {after}")


@db.command("snapshot")
def db_snapshot(out: Annotated[Path, typer.Argument(help="the snapshot file to write")],
                url: WarehouseUrl = None) -> None:
    """Copy the DuckDB warehouse to a file analysts can keep open while loads run."""
    from warehouse.engine import snapshot

    try:
        written = snapshot(_warehouse_url(url), out)
    except (ValueError, FileNotFoundError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"snapshot written: {written} (duckdb.connect('{written}', read_only=True))")


@db.command("current")
def db_current(url: WarehouseUrl = None) -> None:
    """Print the warehouse's schema revision and this code's; exit 1 when they differ."""
    from warehouse.engine import display_url, make_engine
    from warehouse.migrate import current, head

    url = _warehouse_url(url)
    try:
        engine = make_engine(url, create=False, read_only=True)
    except FileNotFoundError as exc:  # looking must not create an empty warehouse
        typer.echo(f"{exc}; code: {head()}")
        raise typer.Exit(1) from None
    try:
        with engine.connect() as conn:
            found = current(conn)
    finally:
        engine.dispose()
    typer.echo(f"warehouse {display_url(url)}: {found or 'no schema version'}; "
               f"code: {head()}")
    if found != head():
        raise typer.Exit(1)


@contextmanager
def _stoppable() -> Iterator[None]:
    """Let SIGTERM and Ctrl-C stop a dag.test() command (commands/stopping.py): a one-line
    message and exit code 143 or 130, not a traceback, also when the stop reached a task
    and the run ended anyway. Enter it before anything that starts a thread is imported."""
    from commands.stopping import stop_on_signals

    with stop_on_signals() as stop:
        try:
            yield
        except KeyboardInterrupt:
            typer.echo("stopped before the end: the partitions loaded so far are complete, "
                       "the one in progress was rolled back; rerun to go on", err=True)
            raise typer.Exit(stop.exit_code) from None
    if stop.signal is not None:
        typer.echo("stopped before the end (see above); rerun to go on", err=True)
        raise typer.Exit(stop.exit_code)


@app.command()
def demo(
    first: Annotated[str, typer.Option(help="first month (YYYY-MM)")] = "2025-10",
    last: Annotated[str, typer.Option(help="last month (YYYY-MM)")] = "2026-03",
    data_dir: Annotated[Path | None, typer.Option(
        help="where raw zone, staging and warehouse go")] = None,
    faults: Annotated[str | None, typer.Option(
        help="simulator fault plan as JSON ('{}' for none)")] = None,
) -> None:
    """Run the real DAGs with dag.test() against the simulator into DuckDB; print a summary."""
    with _stoppable():
        from commands.demo import DEFAULT_DATA_DIR, DEMO_FAULTS, run_demo

        run_demo(Month.parse(first), Month.parse(last), data_dir or DEFAULT_DATA_DIR,
                 faults if faults is not None else DEMO_FAULTS)


@app.command()
def run(
    dag_id: Annotated[str, typer.Argument(help="e.g. national_portal_monthly")],
    first: Annotated[str, typer.Option(help="first month (YYYY-MM)")],
    last: Annotated[str | None, typer.Option(help="last month (default: first)")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="raw zone, staging, Airflow metadata; the warehouse too unless "
             "REFORMSTATS_WAREHOUSE_URL is set (default: REFORMSTATS_DATA_DIR, else "
             "data/)")] = None,
) -> None:
    """Run a DAG for each month with dag.test() against the sources the environment
    configures (e.g. AIRFLOW_CONN_NATIONAL_PORTAL); exit 1 if a month did not succeed."""
    with _stoppable():
        from commands.run import run_months

        failed = run_months(dag_id, Month.parse(first), Month.parse(last or first),
                            data_dir or _data_dir())
    if failed:
        typer.echo(f"not successful: {', '.join(failed)} (see the task logs above, "
                   "`reformstats units unmatched` and dq_result)")
        raise typer.Exit(1)


@app.command()
def backfill(
    first: Annotated[str, typer.Option("--from", help="first month (YYYY-MM)")],
    last: Annotated[str, typer.Option("--to", help="last month (YYYY-MM)")],
    sources: Annotated[str, typer.Option(
        help="comma-separated: national_portal, onestop, eoffice (the e-office APIs of "
             "eoffice.provinces)")] = "national_portal,onestop,eoffice",
    reprocess: Annotated[bool, typer.Option(
        help="load again the months a backfill finished before")] = False,
    marts: Annotated[bool, typer.Option(
        help="build each month's indicators and scores after its facts")] = True,
    simulator: Annotated[bool, typer.Option(
        help="against the bundled simulator (local-only Connections) instead of the "
             "environment's sources")] = False,
    data_dir: Annotated[Path | None, typer.Option(
        help="raw zone, staging, log; the warehouse too unless REFORMSTATS_WAREHOUSE_URL "
             "is set (default: REFORMSTATS_DATA_DIR, else data/)")] = None,
) -> None:
    """Load months of history in this process (no scheduler): progress, the sources' rate
    limits, done months skipped, resumable; exit 1 if a month failed."""
    with _stoppable():
        from commands.backfill import run_backfill

        try:
            first_month, last_month = Month.parse(first), Month.parse(last)
            chosen = [s.strip() for s in sources.split(",") if s.strip()]
            from steps.backfill import SOURCES

            if not chosen or set(chosen) - set(SOURCES):
                raise ValueError(f"--sources takes {', '.join(SOURCES)}; got {sources!r}")
            if last_month < first_month:
                raise ValueError(f"--to {last} is before --from {first}")
            from domain.reference_units import HISTORY_START

            start = Month(HISTORY_START.year, HISTORY_START.month)
            if first_month < start:
                raise ValueError(f"--from {first}: history starts in {start} (the reference "
                                 "units' first period)")
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from None
        code = run_backfill(first_month, last_month, sources=chosen, reprocess=reprocess,
                            marts=marts, simulator=simulator,
                            data_dir=data_dir or _data_dir())
    raise typer.Exit(code)


@app.command()
def simulator(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1 (0 = any free port)")] = 8765,
    seed: Annotated[int, typer.Option(help="seed of the synthetic world")] = 766,
    faults: Annotated[str | None, typer.Option(
        help='fault plan as JSON, e.g. {"rate_limit": 2}')] = None,
    dossiers_per_unit: Annotated[float, typer.Option(
        help="one-stop volume: mean dossiers per unit and month")] = 40.0,
    lookback_months: Annotated[int, typer.Option(
        help="one-stop: months of intake an export can reach back to")] = 4,
    published_through: Annotated[str | None, typer.Option(
        help="the last month the portal has scored (YYYY-MM; default: last month): what "
             "year-to-date answers cover")] = None,
    revisions: Annotated[bool, typer.Option(
        help="serve the last scored month's figures as preliminary, revised once the next "
             "month has ended (as real sources revise theirs)")] = False,
) -> None:
    """Serve the portal simulator on 127.0.0.1 until interrupted."""
    from simulator import FaultPlan, PortalSimulator

    sim = PortalSimulator(port=port, seed=seed, faults=FaultPlan.parse(faults),
                          dossiers_per_unit=dossiers_per_unit, lookback_months=lookback_months,
                          published_through=Month.parse(published_through)
                          if published_through else None, revisions=revisions)
    typer.echo(f"Portal simulator on {sim.url} (seed {seed}); Ctrl-C to stop")
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        sim.stop()


@app.command("airflow-pools")
def airflow_pools() -> None:
    """Create or update the Airflow pools the DAGs use (from config/), in the metadata
    database AIRFLOW_HOME / AIRFLOW__DATABASE__SQL_ALCHEMY_CONN name (migrated first)."""
    from commands.embedded_airflow import create_pools, pools

    create_pools()
    for name, slots, description in pools():
        typer.echo(f"pool {name}: {slots} slot(s) ({description})")


@app.command("airflow-standalone")
def airflow_standalone(
    airflow_home: Annotated[Path | None, typer.Option(
        help="AIRFLOW_HOME (default data/airflow)")] = None,
    data_dir: Annotated[Path | None, typer.Option(
        help="raw zone, staging and (unless REFORMSTATS_WAREHOUSE_URL is set) the "
             "warehouse (default: REFORMSTATS_DATA_DIR, else data/)")] = None,
    port: Annotated[int, typer.Option(help="UI and REST API port on 127.0.0.1")] = 8080,
    simulator: Annotated[bool | None, typer.Option(
        "--simulator/--no-simulator",
        help="serve the portal simulator and connect to it (default: when no national "
             "portal is configured)")] = None,
    simulator_port: Annotated[int, typer.Option(help="the simulator's port")] = 8765,
) -> None:
    """Run `airflow standalone` with this project's DAGs on 127.0.0.1, against the
    simulator unless sources are configured; Ctrl-C or SIGTERM stops it."""
    from commands.standalone import run_standalone
    from registry.settings import PROJECT_ROOT, Settings

    home = (airflow_home or PROJECT_ROOT / "data" / "airflow").resolve()
    data = (data_dir or Settings.from_env().data_dir).resolve()
    raise typer.Exit(run_standalone(home, data, port, simulator, simulator_port))


if __name__ == "__main__":
    app()
