"""Every DAG file imports cleanly, cheaply, and without touching connections."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from commands.embedded_airflow import DAGS_DIR, airflow_environment
from steps.national_portal import DATASETS

PROBE = Path(__file__).with_name("_dag_parse_probe.py")


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("airflow_home")
    env = {**os.environ, **airflow_environment(home)}
    out = subprocess.run([sys.executable, str(PROBE), str(DAGS_DIR)], env=env, check=True,
                         capture_output=True, text=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_every_dag_file_imports_without_errors(parsed: dict) -> None:
    assert parsed["import_errors"] == {}
    assert len(parsed["dags"]) == len(list(DAGS_DIR.glob("*.py")))


def test_parsing_imports_nothing_heavy_and_reads_no_connection(parsed: dict) -> None:
    assert parsed["heavy_loaded"] == []
    assert parsed["connection_reads"] == []


def test_monthly_dags_use_real_intervals_and_explicit_catchup(parsed: dict) -> None:
    for dag_id in ("national_portal_monthly", "onestop_monthly"):
        assert parsed["timetable"][dag_id] == "CronDataIntervalTimetable"
        assert parsed["catchup"][dag_id] is False


def test_national_portal_dag_wires_extract_validate_load(parsed: dict) -> None:
    assert parsed["tasks"]["national_portal_monthly"] == [
        "extract", "load", "partition", "refresh_reference", "validate"]


def test_onestop_dag_fans_out_per_province(parsed: dict) -> None:
    assert parsed["tasks"]["onestop_monthly"] == [
        "extract_aggregates", "extract_dossiers", "load_month", "partition", "provinces",
        "refresh_reference", "validate_dossiers"]


def test_dag_dataset_list_matches_the_pipeline() -> None:
    source = (DAGS_DIR / "national_portal_monthly.py").read_text(encoding="utf-8")
    for dataset in DATASETS:
        assert f'"{dataset}"' in source
