"""`reformstats backfill`: months of history loaded in this process, without a scheduler.

The same steps the monthly DAGs' tasks call (steps/backfill.py), month after month, with a
progress bar; the sources' rate limits as configured; what finished before is skipped;
Ctrl-C, SIGTERM or a killed process leaves every partition whole (a rerun goes on where it
stopped); failures are listed at the end. Under a scheduler, the same months are
`airflow backfill create` (README, *The DAGs*).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from domain.periods import Month
from registry.settings import Settings


def source_configs(settings: Settings, work: list[Any]) -> dict[str, Any]:
    """The client configuration of every source the work needs, from the Connections (or
    REFORMSTATS_* variables) of the environment; a source not configured fails here, before
    anything is fetched."""
    from plugins.hooks import EOfficeHook, NationalPortalHook, OneStopHook

    configs: dict[str, Any] = {}
    for source in dict.fromkeys(w.source for w in work):
        if source == "national_portal":
            configs[source] = NationalPortalHook(settings).get_config()
        elif source.startswith("onestop_"):
            configs[source] = OneStopHook(source.removeprefix("onestop_"), settings).get_config()
        elif source.startswith("eoffice_"):
            configs[source] = EOfficeHook(source.removeprefix("eoffice_"), settings).get_config()
    return configs


@contextlib.contextmanager
def _simulated(settings: Settings, enabled: bool, console: Console) -> Iterator[None]:
    """With `--simulator`: the bundled simulator on 127.0.0.1 and local-only Connections
    to it in this process's environment, at the configured rate limits."""
    if not enabled:
        yield
        return
    import secrets

    from commands.embedded_airflow import simulator_connections
    from simulator import PortalSimulator

    with PortalSimulator() as sim:
        env = simulator_connections(sim.url, sorted(settings.sources.onestop.provinces),
                                    by="backfill", national_extra={}, onestop_extra={},
                                    hash_key=secrets.token_hex(16))
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        console.print(f"Portal simulator on {sim.url}: local-only Connections "
                      f"{', '.join(sorted(k.removeprefix('AIRFLOW_CONN_').lower() for k in env))}")
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def run_backfill(first: Month, last: Month, *, sources: list[str], reprocess: bool,
                 marts: bool, simulator: bool, data_dir: Path,
                 console: Console | None = None) -> int:
    """Backfill; returns the exit code (0: every item done, 1: some failed). Steps log to
    `data_dir/backfill.log`; the console shows the progress and the summary."""
    console = console or Console()
    data_dir = data_dir.resolve()
    os.environ.setdefault("REFORMSTATS_DATA_DIR", str(data_dir))
    os.environ.setdefault("REFORMSTATS_WAREHOUSE_URL",
                          f"duckdb:///{data_dir / 'warehouse.duckdb'}")
    settings = Settings.from_env()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file = data_dir / "backfill.log"
    import plugins.hooks  # noqa: F401  (Airflow sets up its logging on import: first)

    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    console_handlers, level = root.handlers[:], root.level
    for existing in console_handlers:  # the steps' logs go to the file, not over the bar
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        return _run(first, last, sources, reprocess=reprocess, marts=marts,
                    simulator=simulator, settings=settings, console=console,
                    log_file=log_file)
    finally:
        root.removeHandler(handler)
        handler.close()
        for existing in console_handlers:
            root.addHandler(existing)
        root.setLevel(level)


def _run(first: Month, last: Month, sources: list[str], *, reprocess: bool, marts: bool,
         simulator: bool, settings: Settings, console: Console, log_file: Path) -> int:
    from plugins.notifiers import masked
    from steps import backfill
    from steps.reference import refresh_reference
    from warehouse.engine import display_url, utc_now
    from warehouse.migrate import upgrade

    work = backfill.plan(sources, first, last, settings, marts=marts)
    with _simulated(settings, simulator, console):
        configs = source_configs(settings, work)
        _, after = upgrade(settings.warehouse_url)
        refresh_reference(settings)
        skip = set() if reprocess else backfill.done(settings, work)
        run_id = f"backfill__embedded__{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}"
        console.print(f"Backfill {first} .. {last} into {display_url(settings.warehouse_url)}"
                      f" (schema {after}): {len(work)} source-months, {len(skip)} done before"
                      f"{' (skipped)' if skip else ''}; log: {log_file}")
        outcomes: list[Any] = []
        started = time.monotonic()
        progress = Progress(TextColumn("{task.description}"), BarColumn(),
                            MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                            transient=False)
        try:
            with progress:
                bar = progress.add_task("backfill", total=len(work))
                for item in work:
                    if item in skip:
                        outcomes.append(backfill.Outcome(item, "skipped"))
                        progress.advance(bar)
                        continue
                    progress.update(bar, description=str(item))
                    began, t0 = utc_now(), time.monotonic()
                    outcome = backfill.run(item, settings, configs, run_id,
                                           lambda exc: masked(f"{type(exc).__name__}: {exc}"))
                    outcome.seconds = time.monotonic() - t0
                    backfill.record(settings, outcome, run_id, began, utc_now())
                    outcomes.append(outcome)
                    progress.advance(bar)
        except KeyboardInterrupt:
            _summary(outcomes, time.monotonic() - started, console)
            if reprocess:  # the stop message itself comes from the command line
                console.print("to go on, run it again without --reprocess (so that the "
                              "months this run finished are skipped)")
            raise
    _summary(outcomes, time.monotonic() - started, console)
    return 1 if any(o.status == "failed" for o in outcomes) else 0


def _summary(outcomes: list[Any], seconds: float, console: Console) -> None:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("done", "failed", "skipped")}
    loaded = sum(o.partitions for o in outcomes)
    console.print(f"{counts['done']} source-months done ({loaded} partitions), "
                  f"{counts['skipped']} skipped (done before), {counts['failed']} failed, "
                  f"in {seconds:.0f} s")
    by_source: dict[str, list[float]] = {}
    for o in outcomes:
        if o.status != "skipped":
            by_source.setdefault(o.work.source.split("_")[0] if o.work.source.startswith(
                ("onestop_", "eoffice_")) else o.work.source, []).append(o.seconds)
    if by_source:
        times = Table(title="Where the time went")
        for column in ("source", "months", "seconds", "per month"):
            times.add_column(column, justify="left" if column == "source" else "right")
        for source, values in by_source.items():
            times.add_row(source, str(len(values)), f"{sum(values):.0f}",
                          f"{sum(values) / len(values):.1f}")
        console.print(times)
    failed = [o for o in outcomes if o.status == "failed"]
    if failed:
        table = Table(title="Failed (rerun the same command once fixed: only these run again)")
        for column in ("source", "month", "error"):
            table.add_column(column)
        for o in failed:
            table.add_row(o.work.source, str(o.work.month), "\n".join(o.errors[:3]))
        console.print(table)
