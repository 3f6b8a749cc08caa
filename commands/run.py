"""`reformstats run`: a DAG's month runs with dag.test() against the configured sources
(Connections or REFORMSTATS_* variables from the environment), without a scheduler: the
way to load a few months from the real portal on one machine."""

from __future__ import annotations

import os
import time
from pathlib import Path

from rich.console import Console

from commands import embedded_airflow as airflow_env
from domain.periods import Month, month_range


def run_months(dag_id: str, first: Month, last: Month, data_dir: Path,
               console: Console | None = None) -> list[str]:
    """Run `dag_id` for every month from `first` to `last`; returns the months that did not
    end in success (each run's tasks log what they loaded, rejected or quarantined)."""
    console = console or Console()
    data_dir = data_dir.resolve()
    extra = {"REFORMSTATS_DATA_DIR": str(data_dir)}
    if not os.environ.get("REFORMSTATS_WAREHOUSE_URL"):
        extra["REFORMSTATS_WAREHOUSE_URL"] = f"duckdb:///{data_dir / 'warehouse.duckdb'}"
    airflow_env.configure(data_dir / "airflow", extra)
    dag = airflow_env.load_dag(dag_id)
    failed = []
    for month in month_range(first, last):
        started = time.monotonic()
        state = str(getattr(airflow_env.run_month(dag, month), "state", "unknown"))
        console.print(f"{dag_id} {month}: [bold]{state}[/] ({time.monotonic() - started:.0f}s)")
        if "success" not in state:
            failed.append(str(month))
    return failed
