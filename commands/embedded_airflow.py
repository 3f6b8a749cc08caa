"""Prepare an embedded Airflow (SQLite metadata, this project's DAGs) in-process.

Airflow reads its configuration when first imported, so `configure` must run before any
`import airflow` in the process. Used by the demo and by the DAG-level tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from registry.settings import PROJECT_ROOT

DAGS_DIR = PROJECT_ROOT / "dags"


def airflow_environment(airflow_home: Path, extra: dict[str, str] | None = None
                        ) -> dict[str, str]:
    env = {
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("REFORMSTATS_AIRFLOW_LOG_LEVEL",
                                                          "WARNING"),
        "GX_ANALYTICS_ENABLED": "false",
    }
    env.update(extra or {})
    return env


def connection_env(conn_id: str, conn: dict[str, Any]) -> dict[str, str]:
    """An Airflow Connection given as an environment variable (JSON form)."""
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(conn)}


LOCAL_ONLY = ("LOCAL ONLY: the portal simulator on 127.0.0.1, set by `reformstats {by}` "
              "for its own processes; never a production source")


def simulator_connections(sim_url: str, provinces: list[str], *, by: str,
                          national_extra: dict[str, Any], onestop_extra: dict[str, Any],
                          hash_key: str) -> dict[str, str]:
    """Connections to the simulator's systems (the national portal, each configured
    province's one-stop system and, for config/sources.yaml's e-office provinces, its
    e-office system, with the simulator's clients; the dossier hash key), as environment
    variables: they live only as long as the command that sets them, and each one's
    description says it is local-only."""
    from registry.settings import Settings
    from simulator.eoffice import DEFAULT_CLIENT as EOFFICE_CLIENT
    from simulator.onestop_api import DEFAULT_CLIENT

    note = LOCAL_ONLY.format(by=by)
    login, password = DEFAULT_CLIENT
    env = connection_env("national_portal", {"conn_type": "http", "host": sim_url,
                                             "description": note, "extra": national_extra})
    for code in provinces:
        env |= connection_env(f"onestop_{code}", {
            "conn_type": "http", "host": f"{sim_url}/onestop/{code}", "login": login,
            "password": password, "description": note, "extra": onestop_extra})
    login, password = EOFFICE_CLIENT
    for code in Settings.from_env().sources.eoffice.provinces:
        env |= connection_env(f"eoffice_{code}", {
            "conn_type": "http", "host": f"{sim_url}/eoffice/{code}", "login": login,
            "password": password, "description": note, "extra": onestop_extra})
    env |= connection_env("dossier_hash_key", {"conn_type": "generic", "password": hash_key,
                                               "description": note})
    return env


def pools() -> list[tuple[str, int, str]]:
    """The Airflow pools the DAGs use (name, slots, description), from config/."""
    from registry.settings import Settings

    portal = Settings.from_env().sources.national_portal
    return [(portal.pool, portal.pool_slots,
             f"national portal extracts ({portal.rate_per_second:g} request/s per client): "
             "config/sources.yaml")]


def create_pools(env: dict[str, str] | None = None) -> list[str]:
    """Create or update the pools of `pools()` in the Airflow metadata database (which must
    be migrated); returns their names."""
    airflow = str(Path(sys.executable).with_name("airflow"))
    wanted = pools()
    for name, slots, description in wanted:
        subprocess.run([airflow, "pools", "set", name, str(slots), description], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    return [name for name, _, _ in wanted]


def configure(airflow_home: Path, extra: dict[str, str] | None = None) -> None:
    """Set the environment and migrate the SQLite metadata DB (idempotent)."""
    if "airflow" in sys.modules:
        raise RuntimeError("configure() must run before Airflow is imported")
    airflow_home.mkdir(parents=True, exist_ok=True)
    os.environ.update(airflow_environment(airflow_home, extra))
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def load_dag(dag_id: str) -> Any:
    """Parse the project's DAG folder and return one DAG (raises with import errors)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_DIR))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.dags[dag_id]


def run_month(dag: Any, month: Any) -> Any:
    """Run a monthly DAG for one Month with dag.test(); returns the DagRun.

    The logical date is the month's first instant in Vietnam time: the timetable gives a
    manual run the month its logical date falls in (the month a backfill run with that
    logical date loads). A DAG scheduled on Assets (marts) takes the month as its `month`
    param instead.
    """
    import pendulum

    if "month" in dag.params:
        return dag.test(run_conf={"month": str(month)})
    first = month.first_day
    return dag.test(logical_date=pendulum.datetime(first.year, first.month, 1,
                                                   tz="Asia/Ho_Chi_Minh"))
