"""`make airflow` as ops use it: `reformstats airflow-standalone` starts the simulator and
Airflow (scheduler, DAG processor, triggerer, API server) on 127.0.0.1 with nothing set by
hand; a month of each fact DAG is triggered through the REST API, the scheduler's own run of
the latest month runs beside it, the marts DAG follows on their Asset events, and the
warehouse holds the month, written by tasks that waited for each other instead of failing
on DuckDB's lock. SIGTERM then stops every process the command started.

The slowest test of the suite (a few minutes): a real scheduler and executor."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import requests

from domain.periods import Month

FACT_DAGS = ("national_portal_monthly", "onestop_monthly", "eoffice_monthly")
DEADLINE_SECONDS = 15 * 60
VN = dt.timezone(dt.timedelta(hours=7))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def outward_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))
            address = sock.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


class Airflow:
    def __init__(self, url: str, home: Path, data: Path, process: subprocess.Popen,
                 output: Path) -> None:
        self.url, self.home, self.data, self.process, self.output = (
            url, home, data, process, output)
        self.session = requests.Session()

    def wait_until(self, what: str, ready: callable, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"airflow-standalone ended ({self.process.returncode}) while "
                            f"waiting for {what}:\n{self.output.read_text()[-3000:]}")
            try:
                if ready():
                    return
            except requests.RequestException:
                pass
            time.sleep(2)
        pytest.fail(f"no {what} within the deadline:\n{self.output.read_text()[-3000:]}")

    def api(self, method: str, path: str, **kwargs: object) -> dict:
        response = self.session.request(method, f"{self.url}/api/v2{path}", timeout=30,
                                        **kwargs)
        response.raise_for_status()
        return response.json()

    def runs(self, dag_id: str) -> list[dict]:
        return self.api("GET", f"/dags/{dag_id}/dagRuns", params={"limit": 100})["dag_runs"]

    def marts_settled(self) -> bool:
        """Every marts run finished, and no asset event waits to start another (the last
        loads' events can queue a run after the runs before it finished): nothing holds
        the warehouse's lock any more."""
        runs = self.runs("marts_monthly")
        waiting = self.api("GET", "/dags/marts_monthly/assets/queuedEvents")
        return (bool(runs) and not waiting["queued_events"]
                and all(r["state"] in ("success", "failed") for r in runs))


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    root = tmp_path_factory.mktemp("standalone")
    home, data, output = root / "airflow", root / "data", root / "output.log"
    port = free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "REFORMSTATS_"))}  # nothing set by hand
    # Airflow's log servers have fixed default ports: free ones, for a machine that may
    # run another Airflow.
    env["AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT"] = str(free_port())
    env["AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT"] = str(free_port())
    cli = Path(sys.executable).with_name("reformstats")
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [str(cli), "airflow-standalone", "--airflow-home", str(home), "--data-dir",
             str(data), "--port", str(port), "--simulator-port", str(free_port())],
            stdout=sink, stderr=subprocess.STDOUT, env=env)
    started = Airflow(f"http://127.0.0.1:{port}", home, data, process, output)
    try:
        deadline = time.monotonic() + 240

        def healthy() -> bool:
            health = requests.get(f"{started.url}/api/v2/monitor/health", timeout=5).json()
            return all(part.get("status") == "healthy" for part in health.values())

        started.wait_until("healthy Airflow", healthy, deadline)
        password_file = home / "simple_auth_manager_passwords.json.generated"
        password = json.loads(password_file.read_text())["admin"]
        token = requests.post(f"{started.url}/auth/token", timeout=10, json={
            "username": "admin", "password": password}).json()["access_token"]
        started.session.headers["Authorization"] = f"Bearer {token}"
        started.wait_until("parsed DAGs", lambda: {d["dag_id"] for d in started.api(
            "GET", "/dags")["dags"]} >= {*FACT_DAGS, "marts_monthly"}, deadline)
        yield started
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()


def test_a_month_of_each_dag_triggered_through_the_rest_api_lands_in_the_warehouse(
        airflow: Airflow) -> None:
    today = dt.datetime.now(VN).date()
    month = Month(today.year, today.month).previous()  # what the portal has published
    # any instant of the month selects it (its first is the scheduler's run's logical date)
    logical = f"{month.first_day.replace(day=15).isoformat()}T09:00:00+07:00"
    for dag_id in FACT_DAGS:
        run = airflow.api("POST", f"/dags/{dag_id}/dagRuns", json={
            "dag_run_id": f"api__{month}", "logical_date": logical})
        assert run["state"] == "queued"
    for dag_id in (*FACT_DAGS, "marts_monthly"):
        assert airflow.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False}
                           )["is_paused"] is False
    # Unpausing also lets the scheduler start its own run of the latest month: the same
    # partitions, written at the same time by two runs.
    deadline = time.monotonic() + DEADLINE_SECONDS

    def fact_runs_done() -> bool:
        runs = [r for dag_id in FACT_DAGS for r in airflow.runs(dag_id)]
        return len(runs) >= 2 * len(FACT_DAGS) and all(r["state"] in ("success", "failed")
                                                       for r in runs)

    airflow.wait_until("finished fact runs", fact_runs_done, deadline)

    airflow.wait_until("finished marts runs", airflow.marts_settled, deadline)
    states = {(dag_id, r["dag_run_id"].split("__")[0]): r["state"]
              for dag_id in (*FACT_DAGS, "marts_monthly") for r in airflow.runs(dag_id)}
    assert set(states.values()) == {"success"}, states
    assert {("national_portal_monthly", "api"), ("national_portal_monthly", "scheduled"),
            ("onestop_monthly", "api"), ("onestop_monthly", "scheduled"),
            ("eoffice_monthly", "api"), ("eoffice_monthly", "scheduled")} <= set(states)
    # the manual run and the scheduler's loaded the same month
    for dag_id in FACT_DAGS:
        starts = {r["run_type"]: r["data_interval_start"] for r in airflow.runs(dag_id)}
        assert starts["manual"] == starts["scheduled"] == (
            f"{month.first_day - dt.timedelta(days=1)}T17:00:00Z"), starts

    logs = "\n".join(p.read_text(errors="replace")
                     for p in (airflow.home / "logs").rglob("*.log"))
    assert "dag_id" in logs and "province.load_month" in logs  # the logs are there
    assert "Could not set lock" not in logs and "WarehouseBusyError" not in logs

    with duckdb.connect(str(airflow.data / "warehouse.duckdb"), read_only=True) as db:
        audit = db.execute("""SELECT source, dataset, status, count(*) FROM load_audit
                              WHERE period_id = ? GROUP BY ALL""",
                           [month.period_id]).fetchall()
        loaded = {(source, dataset) for source, dataset, status, _ in audit
                  if status == "loaded"}
        assert {("national_portal", "portal_score"),
                ("national_portal", "portal_monthly_counters"), ("onestop_91", "dossiers"),
                ("onestop_11", "dossiers"), ("onestop_04", "dossiers"),
                ("eoffice_91", "documents"), ("marts", "indicators")} <= loaded, audit
        assert all(status == "loaded" for _, _, status, _ in audit), audit
        # Both runs loaded the month's scores: the partition holds one copy of each unit.
        scores = db.execute("SELECT count(*), count(DISTINCT unit_code) FROM "
                            "fact_portal_score WHERE period_id = ?",
                            [month.period_id]).fetchone()
        assert scores[0] == scores[1] > 200
        dossier_units = db.execute("SELECT count(DISTINCT province_code) FROM "
                                   "fact_dossier_monthly WHERE period_id = ?",
                                   [month.period_id]).fetchone()[0]
        assert dossier_units == 3
        assert db.execute("SELECT count(*) FROM fact_indicator_monthly WHERE period_id = ?",
                          [month.period_id]).fetchone()[0] > 0


def test_the_ui_and_rest_api_answer_on_127_0_0_1_only(airflow: Airflow) -> None:
    password_file = airflow.home / "simple_auth_manager_passwords.json.generated"
    assert password_file.stat().st_mode & 0o777 == 0o600  # the admin's alone
    password = json.loads(password_file.read_text())["admin"]
    assert password not in airflow.output.read_text()  # never printed
    port = int(airflow.url.rsplit(":", 1)[1])
    assert requests.get(f"{airflow.url}/api/v2/monitor/health", timeout=5).ok
    address = outward_address()
    if address is None:
        pytest.skip("this machine has no address besides loopback to try")
    with socket.socket() as sock, pytest.raises(OSError):
        sock.settimeout(3)
        sock.connect((address, port))


def test_the_readmes_backfill_recipe_loads_exactly_the_months_it_names(
        airflow: Airflow) -> None:
    """`airflow backfill create` as the README prints it, in a shell that has only
    AIRFLOW_HOME set: calendar dates in, exactly those months' runs out, at most
    `--max-active-runs` of them at a time, each loading its own month."""
    today = dt.datetime.now(VN).date()
    last = Month(today.year, today.month).previous().previous()  # before the run above
    first = last.previous()
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"),
           "AIRFLOW_HOME": str(airflow.home)}
    airflow_cli = str(Path(sys.executable).with_name("airflow"))
    unpaused = subprocess.run([airflow_cli, "dags", "unpause", "national_portal_monthly"],
                              env=env, capture_output=True, text=True, timeout=300)
    assert unpaused.returncode == 0, unpaused.stdout[-2000:] + unpaused.stderr[-2000:]
    created = subprocess.run(
        [airflow_cli, "backfill", "create", "--dag-id", "national_portal_monthly",
         "--from-date", first.first_day.isoformat(), "--to-date", last.last_day.isoformat(),
         "--max-active-runs", "1"], env=env, capture_output=True, text=True, timeout=300)
    assert created.returncode == 0, created.stdout[-3000:] + created.stderr[-3000:]
    deadline = time.monotonic() + DEADLINE_SECONDS

    def backfill_runs() -> list[dict]:
        return [r for r in airflow.runs("national_portal_monthly")
                if r["run_type"] == "backfill"]

    airflow.wait_until("finished backfill runs", lambda: len(backfill_runs()) == 2 and all(
        r["state"] in ("success", "failed") for r in backfill_runs()), deadline)
    runs = sorted(backfill_runs(), key=lambda r: r["logical_date"])
    assert [(r["data_interval_start"], r["state"]) for r in runs] == [
        (f"{m.first_day - dt.timedelta(days=1)}T17:00:00Z", "success") for m in (first, last)]
    # --max-active-runs 1: the second started after the first ended
    assert runs[1]["start_date"] >= runs[0]["end_date"]
    # the backfill's loads start marts runs on their Asset events: let them end first
    airflow.wait_until("finished marts runs", airflow.marts_settled, deadline)
    with duckdb.connect(str(airflow.data / "warehouse.duckdb"), read_only=True) as db:
        loaded = db.execute("""SELECT DISTINCT period_id FROM load_audit
                               WHERE dataset = 'portal_score' AND status = 'loaded'
                                 AND run_id LIKE 'backfill%'
                                 AND period_id % 100 BETWEEN 1 AND 12""").fetchall()
    assert sorted(p for (p,) in loaded) == [first.period_id, last.period_id]  # months


def test_sigterm_stops_every_process_the_command_started(airflow: Airflow) -> None:
    import psutil

    started = psutil.Process(airflow.process.pid).children(recursive=True)

    def command_line(process: psutil.Process) -> str:
        try:
            return " ".join(process.cmdline())
        except psutil.Error:  # already ended (a zombie, or gone): nothing to stop
            return ""

    names = " ".join(command_line(p) for p in started)
    for part in ("standalone", "scheduler", "dag-processor", "triggerer", "api_server"):
        assert part in names  # what there is to stop
    airflow.process.send_signal(signal.SIGTERM)
    assert airflow.process.wait(timeout=120) == 0
    _, alive = psutil.wait_procs(started, timeout=10)
    assert [command_line(p) for p in alive if command_line(p)] == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", int(airflow.url.rsplit(":", 1)[1])), 2)
