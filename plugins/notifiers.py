"""The one failure notifier every DAG uses (GitLab data-team style).

Where alerts go is configuration (config/alerts.yaml), not code: the ops channel always
logs; a webhook is used when the environment variable named in the config is set. The
message names DAG, task, run, partition and the error type — never connection details.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import yaml

from registry.settings import Settings

log = logging.getLogger("reformstats.alerts")


def _routing(config_dir: Path) -> dict[str, Any]:
    path = config_dir / "alerts.yaml"
    if not path.exists():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def ops_message(context: dict[str, Any]) -> dict[str, Any]:
    """A failure alert for the ops team, built from an Airflow task context."""
    ti = context.get("task_instance") or context.get("ti")
    exc = context.get("exception")
    interval = context.get("data_interval_start")
    return {
        "kind": "task_failed",
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "map_index": getattr(ti, "map_index", None),
        "run_id": context.get("run_id"),
        "try_number": getattr(ti, "try_number", None),
        "partition_start": interval.isoformat() if interval else None,
        # The type and first line only: messages can carry URLs; secrets never reach them
        # (tokens travel in headers), but keep alerts short.
        "error": f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}" if exc else None,
    }


def notify_ops(context: dict[str, Any]) -> None:
    """on_failure_callback for every task of every DAG."""
    message = ops_message(context)
    log.error("ALERT ops %s", json.dumps(message, ensure_ascii=False))
    route = _routing(Settings.from_env().config_dir).get("ops", {})
    webhook_env = route.get("webhook_env")
    url = os.environ.get(webhook_env) if webhook_env else None
    if url:
        import requests

        try:
            requests.post(url, json=message, timeout=10).raise_for_status()
        except requests.RequestException as exc:
            log.error("could not deliver the ops alert to its webhook: %s", type(exc).__name__)
