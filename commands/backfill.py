"""`reformstats backfill`: runs of a monthly DAG for a range of months, under the scheduler.

`airflow backfill create` selects runs by logical date, which for these DAGs is the start
of the month in Vietnam time (17:00 UTC the day before), so calendar dates in UTC miss
the first month and `airflow dags trigger -l` takes its month from the clock, not from
`-l`. This command names months and hands Airflow the exact logical dates.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from domain.periods import Month

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")  # the DAGs' timetable zone (plugins/monthly.py)
REPROCESS = ("none", "failed", "completed")


def logical_date(month: Month) -> str:
    """The logical date (UTC, ISO) of a monthly DAG's run for `month`: its first instant
    in Vietnam time."""
    start = dt.datetime.combine(month.first_day, dt.time(), VIETNAM)
    return start.astimezone(dt.UTC).isoformat()


def backfill_command(dag_id: str, first: Month, last: Month, *, reprocess: str = "none",
                     dry_run: bool = False) -> list[str]:
    """The `airflow backfill create` command for the months `first` to `last`."""
    if last < first:
        raise ValueError(f"--last {last} is before --first {first}")
    if reprocess not in REPROCESS:
        raise ValueError(f"--reprocess must be one of {', '.join(REPROCESS)}")
    airflow = str(Path(sys.executable).with_name("airflow"))
    command = [airflow, "backfill", "create", "--dag-id", dag_id,
               "--from-date", logical_date(first), "--to-date", logical_date(last),
               "--reprocess-behavior", reprocess]
    return command + (["--dry-run"] if dry_run else [])


def airflow_env(airflow_home: Path | None) -> dict[str, str]:
    """The environment of the Airflow CLI: the local home of `make airflow` when one is
    named or none is configured, else the deployment's own settings as they are."""
    from commands.embedded_airflow import airflow_environment

    if airflow_home is None and os.environ.get("AIRFLOW_HOME"):
        return dict(os.environ)
    from registry.settings import PROJECT_ROOT

    home = (airflow_home or PROJECT_ROOT / "data" / "airflow").resolve()
    return {**os.environ, **airflow_environment(home)}


def run_backfill(dag_id: str, first: Month, last: Month, *, reprocess: str, dry_run: bool,
                 airflow_home: Path | None) -> int:
    code = subprocess.run(backfill_command(dag_id, first, last, reprocess=reprocess,
                                           dry_run=dry_run),
                          env=airflow_env(airflow_home)).returncode
    return 128 - code if code < 0 else code  # ended by signal N: 128 + N
