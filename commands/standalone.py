"""`make airflow`: `airflow standalone` with this project's DAGs, on 127.0.0.1.

Without a configured national portal (no AIRFLOW_CONN_NATIONAL_PORTAL or
REFORMSTATS_NATIONAL_PORTAL_URL) the command also serves the portal simulator and gives
Airflow Connections to the simulator's systems, as environment variables of the
processes it starts: they exist only while the command runs, and each says it is
local-only. Ctrl-C or SIGTERM stops Airflow's components, then the simulator.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import typer

from commands import embedded_airflow as airflow_env

# How the simulator is asked, from Airflow's tasks: quicker than the real portal allows.
NATIONAL_EXTRA = {"rate_per_second": 20, "read_timeout": 10, "page_size": 100}
ONESTOP_EXTRA = {"rate_per_second": 50, "page_size": 500}
STOP_GRACE_SECONDS = 60


def portal_configured(env: dict[str, str]) -> bool:
    return bool(env.get("AIRFLOW_CONN_NATIONAL_PORTAL")
                or env.get("REFORMSTATS_NATIONAL_PORTAL_URL"))


def local_hash_key(home: Path) -> str:
    """The dossier hash key of this local Airflow home (made once, kept in a 0600 file), so
    that dossier keys stay the same from run to run of the simulator."""
    path = home / "local_dossier_hash_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32), encoding="ascii")
    return path.read_text(encoding="ascii").strip()


def standalone_environment(home: Path, data_dir: Path, port: int) -> dict[str, str]:
    """The environment `airflow standalone` and its components run with."""
    env = {**os.environ, **airflow_env.airflow_environment(home)}
    env["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "INFO"
    # The UI and REST API on this machine only (Airflow's default host is 0.0.0.0); an
    # explicit setting still wins.
    env.setdefault("AIRFLOW__API__HOST", "127.0.0.1")
    env["AIRFLOW__API__PORT"] = str(port)
    # Tasks report to the API server's execution API: the same host and port.
    env.setdefault("AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
                   f"http://127.0.0.1:{port}/execution/")
    env["REFORMSTATS_DATA_DIR"] = str(data_dir)
    venv_bin = str(Path(sys.executable).parent)  # standalone spawns `airflow ...` by PATH
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    return env


def _end_if_still_running(child: subprocess.Popen) -> None:
    """A component that does not stop (a scheduler waiting on a stuck worker) must not
    hold the stop forever: after the grace period, end the whole group."""
    try:
        child.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        typer.echo(f"Airflow's components still running {STOP_GRACE_SECONDS} s after the "
                   "stop: ending them (tasks they were running are retried next time)")
        _end_group(child.pid)


def local_admin_password(home: Path) -> Path:
    """The admin password file of SimpleAuthManager, made here (mode 0600) so that Airflow
    neither prints the password nor leaves it readable by every user of the machine."""
    path = home / "simple_auth_manager_passwords.json.generated"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(json.dumps({"admin": secrets.token_urlsafe(12)}), encoding="utf-8")
    path.chmod(0o600)
    return path


def _end_group(group: int) -> None:
    """SIGTERM, then SIGKILL, to whatever is left of Airflow's process group."""
    import time

    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(group, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(group, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


def run_standalone(home: Path, data_dir: Path, port: int, simulator: bool | None,
                   simulator_port: int) -> int:
    """Serve the simulator (unless a portal is configured or `simulator` is False) and run
    `airflow standalone` until it ends or this process is told to stop; its exit code."""
    from registry.settings import Settings

    home.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    env = standalone_environment(home, data_dir, port)
    sim: Any = None
    if simulator is None:
        simulator = not portal_configured(env)
    if simulator:
        from simulator import PortalSimulator

        sim = PortalSimulator(port=simulator_port).start()
        provinces = sorted(Settings.from_env().sources.onestop.provinces)
        connections = airflow_env.simulator_connections(
            sim.url, provinces, by="airflow-standalone", national_extra=NATIONAL_EXTRA,
            onestop_extra=ONESTOP_EXTRA, hash_key=local_hash_key(home))
        env.update(connections)
        names = ", ".join(k.removeprefix("AIRFLOW_CONN_").lower() for k in connections)
        typer.echo(f"Portal simulator on {sim.url}. LOCAL-ONLY Connections for this run "
                   f"(environment variables, not stored): {names}")
    else:
        typer.echo("Sources: the Connections and REFORMSTATS_* variables already set")
    password = local_admin_password(home)
    typer.echo(f"Airflow UI and REST API on http://{env['AIRFLOW__API__HOST']}:{port} "
               f"(user admin, password in {password}); data in {data_dir}")
    try:
        return _airflow_until_stopped(env)
    finally:
        if sim is not None:
            sim.stop()


def _airflow_until_stopped(env: dict[str, str]) -> int:
    """Prepare Airflow's database and pools, run `airflow standalone`, and forward stop
    signals to it; its exit code."""
    airflow = str(Path(sys.executable).with_name("airflow"))  # the one in this virtualenv
    # The metadata database and the DAGs' pools before any scheduler looks at a task (a
    # task in a pool that does not exist is never scheduled).
    subprocess.run([airflow, "db", "migrate"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    typer.echo(f"Airflow pools: {', '.join(airflow_env.create_pools(env))}")
    started: list[subprocess.Popen] = []
    signals: list[int] = []

    def stop(signum: int, frame: object) -> None:
        signals.append(signum)
        if not started or started[0].poll() is not None:
            return
        name = signal.Signals(signum).name
        if len(signals) == 1:  # a clean stop: standalone stops its components itself
            typer.echo(f"{name}: stopping Airflow's components")
            started[0].send_signal(signal.SIGINT)
            threading.Thread(target=_end_if_still_running, args=(started[0],),
                             daemon=True).start()
        else:  # asked again (a second Ctrl-C, `timeout` and `kill` both): end them now
            typer.echo(f"{name} again: ending Airflow's components now")
            with contextlib.suppress(ProcessLookupError):
                os.killpg(started[0].pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    # Its own process group, so that its components can be ended together.
    # (SIGINT is caught here, so the child starts with it at its default whatever the shell
    # set; `airflow standalone` stops its components on KeyboardInterrupt.)
    child = subprocess.Popen([airflow, "standalone"], env=env, start_new_session=True)
    started.append(child)
    if signals:  # asked to stop while it was starting
        stop(signals.pop(), None)
    try:
        code = child.wait()  # a stop signal runs `stop`, and the wait goes on
    finally:
        if child.poll() is None:  # this process is failing: end Airflow too
            child.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(timeout=STOP_GRACE_SECONDS)
        _end_group(child.pid)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code  # ended by signal N: 128 + N, as shells say
