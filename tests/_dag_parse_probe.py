"""Run in a subprocess by test_dag_integrity: parse the DAG folder, report what it cost."""

import json
import sys
import time

from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import BaseHook

reads: list[str] = []


def _refuse(cls: type, conn_id: str) -> None:
    reads.append(conn_id)
    raise RuntimeError(f"connection {conn_id} read at parse time")


BaseHook.get_connection = classmethod(_refuse)
# Airflow itself imports sqlalchemy and tenacity; these are ours to keep out of parsing.
HEAVY = ["pandas", "numpy", "pyarrow", "great_expectations", "duckdb", "psycopg", "requests",
         "sources", "warehouse", "expectations"]
started = time.monotonic()
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({
    "dags": sorted(bag.dags),
    "import_errors": {k: str(v) for k, v in bag.import_errors.items()},
    "heavy_loaded": [m for m in HEAVY if m in sys.modules],
    "connection_reads": reads,
    "parse_seconds": time.monotonic() - started,
    "tasks": {d.dag_id: sorted(d.task_ids) for d in bag.dags.values()},
    "catchup": {d.dag_id: d.catchup for d in bag.dags.values()},
    "timetable": {d.dag_id: type(d.timetable).__name__ for d in bag.dags.values()},
}))
