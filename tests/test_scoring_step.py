"""The scoring step on a real DuckDB warehouse: facts written by hand, points and ranks
worked out by hand (in the comments), periods from their own inputs, a new rule-set
version rescoring its year only, the latest manual round counting, and the 766 gap."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from domain.periods import Month, Period
from registry.settings import Settings
from transforms.dossiers import COUNTER_COLUMNS
from warehouse.engine import transaction
from warehouse.schema import (
    fact_dossier_monthly,
    fact_manual_points,
    fact_portal_metric,
    fact_portal_score,
)

A, B, C = "30313", "30307", "30292"  # three communes of An Giang (91) from 1 July 2025
NOW = dt.datetime(2026, 4, 2, tzinfo=dt.UTC)

RULE_SET = """\
scheme: test_commune
version: "{version}"
name_vi: Bộ thử cấp xã
name_en: Test commune set
level: commune
provinces: ["91"]
valid_from: {valid_from}
valid_to: {valid_to}
period_types: [month, quarter, year]
max_points: 10
classification:
  - {{code: tot, name_vi: Tốt, name_en: Good, min_percent: 90}}
  - {{code: kha, name_vi: Khá, name_en: Fair, min_percent: 80}}
fields:
  - code: "1"
    name_vi: Cải cách TTHC
    name_en: Procedure reform
    max_points: 10
    criteria:
      - code: "1.1"
        name_vi: Giải quyết hồ sơ
        name_en: Dossier handling
        max_points: 10
        sub_criteria:
          - {{code: "1.1.1", name_vi: Đúng hạn, name_en: On time, max_points: {on_time},
             source: {{indicator: on_time_rate}}, method: linear}}
          - {{code: "1.1.2", name_vi: Đúng hạn kể cả đang giải quyết, name_en: With in progress,
             max_points: 2, source: {{indicator: on_time_rate_with_in_progress}},
             method: linear}}
          - {{code: "1.1.3", name_vi: Tự chấm, name_en: Self-assessed, max_points: {manual},
             source: manual, method: manual}}
"""
V2025 = dict(version="2025", valid_from="2025-07-01", on_time=4, manual=4)
V2026 = dict(version="2026", valid_from="2026-01-01", valid_to="null", on_time=6, manual=2)

# (resolved, early, on time, in progress on time, in progress overdue) per unit and month
COUNTERS = {
    A: {"2025-12": (10, 0, 8, 0, 0), "2026-01": (10, 2, 7, 20, 1),
        "2026-02": (10, 0, 10, 4, 0), "2026-03": (20, 5, 14, 0, 4)},
    B: {"2025-12": (10, 0, 10, 0, 0), "2026-01": (10, 0, 10, 0, 0),
        "2026-02": (10, 0, 10, 0, 0), "2026-03": (20, 0, 20, 0, 0)},
}


def dossier_row(unit: str, month: str, counts: tuple[int, ...]) -> dict[str, Any]:
    resolved, early, on_time, in_progress_on_time, overdue = counts
    row = dict.fromkeys(COUNTER_COLUMNS, 0)
    row.update(resolved_total=resolved, resolved_early=early, resolved_on_time=on_time,
               resolved_late=resolved - early - on_time, received_total=resolved,
               in_progress_on_time=in_progress_on_time, in_progress_overdue=overdue)
    return {**row, "unit_code": unit, "procedure_code": "1.001193",
            "period_id": Month.parse(month).period_id, "province_code": "91",
            "source": "onestop_91", "fetch_id": f"f-{month}", "run_id": "test", "loaded_at": NOW}


def manual_row(unit: str, round_name: str, points: float, version: str = "2026",
               year: int = 2026) -> dict[str, Any]:
    return {"scheme": "test_commune", "version": version,
            "period_id": Period("year", year, 0).period_id, "unit_code": unit,
            "criterion_code": "1.1.3", "round": round_name, "points": points,
            "evidence": "QĐ 12/QĐ-UBND", "entered_by": "test", "source_file": "x.xlsx",
            "file_sha256": "0" * 64, "row_number": 5, "imported_at": NOW}


def write_rule_sets(settings: Settings, *versions: dict[str, Any]) -> None:
    folder = settings.schemes_dir / "test_commune"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.yaml"):
        old.unlink()
    for version in versions:
        (folder / f"{version['version']}.yaml").write_text(
            RULE_SET.format(**{"valid_to": "null", **version}), encoding="utf-8")


@pytest.fixture()
def scored(own_config) -> Settings:
    from steps.reference import refresh_reference

    settings = own_config()
    write_rule_sets(settings, {**V2025, "valid_to": "2026-01-01"}, V2026)
    refresh_reference(settings)
    with transaction(settings.warehouse_url) as conn:
        conn.execute(sa.insert(fact_dossier_monthly), [
            dossier_row(unit, month, counts) for unit, months in COUNTERS.items()
            for month, counts in months.items()])
        conn.execute(sa.insert(fact_manual_points), [
            manual_row(A, "self_assessment", 2.0), manual_row(A, "appraisal_1", 1.5),
            manual_row(B, "self_assessment", 1.5), manual_row(C, "self_assessment", 2.0)])
    return settings


def results(settings: Settings, period: str) -> dict[str, tuple]:
    with transaction(settings.warehouse_url) as conn:
        rows = conn.execute(sa.text(
            "SELECT unit_code, version, total_points, class_code, peer_rank, peer_count, "
            "criteria_without_input FROM fact_scheme_result WHERE scheme = 'test_commune' "
            "AND period_id = :p"), {"p": Period.parse(period).period_id})
        return {r[0]: tuple(r[1:]) for r in rows}


def points(settings: Settings, period: str, unit: str) -> dict[str, tuple]:
    with transaction(settings.warehouse_url) as conn:
        rows = conn.execute(sa.text(
            "SELECT criterion_code, points, origin, round, note FROM fact_criterion_score "
            "WHERE scheme = 'test_commune' AND period_id = :p AND unit_code = :u"),
            {"p": Period.parse(period).period_id, "u": unit})
        return {r[0]: tuple(r[1:]) for r in rows}


def test_a_quarter_is_scored_from_its_own_summed_inputs(scored: Settings) -> None:
    from steps.scoring import score

    score(Period.parse("2026-Q1"), "run-1", scored)
    # A: on time (9 + 10 + 19) / (10 + 10 + 20) = 0.95 -> 0.95 * 6 = 5.7
    #    with in progress: stocks at the end of March only: (38 + 0) / (40 + 0 + 4)
    #    = 0.8636 -> * 2 = 1.727 -> 1.73 (summing the months' stocks would give 1.80)
    #    manual: appraisal_1 1.5 replaces the self-assessed 2.0 (the year's points apply)
    assert points(scored, "2026-Q1", A) == {
        "1.1.1": (5.7, "computed", None, None), "1.1.2": (1.73, "computed", None, None),
        "1.1.3": (1.5, "manual", "appraisal_1", None)}
    # B: 6 + 2 + 1.5 = 9.5 (tốt, 95 %); A 5.7 + 1.73 + 1.5 = 8.93 (khá);
    # C: no dossier row in a province whose system reported the quarter: it received and
    #    resolved nothing (0 / 0, not scored by default), self-assessed 2.0 -> 2.0
    assert results(scored, "2026-Q1") == {B: ("2026", 9.5, "tot", 1, 3, 0),
                                          A: ("2026", 8.93, "kha", 2, 3, 0),
                                          C: ("2026", 2.0, None, 3, 3, 0)}
    assert points(scored, "2026-Q1", C)["1.1.1"] == (0.0, "computed", None,
                                                     "zero denominator: not scored")


def test_ties_share_a_rank_and_rank_changes_against_the_previous_month(
        scored: Settings) -> None:
    from steps.scoring import score_month

    score_month(Month(2026, 1), "run-1", scored)
    score_month(Month(2026, 2), "run-2", scored)
    # January: A 0.9 * 6 = 5.4; (9 + 20) / (10 + 20 + 1) = 0.9355 * 2 = 1.87; + 1.5 = 8.77
    #          B 6 + 2 + 1.5 = 9.5 -> B 1st, A 2nd
    # February: A 6 + (10 + 4) / (10 + 4) * 2 + 1.5 = 9.5 = B: both 1st; C 3rd
    assert results(scored, "2026-01")[A][1:5] == (8.77, "kha", 2, 3)
    assert {u: r[3] for u, r in results(scored, "2026-02").items()} == {A: 1, B: 1, C: 3}
    with transaction(scored.warehouse_url) as conn:
        change = dict(conn.execute(sa.text(
            "SELECT unit_code, rank_change FROM v_scheme_ranking WHERE scheme = "
            "'test_commune' AND period_label = '2026-02'")).fetchall())
        lost = conn.execute(sa.text(
            "SELECT criterion_code, points_lost, value FROM v_points_lost WHERE scheme = "
            "'test_commune' AND period_label = '2026-01' AND unit_code = :a "
            "ORDER BY criterion_code"), {"a": A}).fetchall()
    assert change == {A: 1, B: 0, C: 0}  # A rose from 2nd to 1st
    # January, A: 1.1.1 lost 6 - 5.4 = 0.6 at 0.9; 1.1.2 lost 0.13; 1.1.3 lost 0.5
    assert [(c, round(p, 2)) for c, p, _ in lost] == [("1.1.1", 0.6), ("1.1.2", 0.13),
                                                      ("1.1.3", 0.5)]
    assert lost[0][2] == pytest.approx(0.9)


def test_a_new_version_from_a_new_year_rescores_that_year_only(scored: Settings) -> None:
    from steps.reference import refresh_reference
    from steps.scoring import score

    write_rule_sets(scored, V2025)  # at first, only the 2025 version, open-ended
    refresh_reference(scored)
    for period in ("2025-12", "2026-01"):
        score(Period.parse(period), "run-1", scored)
    # December with 2025's rules: 0.8 * 4 = 3.2; 0.8 * 2 = 1.6; no 2025 manual points: 0
    december = results(scored, "2025-12")[A]
    assert december[:2] == ("2025", 4.8)
    assert results(scored, "2026-01")[A][0] == "2025"

    write_rule_sets(scored, {**V2025, "valid_to": "2026-01-01"}, V2026)
    refresh_reference(scored)
    for period in ("2025-12", "2026-01"):
        score(Period.parse(period), "run-2", scored)
    assert results(scored, "2025-12")[A] == december  # unchanged
    assert results(scored, "2026-01")[A][:2] == ("2026", 8.77)
    with transaction(scored.warehouse_url) as conn:
        versions = conn.execute(sa.text(
            "SELECT DISTINCT period_id, version FROM fact_criterion_score WHERE scheme = "
            "'test_commune' ORDER BY period_id")).fetchall()
    assert versions == [(202512, "2025"), (202601, "2026")]


def test_rescoring_a_period_replaces_it(scored: Settings) -> None:
    from steps.scoring import score

    first = score(Period.parse("2026-03"), "run-1", scored)
    second = score(Period.parse("2026-03"), "run-2", scored)
    assert first["rows_loaded"] == second["rows_loaded"] > 0
    with transaction(scored.warehouse_url) as conn:
        runs = conn.execute(sa.text("SELECT DISTINCT run_id FROM fact_scheme_result "
                                    "WHERE period_id = 202603")).fetchall()
    assert runs == [("run-2",)]


def test_a_766_gap_above_a_hundredth_is_a_data_quality_result(scored: Settings) -> None:
    from steps.scoring import score

    base = {"period_id": 202603, "source_api": "reporting_api", "fetch_id": "f-766",
            "run_id": "test", "loaded_at": NOW, "unit_level": "province",
            "list_scope": "national"}
    with transaction(scored.warehouse_url) as conn:
        conn.execute(sa.insert(fact_portal_score), [{
            **base, "unit_code": "91", "ckmb": 9.05, "tdgq": 18.0, "clgq": 10.0,
            "tttt": 8.0, "mdhl": 16.0, "mdsh": 20.0, "total_score": 81.05}])
        conn.execute(sa.insert(fact_portal_metric), [
            {**base, "unit_code": "91", "metric_group": "transparency", "metric_code": code,
             "numerator": n, "denominator": d, "ratio": r, "score": s, "max_score": m}
            for code, n, d, r, s, m in [
                # 50/50 * 6 = 6.00 as published; 3/4 * 4 = 3.00, published 3.05
                ("PUBLISH_ON_TIME", 50, 50, 100, 6.0, 6),
                ("PUBLIC_UPDATE_ON_TIME", 3, 4, 75, 3.05, 4),
                # published with maximum 3: the rule set's is 2 (the portal changed a rule)
                ("PUBLIC_CONTENT_FULL", 1, 1, 100, 3.0, 3)]])
    score(Period.parse("2026-03"), "run-1", scored)
    with transaction(scored.warehouse_url) as conn:
        gap = conn.execute(sa.text(
            "SELECT published, recomputed, gap FROM fact_766_reconciliation WHERE "
            "unit_code = '91' AND period_id = 202603 AND code = 'PUBLIC_UPDATE_ON_TIME'"
        )).fetchone()
        dq = conn.execute(sa.text(
            "SELECT unit_code, success FROM dq_result WHERE check_name = "
            "'recomputed_766_matches' AND period_id = 202603 ORDER BY unit_code NULLS FIRST"
        )).fetchall()
        beyond = conn.execute(sa.text(
            "SELECT code FROM v_766_reconciliation WHERE beyond_tolerance AND period_label = "
            "'2026-03' AND level = 'metric' ORDER BY code")).fetchall()
        maxima = conn.execute(sa.text(
            "SELECT unit_code, success, details FROM dq_result WHERE check_name = "
            "'maxima_766_as_published' AND period_id = 202603 AND unit_code = '91'"
        )).fetchone()
        ranked = conn.execute(sa.text(
            "SELECT total_points, ranked_by FROM fact_scheme_result WHERE scheme = '766' "
            "AND unit_code = '91' AND period_id = 202603")).fetchone()
    assert tuple(gap) == (3.05, 3.0, -0.05)
    # 3.0 vs 3.05, and 1/1 * 2 = 2 vs 3.0 published (at the maximum the portal says: 3)
    assert [c for (c,) in beyond] == ["PUBLIC_CONTENT_FULL", "PUBLIC_UPDATE_ON_TIME"]
    assert [tuple(r) for r in dq] == [(None, False), ("91", False)]
    assert tuple(ranked) == (81.05, "published")  # the published total ranks
    assert maxima[1] is False and "PUBLIC_CONTENT_FULL" in maxima[2]


@pytest.mark.parametrize("label", ["2026-03", "2026-Q1"])
def test_the_766_recomputed_from_the_simulators_metrics_reproduces_its_scores(
        simulator, settings, label: str) -> None:
    """Over real HTTP: the portal's published scores and metrics, extracted, validated and
    loaded by the national-portal steps, then recomputed with config/schemes/766."""
    from steps import national_portal as portal
    from steps.reference import refresh_reference
    from steps.scoring import score
    from tests.conftest import fast_config

    sim = simulator()
    period = Period.parse(label)
    refresh_reference(settings)
    for dataset in ("portal_score", "portal_metric"):
        ref = portal.extract(dataset, period, fast_config(sim.url), settings)
        portal.load(portal.validate(ref, settings), "run-1", settings)
    score(period, "run-1", settings)
    with transaction(settings.warehouse_url) as conn:
        levels = {level: (rows, compared, worst) for level, rows, compared, worst in
                  conn.execute(sa.text(
                      "SELECT level, count(*), count(gap), max(abs(gap)) FROM "
                      "fact_766_reconciliation WHERE period_id = :p GROUP BY level"),
                      {"p": period.period_id})}
        units = conn.execute(sa.text(
            "SELECT count(DISTINCT unit_code) FROM fact_portal_metric WHERE period_id = :p"),
            {"p": period.period_id}).scalar()
        failed = conn.execute(sa.text(
            "SELECT count(*) FROM dq_result WHERE check_name = 'recomputed_766_matches' "
            "AND NOT success AND period_id = :p"), {"p": period.period_id}).scalar()
    assert units > 100  # every unit of the covered provinces, and the provinces
    # every unit's total and each recomputable component (4 of 6: CLGQ and TTTT publish
    # no metrics) within the published rounding
    assert levels["total"][:2] == (units, units)
    assert levels["component"][:2] == (6 * units, 4 * units)
    for level, (_, _, worst) in levels.items():
        assert worst <= 0.01 + 1e-9, level
    assert failed == 0


def test_recompute_766_from_answers_saved_by_hand(simulator, tmp_path) -> None:
    """`reformstats scoring recompute-766` on the answers of one province's list, saved as
    an analyst saves them from the portal: no gap; a score changed by hand is found."""
    import json

    import requests
    from typer.testing import CliRunner

    from commands.cli import app

    sim = simulator()
    base = {"timeType": "month", "year": 2026, "month": 3, "currentPage": 1,
            "pageSize": 1000}

    def post(group: str, **body: object) -> dict:
        answer = requests.post(f"{sim.url}/api/v1/reporting/evaluation/{group}",
                               json={**base, **body}, timeout=30)
        answer.raise_for_status()
        return answer.json()

    national = post("service-results", departmentType="ADMINISTRATIVE_UNIT")
    root = next(i["departmentId"] for i in national["data"]["evaluation"]
                if "An Giang" in i["departmentName"])
    files = []
    for group in ("service-results", "transparency", "dossier-digitized",
                  "handling-satisfaction", "dvc-progress-tree", "provide-online-tree",
                  "formality-online-payment-tree"):
        answer = post(group, rootDepartmentId=root, fromDate="2026-03-01",
                      toDate="2026-03-31")
        files.append(tmp_path / f"{group}.json")
        files[-1].write_text(json.dumps(answer, ensure_ascii=False), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["scoring", "recompute-766", *map(str, files),
                                 "--period", "2026-03"])
    assert result.exit_code == 0, result.output
    assert "0 differ by more than 0.01" in result.output
    # An Giang's 12 departments and 102 communes, each scored on four components and total
    assert "114 units" in result.output

    transparency = json.loads(files[1].read_text(encoding="utf-8"))
    metric = transparency["data"]["evaluation"][0]["metrics"][0]
    metric["score"] = round(float(metric["score"]) - 0.05, 2)  # 0.05 below what it should be
    files[1].write_text(json.dumps(transparency, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(app, ["scoring", "recompute-766", *map(str, files),
                                 "--period", "2026-03"])
    assert result.exit_code == 1
    assert metric["code"] in result.output and "0.05" in result.output


def test_a_unit_reported_by_two_provinces_in_a_period_is_one_unit(settings) -> None:
    from warehouse.read import sum_over_months

    rows = [dossier_row(A, "2026-01", (10, 0, 10, 3, 0)),
            {**dossier_row(A, "2026-02", (10, 0, 9, 5, 1)), "province_code": "11"}]
    with transaction(settings.warehouse_url) as conn:
        conn.execute(sa.insert(fact_dossier_monthly), rows)
        got = sum_over_months(conn, "fact_dossier_monthly", ["resolved_total"],
                              ["in_progress_on_time"], [202601, 202602])
    # flows 10 + 10; the stock of February (5), not 3 + 5; February's province
    assert got == [{"unit_code": A, "province_code": "11", "resolved_total": 20,
                    "in_progress_on_time": 5}]


def test_a_revised_month_rescores_the_longer_periods_already_scored(scored: Settings) -> None:
    from steps.scoring import score_month

    score_month(Month(2026, 3), "run-march", scored)  # March, 2026-Q1, 2026-YTD03
    with transaction(scored.warehouse_url) as conn:  # January revised: B resolved 10/10 -> 5
        conn.execute(sa.text("UPDATE fact_dossier_monthly SET resolved_on_time = 5, "
                             "resolved_late = 5 WHERE unit_code = :b AND period_id = 202601"),
                     {"b": B})
    score_month(Month(2026, 1), "run-january", scored)
    with transaction(scored.warehouse_url) as conn:
        runs = conn.execute(sa.text(
            "SELECT period_id, run_id FROM load_audit WHERE dataset = 'scores' "
            "ORDER BY run_id, period_id")).fetchall()
    # January and its year to date; the quarter and March's year to date, scored before;
    # not February (never scored) nor March (does not contain January)
    assert [tuple(r) for r in runs] == [
        (202601, "run-january"), (202621, "run-january"), (202641, "run-january"),
        (202643, "run-january"),
        (202603, "run-march"), (202621, "run-march"), (202643, "run-march")]
    # B in the quarter: on time (5 + 10 + 20) / 40 = 0.875 * 6 = 5.25; with in progress
    # (no stocks) the same 0.875 * 2 = 1.75; + 1.5 manual = 8.5 (was 9.5)
    assert results(scored, "2026-Q1")[B][1] == 8.5


def test_the_ranking_view_compares_with_the_previous_period_and_a_year_earlier(
        settings) -> None:
    from warehouse.schema import fact_scheme_result

    def result(label: str, rank: int, total: float) -> dict[str, Any]:
        return {"scheme": "s", "version": "1", "unit_code": A,
                "period_id": Period.parse(label).period_id, "province_code": "91",
                "unit_level": "commune", "total_points": total, "max_points": 100,
                "percent": total, "class_code": None, "peer_rank": rank, "peer_count": 9,
                "criteria_without_input": 0, "ranked_by": "computed", "run_id": "t",
                "loaded_at": NOW}

    with transaction(settings.warehouse_url) as conn:
        conn.execute(sa.insert(fact_scheme_result), [
            result("2025-01", 7, 70.0), result("2025-12", 4, 80.0), result("2026-01", 2, 85.5),
            result("2025-Q1", 5, 71.0), result("2025-Q4", 6, 75.0), result("2026-Q1", 1, 90.0),
            result("2025-YTD11", 3, 79.0), result("2026-YTD01", 2, 85.5)])
        rows = {r[0]: tuple(r[1:]) for r in conn.execute(sa.text(
            "SELECT period_label, previous_rank, rank_change, points_change, "
            "year_earlier_rank, rank_change_year, points_change_year FROM v_scheme_ranking "
            "WHERE scheme = 's'"))}
    # January 2026: December's 4th -> 2nd (+2, +5.5 points); January 2025's 7th (+5, +15.5)
    assert rows["2026-01"] == (4, 2, 5.5, 7, 5, 15.5)
    # 2026-Q1 after 2025-Q4 (6th -> 1st), a year after 2025-Q1 (5th)
    assert rows["2026-Q1"] == (6, 5, 15.0, 5, 4, 19.0)
    # January's year to date has no previous period (not the year through November)
    assert rows["2026-YTD01"][:3] == (None, None, None)


def postgres_with_march(settings: Settings, pg_url: str) -> Settings:
    """`settings` on the PostgreSQL warehouse at `pg_url`, its reference synced and March
    2026's dossier counters of COUNTERS inserted."""
    from steps.reference import refresh_reference

    pg = Settings(config_dir=settings.config_dir, data_dir=settings.data_dir,
                  warehouse_url=pg_url)
    refresh_reference(pg)
    with transaction(pg_url) as conn:
        conn.execute(sa.insert(fact_dossier_monthly), [
            dossier_row(unit, "2026-03", months["2026-03"])
            for unit, months in COUNTERS.items()])
    return pg


def test_the_shipped_rule_sets_score_on_postgres(settings, pg_url) -> None:
    """The reference sync (every rule set into dim_scheme, dim_criterion: PostgreSQL
    enforces the code lengths DuckDB ignores) and a period's scores, on PostgreSQL."""
    from steps.scoring import score

    pg = postgres_with_march(settings, pg_url)
    audit = score(Period.parse("2026-03"), "run-pg", pg)
    with transaction(pg_url) as conn:
        criteria = conn.execute(sa.text(
            "SELECT count(*) FROM dim_criterion WHERE scheme = 'par_commune_example'")).scalar()
        ranked = dict(conn.execute(sa.text(
            "SELECT unit_code, peer_rank FROM v_scheme_ranking WHERE scheme = "
            "'par_commune_example' AND period_label = '2026-03'")).fetchall())
    assert criteria == 5 + 30 + 92
    assert audit["status"] == "loaded" and audit["rows_quarantined"] == 0
    # A on time 19/20 and B 20/20: B ahead on the computed criteria, nothing else entered
    assert ranked[B] < ranked[A]
