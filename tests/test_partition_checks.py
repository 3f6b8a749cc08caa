"""Severity per check, and checks against the partition before.

- critical: the partition is not published; the last good one stays visible and every new
  row waits in quarantine, then loads after a rerun once the cause is fixed;
- history (warning): month-over-month jumps beyond the registry's factor, units missing
  from a month they were in (but not units the 2025 reorganisation ended).
Expected values are worked out by hand from the rows written here.
"""

from __future__ import annotations

import dataclasses
import json

import pyarrow as pa
import pytest
import sqlalchemy as sa

from domain.periods import Month
from expectations.history import history_outcomes, jumped, previous_period
from expectations.outcomes import held_share, rejection
from registry.datasets import History
from registry.settings import Settings
from steps.reference import refresh_reference
from warehouse.engine import transaction
from warehouse.publish import PartitionLoad, PartitionRejected, load_partition
from warehouse.schema import dq_result, fact_portal_score, load_audit, quarantine_row


def test_a_jump_is_beyond_the_factor_either_way_from_a_large_enough_base() -> None:
    assert jumped(100, 301, 3, 20) and jumped(301, 100, 3, 20)
    assert not jumped(100, 300, 3, 20)          # exactly tripled: not beyond
    assert not jumped(2, 19, 3, 20)             # both under the base
    assert jumped(0, 20, 3, 20) and not jumped(0, 19, 3, 20)
    assert str(previous_period(Month(2026, 1))) == "2025-12"


def test_history_outcomes_name_each_unit_that_jumped_or_went_missing() -> None:
    history = History(measures=("received",), factor=3, min_base=20)
    previous = {"A": {"received": 300}, "B": {"received": 50}, "C": {"received": 10},
                "D": {"received": 40}, "E": {"received": 5}}
    current = {"A": {"received": 90}, "B": {"received": 140}, "C": {"received": 31},
               "F": {"received": 500}}
    outcomes = history_outcomes(current, previous, history, previous_label="2026-02",
                                still_valid=lambda unit: unit != "E")
    by = {(o.check_name, o.unit_code): o for o in outcomes}
    # A: 300 -> 90 (3.33-fold); B: 50 -> 140 (2.8, no); C: 10 -> 31 (3.1, from >= 20)
    jump = by[("jump:received", None)]
    assert (jump.success, jump.element_count, jump.unexpected_count) == (False, 3, 2)
    assert {u for c, u in by if c == "jump:received" and u} == {"A", "C"}
    assert json.loads(jump.details)["sample"][0] == {"unit_code": "A", "previous": 300,
                                                     "current": 90}
    # D and E had rows and have none; E no longer exists; F is new (not compared)
    missing = by[("units_missing", None)]
    assert (missing.success, missing.unexpected_count) == (False, 1)
    assert ("units_missing", "D") in by and ("units_missing", "E") not in by
    assert all(o.severity == "warning" for o in outcomes)
    assert history_outcomes(current, {}, history, previous_label="x",
                            still_valid=bool) == []


def test_the_share_of_held_rows_is_a_critical_check() -> None:
    assert held_share(10, 5, 0.5).success and not held_share(10, 6, 0.5).success
    assert held_share(0, 0, 0.5).success
    failed = held_share(10, 6, 0.5)
    assert failed.severity == "critical"
    assert rejection([failed]) == ("6 of 10 rows failed error-level checks, more than the "
                                   "50% allowed")


def score_load(settings: Settings, month: Month, scores: dict[str, float], run: str,
               **changes) -> PartitionLoad:
    entry = settings.registry["portal_score"]
    facts = pa.table({"unit_code": list(scores),
                      "total_score": pa.array(list(scores.values()), pa.float64()),
                      "source_api": ["legacy_gateway"] * len(scores)})
    return dataclasses.replace(PartitionLoad(
        dataset=entry, source="national_portal", month=month, fetch_id=f"f-{run}",
        run_id=run, rows_in=len(scores), raw_sha256="0" * 64, facts=facts,
        partition={"period_id": month.period_id}), **changes)


def failed_checks(settings: Settings, run: str) -> set[tuple[str, str | None]]:
    with transaction(settings.warehouse_url) as conn:
        return {(r.check_name, r.unit_code) for r in conn.execute(
            sa.select(dq_result.c.check_name, dq_result.c.unit_code)
            .where(dq_result.c.run_id == run, sa.not_(dq_result.c.success)))}


def test_a_load_records_jumps_and_missing_units_against_the_month_before(
        settings: Settings) -> None:
    refresh_reference(settings)  # dim_unit: which units each month's hierarchy has
    feb, mar = Month(2026, 2), Month(2026, 3)
    load_partition(score_load(settings, feb, {"91": 80, "04": 60, "11": 30, "01": 50}, "r1"),
                   settings.warehouse_url)
    assert failed_checks(settings, "r1") == set()  # nothing before February
    load_partition(score_load(settings, mar, {"91": 35, "04": 70, "11": 10}, "r2"),
                   settings.warehouse_url)
    # portal_score: factor 2 from 20 (config/datasets.yaml). 91: 80 -> 35 (2.29-fold);
    # 04: 60 -> 70 (no); 11: 30 -> 10 (3-fold); 01 (Hà Nội) listed in February only
    assert failed_checks(settings, "r2") == {
        ("jump:total_score", None), ("jump:total_score", "91"), ("jump:total_score", "11"),
        ("units_missing", None), ("units_missing", "01")}


def test_units_the_reorganisation_ended_are_not_missing(settings: Settings) -> None:
    refresh_reference(settings)
    june, july = Month(2025, 6), Month(2025, 7)
    # 89 (An Giang before 1 July 2025) became part of 91; 01 lives on
    load_partition(score_load(settings, june, {"89": 50, "01": 50, "91": 50}, "r1"),
                   settings.warehouse_url)
    load_partition(score_load(settings, july, {"91": 55}, "r2"), settings.warehouse_url)
    assert failed_checks(settings, "r2") == {("units_missing", None), ("units_missing", "01")}


def test_a_critical_failure_keeps_the_last_good_partition_and_holds_the_new_rows(
        settings: Settings) -> None:
    """A critical check failing at load (here: a rejected validation) writes quarantine,
    results and audit, not the facts; a rerun once fixed publishes the new rows."""
    refresh_reference(settings)
    mar = Month(2026, 3)
    load_partition(score_load(settings, mar, {"91": 80, "04": 60}, "r1"),
                   settings.warehouse_url)
    new = {"91": 81, "04": 61, "11": 40}
    held = pa.table({"unit_code": list(new), "total_score": list(new.values()),
                     "reasons": ["partition rejected: the answer covers 2026-02"] * 3})
    failing = score_load(settings, mar, new, "r2", quarantined=held, rejected=None,
                         outcomes=[held_share(3, 3, 0.5)])
    with pytest.raises(PartitionRejected, match="3 of 3 rows failed error-level checks"):
        load_partition(failing, settings.warehouse_url)
    with transaction(settings.warehouse_url) as conn:
        visible = dict(conn.execute(sa.select(fact_portal_score.c.unit_code,
                                              fact_portal_score.c.total_score)).fetchall())
        waiting = sorted(json.loads(r.row_json)["total_score"] for r in conn.execute(
            sa.select(quarantine_row.c.row_json).where(quarantine_row.c.run_id == "r2")))
        status = conn.execute(sa.select(load_audit.c.status).where(
            load_audit.c.run_id == "r2")).scalar_one()
    assert {k: float(v) for k, v in visible.items()} == {"91": 80.0, "04": 60.0}
    assert waiting == [40, 61, 81] and status == "rejected"
    assert failed_checks(settings, "r2") == {("rows_held_share", None)}
    # fixed: the rerun publishes the rows, and its partition's quarantine is empty again
    load_partition(score_load(settings, mar, new, "r3"), settings.warehouse_url)
    with transaction(settings.warehouse_url) as conn:
        visible = dict(conn.execute(sa.select(fact_portal_score.c.unit_code,
                                              fact_portal_score.c.total_score)).fetchall())
        left = conn.execute(sa.select(sa.func.count()).select_from(quarantine_row)
                            ).scalar_one()
    assert {k: float(v) for k, v in visible.items()} == {k: float(v) for k, v in new.items()}
    assert left == 0


def test_a_rejected_answer_leaves_the_last_good_scores_and_a_rerun_once_fixed_loads(
        simulator, settings: Settings) -> None:
    """The national portal's steps end to end: a good load of 2026-YTD03; then an answer
    covering another period (critical): rejected, the good scores stay, every row of the
    new answer waits in quarantine; the source fixed, a rerun publishes it."""
    from domain.periods import Period
    from steps import national_portal as steps
    from tests.conftest import fast_config

    period = Period.parse("2026-YTD03")
    good, stale = simulator(published_through=Month(2026, 3)), simulator(
        {"stale_period": 1}, published_through=Month(2026, 3))

    def run(sim, run_id: str) -> dict:
        ref = steps.extract("portal_score", period, fast_config(sim.url), settings)
        validated = steps.validate(ref, settings)
        return {**validated, "audit": steps.load(validated, run_id, settings)}

    def table(sql: str) -> list[tuple]:
        with transaction(settings.warehouse_url) as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql))]

    first = run(good, "r1")["audit"]
    scores = table("SELECT unit_code, total_score, run_id FROM fact_portal_score "
                   "ORDER BY unit_code")
    assert first["status"] == "loaded" and len(scores) == first["rows_loaded"] > 0
    with pytest.raises(PartitionRejected, match="covers 2026-YTD02; 2026-YTD03"):
        run(stale, "r2")
    assert table("SELECT unit_code, total_score, run_id FROM fact_portal_score "
                 "ORDER BY unit_code") == scores  # the last good version, still visible
    (rows_in,), = table("SELECT rows_in FROM load_audit WHERE run_id = 'r2'")
    assert table("SELECT count(*), min(reasons) FROM quarantine_row WHERE run_id = 'r2'") == [
        (rows_in, "partition rejected: the answer covers 2026-YTD02; 2026-YTD03 was asked "
                  "for")]
    fixed = run(good, "r3")["audit"]
    assert fixed["status"] == "loaded" and fixed["rows_loaded"] == first["rows_loaded"]
    assert table("SELECT DISTINCT run_id FROM fact_portal_score") == [("r3",)]
    assert table("SELECT count(*) FROM quarantine_row WHERE period_id = 202643") == [(0,)]


def test_results_a_critical_check_rejects_are_held_and_what_is_made_from_them_is_not_written(
        settings: Settings) -> None:
    """A critical check of computed results (scores above their maximum): the criterion
    rows wait in quarantine, and what a load would also write from them is not written."""
    from expectations.outcomes import CheckOutcome

    refresh_reference(settings)
    mar = Month(2026, 3)
    also_ran = []
    broken = CheckOutcome("points_within_maximum", "points", "critical", False, 2, 1,
                          "a criterion above its maximum")
    load = score_load(settings, mar, {"91": 80, "04": 60}, "r1", outcomes=[broken],
                      also=also_ran.append, also_if_rejected=False)
    with pytest.raises(PartitionRejected, match="a criterion above its maximum"):
        load_partition(load, settings.warehouse_url)
    with transaction(settings.warehouse_url) as conn:
        facts = conn.execute(sa.select(sa.func.count()).select_from(fact_portal_score)
                             ).scalar_one()
        held = sorted((r.unit_code, r.reasons) for r in conn.execute(
            sa.select(quarantine_row.c.unit_code, quarantine_row.c.reasons)))
    assert (facts, also_ran) == (0, [])
    assert held == [("04", "partition rejected: a criterion above its maximum"),
                    ("91", "partition rejected: a criterion above its maximum")]


def test_an_empty_dossier_month_is_not_published(tmp_path) -> None:
    import pyarrow.parquet as pq

    from expectations.sql_rules import run_rules
    from transforms.dossiers import DOSSIER_SCHEMA

    part = tmp_path / "part-00001.parquet"
    pq.write_table(pa.Table.from_pylist([], schema=DOSSIER_SCHEMA), part)
    result = run_rules("dossiers", [part], tmp_path / "good.parquet", tmp_path / "bad.parquet",
                       key="dossier_key", order_by="received_at", max_held_share=0.5)
    assert result.rejected == "no row at all for the partition"
    assert (result.rows_in, result.rows_good) == (0, 0)
