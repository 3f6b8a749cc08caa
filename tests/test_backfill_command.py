"""`reformstats backfill` asks Airflow for exactly the months named: a monthly DAG's logical
date is the month's first instant in Vietnam time (17:00 UTC the day before), which
`airflow backfill create` with calendar dates in UTC gets wrong by one month."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from commands.embedded_airflow import airflow_environment

CLI = Path(sys.executable).with_name("reformstats")


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A metadata database holding the project's serialized DAGs (what a scheduler's
    DAG processor leaves there)."""
    home = tmp_path_factory.mktemp("airflow")
    env = {**os.environ, **airflow_environment(home)}
    airflow = str(CLI.with_name("airflow"))
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        subprocess.run([airflow, *command], env=env, check=True, capture_output=True,
                       timeout=300)
    return home


def planned_runs(home: Path, *args: str) -> list[str]:
    result = subprocess.run([str(CLI), "backfill", *args, "--dry-run", "--airflow-home",
                             str(home)], capture_output=True, text=True, timeout=120,
                            env={k: v for k, v in os.environ.items()
                                 if not k.startswith("AIRFLOW")})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return re.findall(r"\| (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00) \|", result.stdout)


def test_a_year_is_its_twelve_months(airflow_home: Path) -> None:
    runs = planned_runs(airflow_home, "onestop_monthly", "--first", "2025-01", "--last",
                        "2025-12")
    assert runs == ["2024-12-31 17:00:00+00:00", "2025-01-31 17:00:00+00:00",
                    "2025-02-28 17:00:00+00:00", "2025-03-31 17:00:00+00:00",
                    "2025-04-30 17:00:00+00:00", "2025-05-31 17:00:00+00:00",
                    "2025-06-30 17:00:00+00:00", "2025-07-31 17:00:00+00:00",
                    "2025-08-31 17:00:00+00:00", "2025-09-30 17:00:00+00:00",
                    "2025-10-31 17:00:00+00:00", "2025-11-30 17:00:00+00:00"]


def test_one_month_is_one_run_from_the_first_month_of_history(airflow_home: Path) -> None:
    assert planned_runs(airflow_home, "national_portal_monthly", "--first", "2019-01") == [
        "2018-12-31 17:00:00+00:00"]


def test_months_out_of_order_are_refused(airflow_home: Path) -> None:
    result = subprocess.run([str(CLI), "backfill", "onestop_monthly", "--first", "2025-03",
                             "--last", "2025-01", "--dry-run"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 2 and "--last 2025-01 is before --first 2025-03" in (
        result.stderr)
