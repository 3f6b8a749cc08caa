"""The nightly refresh, run with dag.test() in a metadata database of its own: two nights
leave one refresh run per fact DAG and month (the latest complete month and the one before
it), cleared and queued again by the second night, each for the month it names."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

SCRIPT = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    from commands import embedded_airflow as airflow_env
    root = Path(sys.argv[1])
    airflow_env.configure(root / "airflow", {
        "REFORMSTATS_DATA_DIR": str(root / "data"),
        "REFORMSTATS_WAREHOUSE_URL": f"duckdb:///{root / 'data' / 'warehouse.duckdb'}"})
    import pendulum
    dag = airflow_env.load_dag("refresh_nightly")
    states = [str(dag.test(logical_date=pendulum.datetime(2026, 12, night, 3,
                                                         tz="Asia/Ho_Chi_Minh")).state)
              for night in (3, 4)]
    from airflow.models import DagRun
    from airflow.utils.session import create_session
    with create_session() as session:
        runs = [[r.dag_id, r.logical_date.isoformat(), str(r.state), r.conf, r.clear_number]
                for r in session.query(DagRun).filter(DagRun.dag_id != "refresh_nightly")
                .order_by(DagRun.dag_id, DagRun.logical_date)]
    print(json.dumps({"states": states, "runs": runs}))
""")


def test_two_nights_queue_one_refresh_run_per_dag_and_month(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["states"] == ["success", "success"]
    # 3 December 2026: November is the latest complete month, October the one before;
    # their refresh runs take the 2nd, 00:00 in Vietnam (17:00 UTC the day before)
    october, november = "2026-10-01T17:00:00+00:00", "2026-11-01T17:00:00+00:00"
    assert found["runs"] == [
        [dag_id, day, "queued", {"refresh": True}, 1]
        for dag_id in ("eoffice_monthly", "national_portal_monthly", "onestop_monthly")
        for day in (october, november)]
