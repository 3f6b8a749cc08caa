"""Every DAG file imports cleanly, cheaply and without touching connections, and its shape
(task groups, dependencies, mapping, Assets) is what the dataset registry says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from commands.embedded_airflow import DAGS_DIR, airflow_environment
from registry.settings import load_registry

PROBE = Path(__file__).with_name("_dag_parse_probe.py")
REGISTRY = load_registry()
OPENING = {"partition", "migrate_warehouse", "refresh_reference"}


@pytest.fixture(scope="module")
def parsed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    home = tmp_path_factory.mktemp("airflow_home")
    env = {**os.environ, **airflow_environment(home)}
    out = subprocess.run([sys.executable, str(PROBE), str(DAGS_DIR)], env=env, check=True,
                         capture_output=True, text=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def asset(name: str) -> str:
    return f"reformstats://warehouse/{REGISTRY[name].table}"


def test_every_dag_file_imports_without_errors(parsed: dict) -> None:
    assert parsed["import_errors"] == {}
    assert len(parsed["dags"]) == len(list(DAGS_DIR.glob("*.py")))


def test_parsing_imports_nothing_heavy_and_reads_no_connection(parsed: dict) -> None:
    assert parsed["heavy_loaded"] == []
    assert parsed["connection_reads"] == []


def test_every_dag_migrates_the_warehouse_before_anything_writes_to_it(parsed: dict) -> None:
    for dag_id, tasks in parsed["tasks"].items():
        if dag_id == "refresh_nightly":  # only triggers the monthly DAGs' runs
            assert "migrate_warehouse" not in tasks
            assert not [t for t, v in tasks.items() if v["outlets"]]
            continue
        assert tasks["migrate_warehouse"]["upstream"] == [], dag_id
        writers = [t for t, v in tasks.items() if v["outlets"]]
        if dag_id == "alerts_hourly":  # reads facts, writes only its own state
            assert not writers
            continue
        assert tasks["refresh_reference"]["upstream"] == ["migrate_warehouse"], dag_id
        assert writers, dag_id
        for writer in writers:  # every load waits (through its group) for the reference
            chain, seen = [writer], set()
            while chain:
                task = chain.pop()
                seen.add(task)
                chain += [u for u in tasks[task]["upstream"] if u not in seen]
            assert "refresh_reference" in seen, (dag_id, writer)


def test_every_task_and_dag_run_has_the_deadline_of_config_runtime_yaml(parsed: dict) -> None:
    # config/runtime.yaml: 90-minute tasks, 12-hour DAG runs
    for dag_id, tasks in parsed["tasks"].items():
        # alerts_hourly: one run at a time, so a hung one gives way within the hour
        assert parsed["dagrun_timeout"][dag_id] == (
            "0:45:00" if dag_id == "alerts_hourly" else "12:00:00")
        assert {t["execution_timeout"] for t in tasks.values()} == {"1:30:00"}, dag_id


def test_every_task_and_every_run_alerts_ops_through_the_one_notifier(parsed: dict) -> None:
    for dag_id, tasks in parsed["tasks"].items():
        assert parsed["on_failure"][dag_id] == ["OpsNotifier"], dag_id
        assert {tuple(t["on_failure"]) for t in tasks.values()} == {("OpsNotifier",)}, dag_id


def test_alerts_run_hourly_and_after_every_load_one_run_at_a_time(parsed: dict) -> None:
    assert parsed["timetable"]["alerts_hourly"] == "AssetOrTimeSchedule"
    assert parsed["schedule_assets"]["alerts_hourly"] == {
        "any": sorted(asset(d.name) for d in REGISTRY if d.table and d.enabled)}
    assert parsed["max_active_runs"]["alerts_hourly"] == 1
    tasks = parsed["tasks"]["alerts_hourly"]
    assert tasks["open_alerts"]["upstream"] == ["migrate_warehouse"]
    assert tasks["deliver"]["upstream"] == ["open_alerts"]


def test_the_nightly_refresh_runs_each_fact_dag_for_its_months(parsed: dict) -> None:
    assert parsed["timetable"]["refresh_nightly"] == "CronTriggerTimetable"
    assert parsed["max_active_runs"]["refresh_nightly"] == 1
    tasks = parsed["tasks"]["refresh_nightly"]
    refreshed = ("refresh_national_portal_monthly", "refresh_onestop_monthly",
                 "refresh_eoffice_monthly")
    assert set(tasks) == {"months_to_refresh", *refreshed}
    for name in refreshed:
        assert tasks[name]["mapped_over"] == {
            "logical_date": {"from_task": "months_to_refresh"}}


def test_monthly_dags_use_real_intervals_and_explicit_catchup(parsed: dict) -> None:
    for dag_id in ("national_portal_monthly", "onestop_monthly", "eoffice_monthly"):
        assert parsed["timetable"][dag_id] == "VietnamMonths"
    assert all(catchup is False for catchup in parsed["catchup"].values())


def test_national_portal_dag_maps_one_group_per_dataset_over_its_periods(parsed: dict) -> None:
    tasks = parsed["tasks"]["national_portal_monthly"]
    datasets = [d.name for d in REGISTRY.of_source("national_portal", kind="fact")]
    assert datasets
    assert set(tasks) == OPENING | {f"periods_{d}" for d in datasets} | {
        f"{d}.{step}" for d in datasets for step in ("extract", "validate", "load")}
    for name in datasets:
        extract, validate, load = (tasks[f"{name}.{s}"] for s in ("extract", "validate",
                                                                  "load"))
        # each dataset on its own: no other dataset's task is upstream of its group
        assert extract["upstream"] == sorted(["refresh_reference", f"periods_{name}"])
        assert validate["upstream"] == [f"{name}.extract"]
        assert load["upstream"] == [f"{name}.validate"]
        assert load["outlets"] == [asset(name)]
        for task in (extract, validate, load):
            assert task["mapped_group"] == name
            assert task["group_mapped_over"] == {"period": {"from_task": f"periods_{name}"}}
        assert tasks[f"periods_{name}"]["upstream"] == ["partition"]


def test_onestop_dag_maps_one_group_per_province(parsed: dict) -> None:
    tasks = parsed["tasks"]["onestop_monthly"]
    group = {t: v for t, v in tasks.items() if t.startswith("province.")}
    assert set(tasks) - set(group) == OPENING | {"provinces"}
    assert set(group) == {"province.extract_dossiers", "province.extract_aggregates",
                          "province.validate_dossiers", "province.load_month"}
    for task in group.values():
        assert task["mapped_group"] == "province"
        assert task["group_mapped_over"] == {"province": {"from_task": "provinces"}}
    assert group["province.validate_dossiers"]["upstream"] == ["province.extract_dossiers"]
    assert group["province.load_month"]["upstream"] == [
        "province.extract_aggregates", "province.validate_dossiers"]
    assert group["province.load_month"]["outlets"] == [asset("dossiers")]
    for name in ("province.extract_dossiers", "province.extract_aggregates"):
        assert group[name]["upstream"] == ["partition", "provinces", "refresh_reference"]
    # the two source datasets of the registry are what the group extracts
    assert {d.name for d in REGISTRY.of_source("onestop")} == {"dossiers", "aggregates"}


def test_eoffice_dags_map_provinces_and_files_and_publish_the_documents_asset(
        parsed: dict) -> None:
    tasks = parsed["tasks"]["eoffice_monthly"]
    group = {t: v for t, v in tasks.items() if t.startswith("province.")}
    assert set(tasks) - set(group) == OPENING | {"provinces"}
    assert group["province.validate"]["upstream"] == ["province.extract"]
    assert group["province.load"]["upstream"] == ["province.validate"]
    assert group["province.load"]["outlets"] == [asset("documents")]
    for task in group.values():
        assert task["group_mapped_over"] == {"province": {"from_task": "provinces"}}
    inbox = parsed["tasks"]["eoffice_inbox"]
    assert parsed["timetable"]["eoffice_inbox"] == "CronTriggerTimetable"
    assert parsed["max_active_runs"]["eoffice_inbox"] == 1
    assert inbox["take_file"]["mapped_over"] == {"path": {"from_task": "pending_files"}}
    assert inbox["take_file"]["outlets"] == [asset("documents")]
    assert "refresh_reference" in inbox["pending_files"]["upstream"]


def test_marts_dag_runs_on_the_assets_of_its_registry_inputs(parsed: dict) -> None:
    indicators, scores = REGISTRY["indicators"], REGISTRY["scores"]
    assert parsed["timetable"]["marts_monthly"] == "AssetTriggeredTimetable"
    # the facts of both marts' inputs; the indicators are made in the same run
    outside = {*indicators.inputs, *scores.inputs} - {"indicators"}
    assert "portal_score" in outside
    assert parsed["schedule_assets"]["marts_monthly"] == {
        "any": sorted(asset(name) for name in outside)}
    tasks = parsed["tasks"]["marts_monthly"]
    build = tasks["build_indicators"]
    assert build["mapped_over"] == {"month": {"from_task": "months"}}
    assert build["upstream"] == ["months", "refresh_reference"]
    assert build["outlets"] == [asset("indicators")]
    score = tasks["score"]
    assert score["mapped_over"] == {"month": {"from_task": "months"}}
    assert score["upstream"] == ["build_indicators", "months"]
    assert score["outlets"] == [asset("scores")]
    assert tasks["report"]["mapped_over"] == {"month": {"from_task": "months"}}
    assert tasks["report"]["upstream"] == ["months", "score"]
    assert parsed["params"]["marts_monthly"] == ["month"]


def test_every_loaded_dataset_is_published_by_the_task_of_each_channel_loading_it(
        parsed: dict) -> None:
    published: dict[str, list[str]] = {}
    for dag_id, dag in parsed["tasks"].items():
        for task_id, task in dag.items():
            for uri in task["outlets"]:
                published.setdefault(uri, []).append(f"{dag_id}.{task_id}")
    loaded = [asset(d.name) for d in REGISTRY if d.table and d.enabled]
    assert sorted(published) == sorted(loaded)
    # one loading task each; e-office documents come by API or by a dropped file
    assert {uri: tasks for uri, tasks in published.items() if len(tasks) > 1} == {
        asset("documents"): ["eoffice_inbox.take_file", "eoffice_monthly.province.load"]}


def test_portal_extracts_of_every_run_share_one_pool_that_the_commands_create(
        parsed: dict) -> None:
    from commands.embedded_airflow import pools

    # config/sources.yaml: one slot, so the portal sees one client at ~1 request/s
    assert pools() == [("national_portal", 1, pools()[0][2])]
    used = {(dag_id, name): task["pool"] for dag_id, tasks in parsed["tasks"].items()
            for name, task in tasks.items()}
    portal = {name for (dag_id, name), pool in used.items() if pool == "national_portal"}
    assert portal == {f"{d.name}.extract"
                      for d in REGISTRY.of_source("national_portal", kind="fact")}
    assert set(used.values()) == {"default_pool", "national_portal"}  # no pool nobody makes
