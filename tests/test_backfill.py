"""History from 2019: `reformstats backfill` over 2019-01 .. 2026-06 for today's An Giang
(91), which on 1 July 2025 took in old An Giang (89) and old Kiên Giang (then 91), from the
simulator over HTTP, as the README runs it: across the unit change and the API change
(legacy gateway before March 2026, reporting API from it).

The first run is killed (SIGKILL) part-way; the second goes on from there; a third changes
nothing. Expected figures come from the simulator's own world and its reference counters
(simulator/reference_counters.py), never from the pipeline's code.

The slowest test but one (a few minutes): 90 months of three sources.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
import yaml

from domain.periods import Month, Period, month_range
from domain.reference_units import unit_crosswalk
from registry.settings import PROJECT_ROOT
from simulator import PortalSimulator
from simulator.eoffice import DEFAULT_CLIENT as EOFFICE_CLIENT
from simulator.onestop_api import DEFAULT_CLIENT
from simulator.reference_counters import per_unit

FIRST, LAST = Month(2019, 1), Month(2026, 6)
MONTHS = month_range(FIRST, LAST)
CLI = Path(sys.executable).with_name("reformstats")
SAMPLE = [Month(2019, 1), Month(2022, 7), Month(2025, 6), Month(2025, 7), Month(2026, 2),
          Month(2026, 3), Month(2026, 6)]


class History:
    def __init__(self, root: Path, sim: PortalSimulator, env: dict[str, str]) -> None:
        self.root, self.sim, self.env = root, sim, env
        self.data = root / "data"
        self.runs: list[subprocess.CompletedProcess] = []

    def backfill(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
        result = subprocess.run([str(CLI), "backfill", *args, "--data-dir", str(self.data)],
                                env=self.env, capture_output=True, text=True, timeout=timeout)
        self.runs.append(result)
        return result

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        with duckdb.connect(str(self.data / "warehouse.duckdb"), read_only=True) as db:
            return db.execute(sql, params or []).fetchall()


def config_for_one_merged_province(folder: Path) -> Path:
    """config/ with today's An Giang alone, in both the portal's and the one-stop lists."""
    config = folder / "config"
    shutil.copytree(PROJECT_ROOT / "config", config)
    sources = yaml.safe_load((config / "sources.yaml").read_text(encoding="utf-8"))
    sources["national_portal"]["provinces"] = ["91"]
    sources["onestop"]["provinces"] = {"91": {"vendor": "igate"}}
    (config / "sources.yaml").write_text(yaml.safe_dump(sources, allow_unicode=True),
                                         encoding="utf-8")
    return config


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Iterator[History]:
    root = tmp_path_factory.mktemp("history")
    config = config_for_one_merged_province(root)
    # revisions: the last month scored is preliminary (here November 2026: none of ours)
    with PortalSimulator(dossiers_per_unit=25.0, revisions=True,
                         published_through=Month(2026, 11)) as sim:
        login, password = DEFAULT_CLIENT
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AIRFLOW_CONN_", "REFORMSTATS_"))}
        env.update({
            "REFORMSTATS_CONFIG_DIR": str(config),
            "AIRFLOW_HOME": str(root / "airflow"),
            "AIRFLOW_CONN_NATIONAL_PORTAL": json.dumps({
                "conn_type": "http", "host": sim.url,
                "extra": {"rate_per_second": 500, "page_size": 1000}}),
            "AIRFLOW_CONN_EOFFICE_91": json.dumps({
                "conn_type": "http", "host": f"{sim.url}/eoffice/91",
                "login": EOFFICE_CLIENT[0], "password": EOFFICE_CLIENT[1],
                "extra": {"rate_per_second": 500}}),
            "AIRFLOW_CONN_ONESTOP_91": json.dumps({
                "conn_type": "http", "host": f"{sim.url}/onestop/91", "login": login,
                "password": password, "extra": {"rate_per_second": 500}}),
            "REFORMSTATS_DOSSIER_HASH_KEY": "history-test-key-0123456789",
            "COLUMNS": "200",  # rich wraps at 80 columns without a terminal
        })
        yield History(root, sim, env)


@pytest.fixture(scope="module")
def loaded(history: History) -> History:
    """A first run killed once a few months are in, then the same command to the end."""
    command = [str(CLI), "backfill", "--from", str(FIRST), "--to", str(LAST), "--data-dir",
               str(history.data)]
    log = history.data / "backfill.log"
    process = subprocess.Popen(command, env=history.env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and process.poll() is None:
        if log.exists() and log.read_text(encoding="utf-8").count(
                "loaded onestop_91/dossiers") >= 4:
            break
        time.sleep(0.5)
    assert process.poll() is None, process.stderr.read()[-3000:]
    process.send_signal(signal.SIGKILL)  # mid-month, mid-partition perhaps
    process.wait(timeout=30)
    result = history.backfill("--from", str(FIRST), "--to", str(LAST))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return history


def test_the_killed_run_resumes_where_it_stopped_and_loads_every_month_once(
        loaded: History) -> None:
    resumed = loaded.runs[0].stdout
    done_before = int(resumed.split(" done before")[0].rsplit(",", 1)[1].split()[0])
    assert 4 <= done_before < 4 * len(MONTHS), resumed[-2000:]
    assert "0 failed" in resumed
    assert loaded.query("SELECT source, count(*) FROM backfill_month WHERE status = 'done' "
                        "GROUP BY 1 ORDER BY 1") == [
        ("eoffice_91", 90), ("marts", 90), ("national_portal", 90), ("onestop_91", 90)]
    month_ids = [m.period_id for m in MONTHS]
    for table, where in (("fact_dossier_monthly", "source = 'onestop_91'"),
                         ("fact_document_monthly", "source = 'eoffice_91'"),
                         ("fact_portal_monthly_counters", "TRUE"),
                         ("fact_portal_score", "list_scope = 'national'")):
        found = [p for (p,) in loaded.query(
            f"SELECT DISTINCT period_id FROM {table} WHERE {where} AND period_id % 100 "
            "BETWEEN 1 AND 12 ORDER BY 1")]
        assert found == month_ids, table
    # once: no key twice in any fact table
    for table, key in (("fact_dossier_monthly", "unit_code, procedure_code, period_id"),
                       ("fact_document_monthly", "unit_code, period_id"),
                       ("fact_portal_monthly_counters", "unit_code, period_id"),
                       ("fact_portal_score", "unit_code, period_id, list_scope")):
        assert loaded.query(f"SELECT count(*) FROM (SELECT {key} FROM {table} GROUP BY ALL "
                            "HAVING count(*) > 1)") == [(0,)], table


def test_units_are_the_units_of_their_time(loaded: History) -> None:
    provinces = dict(loaded.query(
        "SELECT period_id, count(*) FROM fact_portal_score WHERE list_scope = 'national' "
        "AND period_id IN (202506, 202507) GROUP BY 1"))
    assert provinces == {202506: 63, 202507: 34}
    scopes = loaded.query("SELECT period_id, list(DISTINCT list_scope ORDER BY list_scope) "
                          "FROM fact_portal_score WHERE period_id IN (201901, 202506, 202507,"
                          " 202606) GROUP BY 1 ORDER BY 1")
    assert scopes == [(201901, ["89", "91", "national"]), (202506, ["89", "91", "national"]),
                      (202507, ["91", "national"]), (202606, ["91", "national"])]
    dossier_provinces = loaded.query(
        "SELECT period_id, list(DISTINCT province_code ORDER BY province_code) FROM "
        "fact_dossier_monthly WHERE period_id IN (202506, 202507) GROUP BY 1 ORDER BY 1")
    assert dossier_provinces == [(202506, ["89", "91"]), (202507, ["91"])]
    assert loaded.query("SELECT count(*) FROM unit_match_issue") == [(0,)]


def test_each_month_came_from_the_api_generation_of_its_time(loaded: History) -> None:
    apis: dict[str, set[str]] = {}
    for manifest in (loaded.data / "raw" / "national_portal" / "portal_score").rglob(
            "_manifest.json"):
        content = json.loads(manifest.read_text(encoding="utf-8"))
        if content["status"] == "complete":
            apis.setdefault(content["period"], set()).add(content["api"])
    for month in MONTHS:
        expected = "reporting_api" if month >= Month(2026, 3) else "legacy_gateway"
        assert apis[str(month)] == {expected}, month
    assert apis["2025"] == {"legacy_gateway"} and apis["2026-Q1"] == {"reporting_api"}


def test_counts_equal_the_simulators(loaded: History) -> None:
    world = loaded.sim.world
    for month in SAMPLE:
        day = month.last_day
        scores = dict(loaded.query(
            "SELECT unit_code, total_score FROM fact_portal_score WHERE period_id = ? AND "
            "list_scope = 'national'", [month.period_id]))
        expected = {p.unit.unit_code: world.scores(p.unit, month)["TONG_SCORE"]
                    for p in world.provinces(Period.of_month(month))}
        assert {k: float(v) for k, v in scores.items()} == pytest.approx(expected), month
        counters = dict(loaded.query(
            "SELECT unit_code, dossiers_handled FROM fact_portal_monthly_counters "
            "WHERE period_id = ?", [month.period_id]))
        ours = [p.unit for p in world.provinces(Period.of_month(month))
                if p.unit.unit_code in counters]
        assert sorted(counters) == (["89", "91"] if day < dt.date(2025, 7, 1) else ["91"])
        assert counters == {u.unit_code: world.monthly_counters(u, month)["HS_TOTAL"]
                            for u in ours}, month
        dossiers = dict(loaded.query(
            "SELECT unit_code, sum(received_total) FROM fact_dossier_monthly WHERE period_id "
            "= ? AND source = 'onestop_91' GROUP BY 1", [month.period_id]))
        reference = per_unit(loaded.sim.onestop.expected_counters("91", month))
        assert dossiers == {unit: c["received_total"] for unit, c in reference.items()
                            if c["received_total"] or unit in dossiers}, month
        # e-office: every unit of its time the system served (departments once the
        # portal's lists registered them), with the world's counts
        documents = {code: (province, signed, outgoing) for code, province, signed, outgoing
                     in loaded.query("SELECT unit_code, province_code, outgoing_signed, "
                                     "outgoing FROM fact_document_monthly WHERE period_id = ?",
                                     [month.period_id])}
        served = [u for u in loaded.sim.onestop.world.units_of("91", month)
                  if u.level != "department"]
        for unit in served:
            counts = loaded.sim.eoffice.world.counts(unit, month)
            assert documents[unit.unit_code][1:] == (counts["outgoing_signed"],
                                                     counts["outgoing"]), (month, unit)
        assert {p for p, _, _ in documents.values()} == (
            {"89", "91"} if day < dt.date(2025, 7, 1) else {"91"}), month


def fingerprint(history: History) -> list[tuple]:
    """What the warehouse holds, lineage aside."""
    return history.query("""
        SELECT 'dossiers', count(*), sum(received_total), sum(resolved_total),
               sum(carried_over) FROM fact_dossier_monthly
        UNION ALL SELECT 'scores', count(*), sum(total_score), sum(ckmb), 0
          FROM fact_portal_score
        UNION ALL SELECT 'counters', count(*), sum(dossiers_handled), 0, 0
          FROM fact_portal_monthly_counters
        UNION ALL SELECT 'documents', count(*), sum(outgoing), sum(outgoing_signed), 0
          FROM fact_document_monthly
        UNION ALL SELECT 'indicators', count(*), sum(numerator), sum(denominator), 0
          FROM fact_indicator_monthly
        ORDER BY 1""")


def test_a_rerun_changes_nothing(loaded: History) -> None:
    before = fingerprint(loaded)
    audits = loaded.query("SELECT count(*) FROM load_audit")
    result = loaded.backfill("--from", str(FIRST), "--to", str(LAST))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert f"{4 * len(MONTHS)} skipped" in result.stdout
    assert fingerprint(loaded) == before
    assert loaded.query("SELECT count(*) FROM load_audit") == audits  # nothing was loaded
    # loading months again replaces them with the same figures
    rows = ("SELECT * EXCLUDE (fetch_id, run_id, loaded_at) FROM fact_dossier_monthly "
            "WHERE period_id IN (202506, 202507) ORDER BY ALL")
    same = loaded.query(rows)
    result = loaded.backfill("--from", "2025-06", "--to", "2025-07", "--sources", "onestop",
                             "--no-marts", "--reprocess")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert loaded.query(rows) == same
    assert fingerprint(loaded) == before
    fetches = Counter(p.parent.parent.name for p in (
        loaded.data / "raw" / "onestop_91" / "dossiers").glob("month=2025-0[67]/*/_manifest.json"))
    assert fetches == {"month=2025-06": 2, "month=2025-07": 2}  # the raw zone keeps both


def test_history_rolls_up_to_todays_units(loaded: History) -> None:
    june = Month(2024, 6)
    reference = per_unit(loaded.sim.onestop.expected_counters("91", june))
    province = loaded.query(
        "SELECT from_province_codes, received_total, resolved_total FROM "
        "v_dossier_monthly_current_province WHERE province_code = '91' AND period_id = ?",
        [june.period_id])
    assert province == [("89,91", sum(c["received_total"] for c in reference.values()),
                         sum(c["resolved_total"] for c in reference.values()))]
    # communes: exact where every predecessor went whole into it, else flagged with weights
    edges: dict[str, list] = {}
    for edge in unit_crosswalk():
        if edge.new_level == "commune":
            edges.setdefault(edge.new_code, []).append(edge)
    communes = {code: (approximate, weights, received) for code, approximate, weights, received
                in loaded.query(
                    "SELECT unit_code, bool_or(approximate), any_value(weights), "
                    "sum(received_total) FROM v_dossier_monthly_current_commune "
                    "WHERE period_id = ? GROUP BY 1", [june.period_id])}
    exact = [code for code, (approximate, _, _) in communes.items() if not approximate]
    assert exact and any(approximate for approximate, _, _ in communes.values())
    for code in exact:
        olds = {e.old_code for e in edges[code]}
        assert all(not e.approximate for e in edges[code])
        expected = sum(reference[old]["received_total"] for old in olds if old in reference)
        assert communes[code][2] == expected, code
    for approximate, weights, _ in communes.values():
        if approximate:
            assert any(not w.endswith(":1.0000") for w in weights.split(",")), weights
    counters = loaded.query(
        "SELECT from_province_codes, dossiers_handled FROM "
        "v_portal_monthly_counters_current_province WHERE period_id = ?", [june.period_id])
    world = loaded.sim.world
    olds = [p.unit for p in world.provinces(Period.of_month(june))
            if p.unit.unit_code in ("89", "91")]
    assert counters == [("89,91", sum(world.monthly_counters(u, june)["HS_TOTAL"]
                                       for u in olds))]


def test_a_revised_month_replaces_the_figures_and_the_raw_zone_keeps_both(
        loaded: History) -> None:
    """June 2026 as the sources first gave it in July (preliminary: late entries and late
    syncs missing), then as revised in August: the second load replaces the first."""
    sim, june = loaded.sim, Month(2026, 6)
    again = ["--from", "2026-06", "--to", "2026-06", "--sources", "national_portal,onestop",
             "--no-marts", "--reprocess"]
    figures = ("SELECT sum(received_total), count(DISTINCT fetch_id) FROM fact_dossier_monthly"
               " WHERE period_id = 202606")
    handled = ("SELECT sum(dossiers_handled) FROM fact_portal_monthly_counters "
               "WHERE period_id = 202606")
    loads = []
    for scored_through in (Month(2026, 6), Month(2026, 7)):
        sim.world.published_through = scored_through
        result = loaded.backfill(*again)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        reference = per_unit(sim.onestop.expected_counters("91", june))
        province = next(p.unit for p in sim.world.provinces(Period.of_month(june))
                        if p.unit.unit_code == "91")
        expected = (sum(c["received_total"] for c in reference.values()),
                    sim.world.monthly_counters(province, june)["HS_TOTAL"])
        got = loaded.query(figures)[0]
        assert (got[0], loaded.query(handled)[0][0]) == expected
        assert got[1] == 1  # every row from the one latest fetch
        loads.append(expected)
    (preliminary, final) = loads
    assert preliminary[0] < final[0] and preliminary[1] < final[1]  # it was revised
    fetches = list((loaded.data / "raw" / "onestop_91" / "dossiers" / "month=2026-06").glob(
        "*/_manifest.json"))
    assert len(fetches) == 3  # the backfill's, the preliminary and the revised answers
    latest = loaded.query("SELECT DISTINCT fetch_id FROM fact_dossier_monthly "
                          "WHERE period_id = 202606")
    assert latest == [(max(p.parent.name.removeprefix("fetch=") for p in fetches),)]
