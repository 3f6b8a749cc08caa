"""Real units end to end: the simulated portal serves real provinces and communes under its
own IDs and agency codes; the pipeline, with no unit row written by hand, matches every
one, over both API generations, for a month and a year to date.

Expected values come from the simulator's world (what it served and which unit it meant),
never from the pipeline; ranks are recomputed here from the served totals.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from commands.cli import app
from domain.periods import Month, Period
from sources.raw_zone import FetchRef, read_manifest
from steps import national_portal as steps
from tests.conftest import fast_config

CASES = [  # (period, API generation it is served by, the portal's "now")
    ("2025-10", "legacy_gateway", Month(2025, 10)),
    ("2025-YTD10", "legacy_gateway", Month(2025, 10)),
    ("2026-03", "reporting_api", Month(2026, 3)),
    ("2026-YTD03", "reporting_api", Month(2026, 3)),
]


def run(period: Period, sim, settings, run_id: str = "run-1") -> dict:
    ref = steps.extract("portal_score", period, fast_config(sim.url), settings)
    validated = steps.validate(ref, settings)
    return {**validated, "audit": steps.load(validated, run_id, settings)}


def query(settings, sql: str, params: list | None = None) -> list[tuple]:
    path = settings.warehouse_url.removeprefix("duckdb:///")
    with duckdb.connect(path, read_only=True) as db:
        return db.execute(sql, params or []).fetchall()


def served(sim, period: Period, provinces: list[str]) -> dict[str, dict]:
    """{unit code the simulator meant: what it served} for the lists the pipeline asks for."""
    world = sim.world
    lists = {"national": world.provinces(period)}
    for province in world.provinces(period):
        if province.unit.unit_code in provinces:
            lists[province.unit.unit_code] = world.children(province, period)
    out = {}
    for scope, units in lists.items():
        for unit in units:
            out[unit.unit.unit_code] = {"scope": scope, "level": unit.unit.level,
                                        "name": unit.unit.name_vi,
                                        **world.period_scores(unit.unit, period)}
    return out


def expected_ranks(units: dict[str, dict]) -> dict[str, int]:
    """Rank by total within each list and level (ties share the better rank)."""
    ranks = {}
    groups: dict[tuple, list[tuple[float, str]]] = {}
    for code, unit in units.items():
        groups.setdefault((unit["scope"], unit["level"]), []).append((unit["TONG_SCORE"], code))
    for members in groups.values():
        totals = sorted((t for t, _ in members), reverse=True)
        for total, code in members:
            ranks[code] = totals.index(total) + 1
    return ranks


@pytest.mark.parametrize(("label", "api", "now"), CASES, ids=[c[0] for c in CASES])
def test_real_units_all_match_with_the_served_scores_and_ranks(simulator, settings, label,
                                                               api, now) -> None:
    period = Period.parse(label)
    sim = simulator(published_through=now)
    result = run(period, sim, settings)
    truth = served(sim, period, ["91", "11"])
    assert len(truth) == 34 + 12 + 102 + 12 + 45
    assert (result["rows_in"], result["audit"]["rows_loaded"],
            result["audit"]["rows_quarantined"]) == (len(truth), len(truth), 0)
    rows = query(settings, "SELECT f.unit_code, f.source_api, f.list_scope, f.ckmb, f.tdgq, "
                           "f.clgq, f.tttt, f.mdhl, f.mdsh, f.total_score, f.unit_name, "
                           "v.rank_in_list, f.published_rank FROM fact_portal_score f "
                           "JOIN v_portal_score v USING (unit_code, period_id) "
                           "WHERE period_id = ?", [period.period_id])
    assert {r[0] for r in rows} == set(truth)  # every unit is the one the portal meant
    expected = expected_ranks(truth)
    for code, source_api, scope, *scores, name, rank, published_rank in rows:
        unit = truth[code]
        assert (source_api, scope) == (api, unit["scope"])
        assert [float(s) for s in scores] == pytest.approx(
            [unit[c] for c in ("CKMB", "TDGQ", "CLGQ", "TTTT", "MDHL", "MDSH", "TONG_SCORE")],
            abs=0.01)
        assert unicodedata.is_normalized("NFC", name)
        assert rank == expected[code]
        if published_rank is not None:  # the legacy gateway numbers its rows (ROW_STT):
            ties = sum(1 for other in truth.values()  # equal totals share our rank
                       if (other["scope"], other["level"], other["TONG_SCORE"]) == (
                           unit["scope"], unit["level"], unit["TONG_SCORE"]))
            assert rank <= published_rank < rank + ties
    assert query(settings, "SELECT count(*) FROM unit_match_issue") == [(0,)]
    registered = dict(query(settings, "SELECT level, count(*) FROM dim_unit "
                                      "WHERE origin = 'portal' GROUP BY 1"))
    assert registered == {"department": 24}  # no statistical list holds them
    assert query(settings, "SELECT count(*) FROM dim_unit WHERE origin = 'portal' AND "
                           "parent_code NOT IN ('91', '11')") == [(0,)]


def test_the_second_api_generation_finds_units_by_the_agency_code_the_first_taught(
        simulator, settings) -> None:
    sim = simulator(published_through=Month(2026, 3))
    run(Period.parse("2026-02"), sim, settings)  # legacy gateway, long and short codes
    run(Period.parse("2026-03"), sim, settings)  # reporting API: other IDs, short codes
    by = dict(query(settings, "SELECT matched_by, count(*) FROM unit_source_id "
                              "WHERE scheme = 'reporting' GROUP BY 1"))
    assert by == {"agency_code": 34 + 12 + 102 + 12 + 45}
    # one unit, two IDs: a commune sent as 000.xx.yy.H01 by the gateway, H01.yy.xx since
    pairs = query(settings, """SELECT l.unit_code FROM unit_source_id l
                               JOIN unit_source_id r USING (unit_code, valid_from)
                               WHERE l.scheme = 'legacy_766' AND r.scheme = 'reporting'""")
    assert len(pairs) == 34 + 12 + 102 + 12 + 45


def test_a_configured_province_with_an_empty_list_is_rejected_keeping_the_last_good(
        simulator, settings, own_config) -> None:
    sim = simulator()
    period = Period.parse("2026-02")
    run(period, sim, settings)
    before = query(settings, "SELECT count(*), min(fetch_id) FROM fact_portal_score")
    # Hà Nội (01) is on the national list, but the portal lists none of its units.
    wider = own_config({"provinces": ["91", "11", "01"]})
    with pytest.raises(steps.PartitionRejected, match="no department or commune of province 01"):
        run(period, sim, wider, "run-2")
    assert query(settings, "SELECT count(*), min(fetch_id) FROM fact_portal_score") == before
    assert query(settings, "SELECT check_name, unit_code, severity FROM dq_result "
                           "WHERE run_id = 'run-2' AND NOT success") == [
        ("configured_unit_not_empty", "01", "critical")]
    assert query(settings, "SELECT status, rows_loaded FROM load_audit "
                           "WHERE run_id = 'run-2'") == [("rejected", 0)]


def test_a_year_to_date_answer_covering_another_period_is_rejected(simulator, settings):
    sim = simulator({"stale_period": 1}, published_through=Month(2026, 3))
    with pytest.raises(steps.PartitionRejected, match="covers 2026-YTD02; 2026-YTD03"):
        run(Period.parse("2026-YTD03"), sim, settings)
    reasons = query(settings, "SELECT DISTINCT reasons FROM quarantine_row")
    assert reasons == [("partition rejected: the answer covers 2026-YTD02; 2026-YTD03 was "
                        "asked for",)]
    assert query(settings, "SELECT count(*) FROM fact_portal_score") == [(0,)]


def test_a_renamed_commune_is_listed_as_unmatched_then_resolved_by_an_override(
        simulator, settings, own_config) -> None:
    sim = simulator({"renamed_unit": 1})
    period = Period.parse("2025-10")
    first = run(period, sim, settings)
    assert first["audit"]["rows_quarantined"] == 1
    issues = query(settings, "SELECT scheme, source_id, problem, unit_name, parent_code "
                             "FROM unit_match_issue")
    assert len(issues) == 1
    scheme, source_id, problem, name, parent = issues[0]
    assert (scheme, problem, name, parent) == ("legacy_766", "unmatched", "UBND xã Tên Cũ",
                                               "91")
    listed = CliRunner().invoke(app, ["units", "unmatched", "--url", settings.warehouse_url])
    assert listed.exit_code == 1
    assert f"legacy_766,{source_id},?,unmatched: UBND xã Tên Cũ" in listed.output

    # The portal meant An Giang's last commune: say so as data, and load the period again.
    province = next(p for p in sim.world.provinces(period) if p.unit.unit_code == "91")
    meant = sim.world.children(province, period)[-1].unit
    fixed = own_config(files={"units/overrides.csv": (
        "scheme,source_id,unit_code,note\n"
        f"legacy_766,{source_id},{meant.unit_code},renamed in the 2025 reorganisation\n")})
    sim.faults = type(sim.faults)({"renamed_unit": 1})  # the same answer again
    again = run(period, sim, fixed, "run-2")
    assert (again["audit"]["rows_quarantined"], again["audit"]["rows_loaded"]) == (
        0, first["audit"]["rows_loaded"] + 1)
    assert query(settings, "SELECT count(*) FROM unit_match_issue") == [(0,)]
    assert query(settings, "SELECT unit_code, matched_by, origin FROM unit_source_id "
                           "WHERE source_id = ?", [source_id]) == [
        (meant.unit_code, "override", "override")]
    total = query(settings, "SELECT total_score FROM fact_portal_score WHERE unit_code = ? "
                            "AND period_id = ?", [meant.unit_code, period.period_id])
    assert float(total[0][0]) == pytest.approx(
        sim.world.period_scores(meant, period)["TONG_SCORE"])
    clean = CliRunner().invoke(app, ["units", "unmatched", "--url", settings.warehouse_url])
    assert clean.exit_code == 0


def test_a_half_year_is_not_asked_of_the_reporting_api(simulator, settings) -> None:
    sim = simulator(published_through=Month(2026, 6))
    ref = steps.extract("portal_score", Period.parse("2026-H1"), fast_config(sim.url),
                        settings)
    assert "publishes no half" in ref["not_published"]
    assert read_manifest(ref["path"])["status"] == "not_published"
    assert sim.requests == []


def test_a_province_without_a_monthly_counter_id_is_a_dq_result_not_a_crash(
        simulator, settings, own_config) -> None:
    ids = (Path(settings.config_dir) / "units" / "source_ids.csv").read_text(encoding="utf-8")
    only_91 = own_config(files={"units/source_ids.csv": "\n".join(
        line for line in ids.splitlines() if not line.startswith("legacy_tinh,11311")) + "\n"})
    sim = simulator()
    ref = steps.extract("portal_monthly_counters", Period.parse("2026-02"),
                        fast_config(sim.url), only_91)
    audit = steps.load(steps.validate(ref, only_91), "run-1", only_91)
    assert audit["rows_loaded"] == 1  # An Giang's
    assert query(settings, "SELECT check_name, unit_code FROM dq_result WHERE NOT success") == [
        ("configured_unit_id_known", "11")]


def test_refused_and_failed_answers_are_kept_in_the_raw_zone(simulator, settings) -> None:
    sim = simulator({"rate_limit": 1, "server_error": 1}, retry_after=0.01)
    ref = FetchRef.from_dict(steps.extract("portal_score", Period.parse("2026-02"),
                                           fast_config(sim.url), settings))
    metas = [json.loads(p.read_text()) for p in
             sorted(Path(ref.path, "responses").glob("*.meta.json"))]
    assert [m["status"] for m in metas[:3]] == [429, 500, 200]
    assert metas[0]["headers"]["Retry-After"] == "0.01"
    for meta in metas[:2]:
        body = Path(ref.path, "responses", f"{meta['number']:06d}.body").read_bytes()
        assert hashlib.sha256(body).hexdigest() == meta["sha256"] and body
    assert read_manifest(ref.path)["responses"] == len(metas) == 3 + 2


def test_before_the_reorganisation_the_63_provinces_match_and_twin_names_are_ambiguous(
        simulator, settings) -> None:
    """May 2025: the national list holds the 63 provinces of the time; Kiên Giang (then
    91) has communes of one name in two districts, which a name cannot tell apart (here
    without the overrides config/units/overrides.csv ships for the simulator's twins)."""
    import dataclasses
    import shutil

    from steps.reference import refresh_reference

    config = settings.data_dir.parent / "config"
    shutil.copytree(settings.config_dir, config)
    overrides = config / "units" / "overrides.csv"
    overrides.write_text("".join(line for line in overrides.read_text(encoding="utf-8")
                                 .splitlines(True) if not line.startswith("legacy_766,")),
                         encoding="utf-8")
    shipped, settings = settings, dataclasses.replace(settings, config_dir=config)
    refresh_reference(settings)  # dim_unit, as every DAG run's opening task fills it
    sim = simulator(published_through=Month(2025, 6))
    period = Period.parse("2025-05")
    result = run(period, sim, settings)
    truth = served(sim, period, ["91", "11"])
    provinces = query(settings, "SELECT count(*) FROM fact_portal_score f JOIN dim_unit u "
                                "ON u.unit_code = f.unit_code AND u.valid_to = DATE "
                                "'2025-07-01' WHERE f.unit_level = 'province'")
    assert provinces == [(63,)]
    issues = query(settings, "SELECT problem, unit_name, candidates FROM unit_match_issue")
    twins = {}
    for code, unit in truth.items():  # the simulator's communes whose name is not unique
        if unit["level"] == "commune" and unit["scope"] == "91":
            twins.setdefault(unit["name"], []).append(code)
    twins = {name: sorted(codes) for name, codes in twins.items() if len(codes) > 1}
    assert twins and {(p, c) for p, _, c in issues} == {
        ("ambiguous", ",".join(codes)) for codes in twins.values()}
    assert result["audit"]["rows_quarantined"] == sum(len(c) for c in twins.values())
    # a commune's province is the list it came in, though its parent then was a district
    assert query(settings, "SELECT DISTINCT province_code FROM v_portal_score "
                           "WHERE list_scope = '91'") == [("91",)]

    # the shipped overrides tell each twin apart, as an office's would
    result = run(period, sim, shipped)
    assert result["audit"]["rows_quarantined"] == 0
    assert query(shipped, "SELECT count(*) FROM unit_match_issue WHERE period_id = 202505"
                 ) == [(0,)]
    matched = dict(query(shipped, "SELECT unit_code, matched_by FROM unit_source_id "
                                  "WHERE scheme = 'legacy_766'"))
    assert {matched[code] for codes in twins.values() for code in codes} == {"override"}
