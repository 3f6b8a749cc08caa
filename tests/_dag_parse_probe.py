"""Run in a subprocess by test_dag_integrity: parse the DAG folder, report what it cost
and each DAG's shape (tasks, dependencies, mapping, Assets) as JSON."""

import json
import sys
import time

from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import BaseHook

reads: list[str] = []


def _refuse(cls: type, conn_id: str) -> None:
    reads.append(conn_id)
    raise RuntimeError(f"connection {conn_id} read at parse time")


def _expansion(expand_input: object) -> dict[str, object]:
    """What a mapped task or task group expands over: a literal list, or the task whose
    output it maps over."""
    out: dict[str, object] = {}
    for name, value in getattr(expand_input, "value", {}).items():
        operator = getattr(value, "operator", None)
        out[name] = {"from_task": operator.task_id} if operator is not None else value
    return out


def _task(task: object) -> dict[str, object]:
    group = task.get_closest_mapped_task_group()
    mapped = hasattr(task, "_get_specified_expand_input")
    return {
        "upstream": sorted(task.upstream_task_ids),
        "trigger_rule": getattr(task.trigger_rule, "value", str(task.trigger_rule)),
        "outlets": [o.uri for o in task.outlets],
        "mapped_over": _expansion(task._get_specified_expand_input()) if mapped else None,
        "mapped_group": group.group_id if group else None,
        "group_mapped_over": _expansion(group._expand_input) if group else None,
        "execution_timeout": str(task.execution_timeout) if task.execution_timeout else None,
        "pool": task.pool,
        "on_failure": _callbacks(task.on_failure_callback),
    }


def _callbacks(callbacks: object) -> list[str]:
    found = callbacks if isinstance(callbacks, list) else [callbacks] if callbacks else []
    return [type(c).__name__ for c in found]


def _assets(condition: object) -> dict[str, list[str]] | None:
    """An asset condition as {"any" | "all": [URIs]} (one level, as our DAGs use)."""
    if condition is None or not hasattr(condition, "objects"):  # none, or a null asset
        return None
    kind = "any" if type(condition).__name__ == "AssetAny" else "all"
    return {kind: sorted(a.uri for a in condition.objects)}


BaseHook.get_connection = classmethod(_refuse)
# Airflow itself imports sqlalchemy and tenacity; these are ours to keep out of parsing.
HEAVY = ["pandas", "numpy", "pyarrow", "great_expectations", "duckdb", "psycopg", "requests",
         "sources", "warehouse", "expectations", "steps", "transforms", "marts"]
started = time.monotonic()
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({
    "dags": sorted(bag.dags),
    "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
    "heavy_loaded": [m for m in HEAVY if m in sys.modules],
    "connection_reads": reads,
    "parse_seconds": time.monotonic() - started,
    "tasks": {d.dag_id: {t.task_id: _task(t) for t in d.tasks} for d in bag.dags.values()},
    "catchup": {d.dag_id: d.catchup for d in bag.dags.values()},
    "timetable": {d.dag_id: type(d.timetable).__name__ for d in bag.dags.values()},
    "schedule_assets": {d.dag_id: _assets(getattr(d.timetable, "asset_condition", None))
                        for d in bag.dags.values()},
    "params": {d.dag_id: sorted(d.params) for d in bag.dags.values()},
    "dagrun_timeout": {d.dag_id: str(d.dagrun_timeout) for d in bag.dags.values()},
    "on_failure": {d.dag_id: _callbacks(d.on_failure_callback) for d in bag.dags.values()},
    "max_active_runs": {d.dag_id: d.max_active_runs for d in bag.dags.values()},
}))
