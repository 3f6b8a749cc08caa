"""A real DAG run: `reformstats demo` runs national_portal_monthly with dag.test() against
the simulator (in a subprocess, so Airflow's configuration is its own), then we check the
warehouse it produced against the simulated world."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from domain.periods import Month, Period
from domain.units import UnitRegistry
from registry.settings import PROJECT_ROOT
from simulator.world import NationalPortalWorld

pytestmark = pytest.mark.dag


@pytest.fixture(scope="module")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("demo")
    # The warehouse the environment names, not the data folder's default one.
    warehouse = tmp_path_factory.mktemp("elsewhere") / "analysts.duckdb"
    cli = Path(sys.executable).with_name("reformstats")
    result = subprocess.run(
        [str(cli), "demo", "--first", "2026-02", "--last", "2026-03", "--data-dir",
         str(data_dir), "--faults", '{"missing_field": 1, "server_error": 1}'],
        capture_output=True, text=True, timeout=900,
        env={**os.environ, "COLUMNS": "200",
             "REFORMSTATS_WAREHOUSE_URL": f"duckdb:///{warehouse}"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "national_portal_monthly 2026-03: success" in result.stdout
    assert "onestop_monthly 2026-03: success" in result.stdout
    assert "eoffice_monthly 2026-03: success" in result.stdout
    # e-office by file: the first month's report has a typing slip, refused with its
    # error report, then the corrected one loads; every month's file is archived
    rejected = list((data_dir / "rejected" / "eoffice").glob("*.xlsx"))
    assert [p.name.split("-", 1)[1] for p in rejected] == ["bao_cao_van_ban_11_2026-02.xlsx"]
    report = rejected[0].with_name(rejected[0].name + ".loi.txt").read_text(encoding="utf-8")
    assert "dòng 7, cột F (Văn bản đi được ký số)" in report and "row 7, column F" in report
    archived = sorted(p.parent.name for p in (data_dir / "archive" / "eoffice").rglob("*.xlsx"))
    assert archived == ["2026-02", "2026-03"]
    assert "E-office documents, 2026-03: by API and by report file" in result.stdout
    assert "Top 5 of 102 communes of province 91, par_commune_example" in result.stdout
    assert not (data_dir / "warehouse.duckdb").exists()
    # the marts' report task wrote the scorecards of the provinces with figures, and the
    # demo printed their paths
    reports = data_dir / "reports"
    written = {(p.parent.parent.name, p.parent.name) for p in reports.glob("*/*/*.vi.html")}
    assert {("91", "2026-03"), ("11", "2026-03"), ("04", "2026-03"), ("91", "2026-Q1"),
            ("91", "2026-02")} <= written
    assert {province for province, _ in written} == {"04", "11", "91"}  # not the 31 others
    assert (reports / "quality.vi.html").is_file()
    page = reports / "91" / "2026-03" / "scorecard.vi.html"
    assert str(page) in result.stdout and str(page.with_suffix(".xlsx")) in result.stdout
    return warehouse


UNITS = 34 + 12 + 102 + 12 + 45  # provinces; An Giang's and Điện Biên's lists
# A run for February loads the month and the year to date (legacy gateway); for March the
# month, the first quarter and the year to date (reporting API, from 2026-03).
PERIODS = {202602: "legacy_gateway", 202642: "legacy_gateway", 202603: "reporting_api",
           202621: "reporting_api", 202643: "reporting_api"}


def test_dag_runs_load_every_unit_of_every_period(demo_warehouse: Path) -> None:
    with duckdb.connect(str(demo_warehouse), read_only=True) as db:
        per_period = dict(db.execute("SELECT period_id, count(*) FROM fact_portal_score "
                                     "GROUP BY 1").fetchall())
        quarantined = db.execute("SELECT count(*) FROM quarantine_row").fetchone()[0]
        counters = db.execute("SELECT count(*) FROM fact_portal_monthly_counters").fetchone()[0]
        apis = dict(db.execute("SELECT period_id, min(source_api) FROM fact_portal_score "
                               "GROUP BY 1").fetchall())
        audits = db.execute("SELECT count(*), sum(rows_loaded) FROM load_audit "
                            "WHERE source = 'national_portal' "
                            "AND dataset <> 'portal_metric'").fetchone()
        metrics = dict(db.execute("SELECT period_id, count(*) FROM fact_portal_metric "
                                  "GROUP BY 1").fetchall())
        issues = db.execute("SELECT count(*) FROM unit_match_issue").fetchone()[0]
    # The one missing field lands in whichever dataset the simulator answered first.
    assert sum(per_period.values()) + counters + quarantined == len(PERIODS) * UNITS + 2 * 2
    assert quarantined == 1 and issues == 0
    assert apis == PERIODS
    assert audits == (len(PERIODS) + 2, sum(per_period.values()) + counters)
    # 19 metrics per unit: CKMB 4, TDGQ 1, CLGQ 1, TTTT 1, MDHL 5 (2 tracked), MDSH 7;
    # from the reporting API only (March's three periods)
    assert metrics == {p: UNITS * 19 for p, api in PERIODS.items() if api == "reporting_api"}


def test_the_marts_score_rank_and_reconcile_every_period(demo_warehouse: Path) -> None:
    with duckdb.connect(str(demo_warehouse), read_only=True) as db:
        communes = dict(db.execute(
            "SELECT province_code, count(*) FROM fact_scheme_result WHERE scheme = "
            "'par_commune_example' AND period_id = 202603 GROUP BY 1").fetchall())
        ranks = db.execute(
            "SELECT min(peer_rank), max(peer_count), count(class_code) FROM fact_scheme_result "
            "WHERE scheme = 'par_commune_example' AND period_id = 202603 "
            "AND province_code = '91'").fetchone()
        periods = {p for (p,) in db.execute("SELECT DISTINCT period_id FROM "
                                           "fact_scheme_result").fetchall()}
        gaps = db.execute("SELECT count(gap), count(*) FILTER (WHERE abs(gap) > 0.01) "
                          "FROM fact_766_reconciliation").fetchone()
    # the one-stop systems' communes of An Giang (102), Điện Biên (45) and Cao Bằng
    assert communes["91"] == 102 and communes["11"] == 45 and "04" in communes
    assert ranks == (1, 102, 102)
    assert periods == set(PERIODS)  # every period the runs loaded was scored
    assert gaps[0] > 0 and gaps[1] == 0


def test_loaded_scores_equal_the_simulated_worlds(demo_warehouse: Path) -> None:
    world = NationalPortalWorld(UnitRegistry.from_folder(PROJECT_ROOT / "config" / "units",
                                                         reference=False))
    march = Period("month", 2026, 3)
    province = next(p for p in world.provinces(march) if p.unit.unit_code == "11")
    commune = world.children(province, march)[-1].unit
    with duckdb.connect(str(demo_warehouse), read_only=True) as db:
        for label in ("2026-02", "2026-03", "2026-Q1", "2026-YTD02", "2026-YTD03"):
            period = Period.parse(label)
            row = db.execute("SELECT ckmb, tdgq, mdsh, total_score FROM fact_portal_score "
                             "WHERE unit_code = ? AND period_id = ?",
                             [commune.unit_code, period.period_id]).fetchone()
            expected = world.period_scores(commune, period)
            assert [float(v) for v in row] == pytest.approx(
                [expected["CKMB"], expected["TDGQ"], expected["MDSH"], expected["TONG_SCORE"]])


def test_onestop_dag_loads_counters_and_indicators_for_every_province(
        demo_warehouse: Path) -> None:
    with duckdb.connect(str(demo_warehouse), read_only=True) as db:
        loads = db.execute("SELECT source, period_id, rows_in FROM load_audit "
                           "WHERE source LIKE 'onestop_%' ORDER BY 1, 2").fetchall()
        indicators = db.execute("SELECT count(DISTINCT indicator_code), count(*) "
                                "FROM fact_indicator_monthly WHERE indicator_code NOT IN "
                                "('signed_document_rate', 'hub_exchange_rate', "
                                "'work_files_online_rate', 'document_on_time_rate')"
                                ).fetchone()
        balance = db.execute("SELECT count(*) FROM dq_result WHERE check_name LIKE 'balance%' "
                             "AND NOT success").fetchone()[0]
    assert [(s, p) for s, p, _ in loads] == [
        (f"onestop_{c}", p) for c in ("04", "11", "91") for p in (202602, 202603)]
    assert all(rows_in > 500 for _, _, rows_in in loads)
    assert indicators[0] == 9 and indicators[1] > 9 * 90
    assert balance == 0


def reformstats_run(month: Month, data_dir: Path, **env: str) -> subprocess.CompletedProcess:
    """`reformstats run national_portal_monthly` for one month, as the README prints it,
    with the Connection in the environment pointing at a simulator scored through `month`."""
    import json

    from simulator import PortalSimulator

    with PortalSimulator(published_through=month) as sim:
        connection = json.dumps({"conn_type": "http", "host": sim.url,
                                 "extra": {"rate_per_second": 50, "page_size": 50}})
        return subprocess.run(
            [str(Path(sys.executable).with_name("reformstats")), "run",
             "national_portal_monthly", "--first", str(month), "--data-dir", str(data_dir)],
            capture_output=True, text=True, timeout=600,
            env={**os.environ, "AIRFLOW_CONN_NATIONAL_PORTAL": connection,
                 "REFORMSTATS_WAREHOUSE_URL": "", **env})


def test_reformstats_run_loads_a_month_from_a_portal_given_by_the_environment(
        tmp_path: Path) -> None:
    """The README's way to load from a real portal: `reformstats run` with the Connection
    in the environment (here the simulator, scored through October 2025), run as it would
    have been in November 2025; then again today, when October's year to date can no
    longer be asked for (the portal answers the year so far): only the month reloads."""
    result = reformstats_run(Month(2025, 10), tmp_path, REFORMSTATS_AS_OF="2025-11-03")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "national_portal_monthly 2025-10: success" in result.stdout
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as db:
        loaded = dict(db.execute("SELECT period_label, count(*) FROM v_portal_score "
                                 "GROUP BY 1").fetchall())
        counters = db.execute("SELECT count(*) FROM fact_portal_monthly_counters").fetchone()
    assert loaded == {"2025-10": UNITS, "2025-YTD10": UNITS}
    assert counters == (2,)

    result = reformstats_run(Month(2025, 10), tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as db:
        runs = dict(db.execute("SELECT period_id, count(DISTINCT run_id) FROM load_audit "
                               "WHERE dataset = 'portal_score' GROUP BY 1").fetchall())
    assert runs == {202510: 2, 202550: 1}  # 2025-10 twice, 2025-YTD10 once


def test_a_failing_dataset_does_not_stop_another_in_a_real_dag_run(tmp_path: Path) -> None:
    """No monthly-counter ID configured at all: that dataset's partition is rejected and
    the run fails, while the 766 scores of the same run load."""
    import shutil

    config = tmp_path / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    ids = config / "units" / "source_ids.csv"
    ids.write_text("".join(line for line in ids.read_text(encoding="utf-8").splitlines(True)
                           if not line.startswith("legacy_tinh")), encoding="utf-8")
    result = reformstats_run(Month(2025, 11), tmp_path, REFORMSTATS_CONFIG_DIR=str(config),
                             REFORMSTATS_AS_OF="2025-12-02")
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    assert "national_portal_monthly 2025-11: failed" in result.stdout
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as db:
        loaded = dict(db.execute("SELECT period_label, count(*) FROM v_portal_score "
                                 "GROUP BY 1").fetchall())
        audits = db.execute("SELECT dataset, status FROM load_audit ORDER BY 1, 2").fetchall()
        missing = db.execute("SELECT unit_code FROM dq_result WHERE check_name = "
                             "'configured_unit_id_known' AND NOT success ORDER BY 1").fetchall()
    assert loaded == {"2025-11": UNITS, "2025-YTD11": UNITS}
    assert audits == [("portal_monthly_counters", "rejected"), ("portal_score", "loaded"),
                      ("portal_score", "loaded")]
    assert missing == [("11",), ("91",)]


@pytest.mark.parametrize("when", ["waiting_to_retry", "inside_a_task"])
def test_sigterm_stops_a_run_at_once(tmp_path: Path, when: str) -> None:
    """dag.test() runs tasks in-process; Airflow's task runner takes SIGTERM over and turns
    an interrupt inside a task into a failed try. A run waiting out a 5-minute retry delay,
    or inside a request that would take a minute, must still stop within seconds."""
    import json
    import signal
    import threading
    import time
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    asked = threading.Event()

    class Source(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            asked.set()
            if when == "inside_a_task":
                time.sleep(60)  # the extract is inside this request when SIGTERM comes
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Source)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    connection = json.dumps({"conn_type": "http",
                             "host": f"http://127.0.0.1:{server.server_address[1]}",
                             "extra": {"max_attempts": 1, "read_timeout": 120}})
    output = tmp_path / "output.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [str(Path(sys.executable).with_name("reformstats")), "run",
             "national_portal_monthly", "--first", "2025-10", "--data-dir",
             str(tmp_path / "data")], stdout=sink, stderr=subprocess.STDOUT,
            env={**os.environ, "AIRFLOW_CONN_NATIONAL_PORTAL": connection,
                 "REFORMSTATS_WAREHOUSE_URL": ""})
    try:
        deadline = time.monotonic() + 300
        ready = ((lambda: "[up_for_retry]" in output.read_text(errors="replace"))
                 if when == "waiting_to_retry" else asked.is_set)
        while not ready():
            assert process.poll() is None and time.monotonic() < deadline, (
                output.read_text()[-3000:])
            time.sleep(0.2)
        process.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        assert process.wait(timeout=60) == 143  # 128 + SIGTERM
        assert time.monotonic() - stopped < 20  # not the retry delay, not the request
    finally:
        if process.poll() is None:
            process.kill()
        server.shutdown()
    text = output.read_text()
    assert "SIGTERM: stopping the run" in text and "warning:" not in text
    assert ("stopped before the end" if when == "waiting_to_retry"
            else "the partition in progress is rolled back") in text


def test_the_demo_alerts_reach_the_offices_that_oversee_the_units(demo_warehouse: Path
                                                                  ) -> None:
    """The alerts_hourly DAG ran after the months (as at 5 April, 08:00): what it opened
    is what the facts say, each message was delivered to the receivers the demo started."""
    with duckdb.connect(str(demo_warehouse), read_only=True) as db:
        statuses = dict(db.execute("SELECT status, count(*) FROM alert_message "
                                   "GROUP BY 1").fetchall())
        # the commune office's target (config/alerts.yaml: on time at least 98 %),
        # recomputed from the indicators: one alert per month below it
        missed = db.execute("SELECT count(*) FROM fact_indicator_monthly WHERE unit_code = "
                            "'30313' AND indicator_code = 'on_time_rate' AND value < 0.98 "
                            "AND period_id IN (202602, 202603)").fetchone()[0]
        opened = db.execute("SELECT count(*) FROM alert_state WHERE route = "
                            "'xa_my_hoa_hung' AND kind = 'target' AND status = 'open'"
                            ).fetchone()[0]
        # the row the missing field sent to quarantine has its open data-quality alert
        held = db.execute("SELECT DISTINCT dataset, period_id FROM quarantine_row").fetchall()
        alerted = set(db.execute("SELECT DISTINCT dataset, period_id FROM alert_state "
                                 "WHERE kind = 'data_quality'").fetchall())
    assert set(statuses) == {"delivered"} and statuses["delivered"] >= 2
    assert opened == missed
    assert held and set(held) <= alerted


def test_the_demo_loads_e_office_figures_by_api_and_by_file_with_the_worlds_counts(
        demo_warehouse: Path) -> None:
    """An Giang's by its API, Điện Biên's from its offices' report files: each unit's
    counts are the simulated e-office world's (its units of the month, departments by API
    only), and the month's document indicators come from them."""
    from simulator.eoffice import COUNTS
    from simulator.server import PortalSimulator

    with PortalSimulator() as sim:  # its worlds are pure functions of the seed
        units_of, world = sim.onestop.world.units_of, sim.eoffice.world
    with duckdb.connect(str(demo_warehouse), read_only=True) as db:
        for month in (Month(2026, 2), Month(2026, 3)):
            rows = db.execute(f"""SELECT unit_code, channel, {', '.join(COUNTS)}
                                  FROM fact_document_monthly WHERE period_id = ?""",
                              [month.period_id]).fetchall()
            loaded = {r[0]: (r[1], r[2:]) for r in rows}
            for province, channel in (("91", "api"), ("11", "file")):
                units = [u for u in units_of(province, month) if u.level != "department"]
                for unit in units:
                    assert loaded[unit.unit_code] == (
                        channel, tuple(world.counts(unit, month).values())), unit
        rates = dict(db.execute("""SELECT indicator_code, count(*) FROM fact_indicator_monthly
                                   WHERE period_id = 202603 AND indicator_code IN
                                   ('signed_document_rate', 'hub_exchange_rate',
                                    'work_files_online_rate', 'document_on_time_rate')
                                   GROUP BY 1""").fetchall())
    assert set(rates) == {"signed_document_rate", "hub_exchange_rate",
                          "work_files_online_rate", "document_on_time_rate"}
