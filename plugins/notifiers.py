"""The one failure notifier every DAG uses (GitLab data-team style): `OpsNotifier`, an
Airflow `BaseNotifier`, on every task (default_args) and every DAG run (the DAG's own
on_failure_callback), to the ops route of config/alerts.yaml only.

The message names DAG, task, map index, run, try, partition, the error's type and first
line (URL credentials and queries masked) and the log link; it is sent at once through
alerts.run.send_ops (e-mail with the SMTP Connection, webhooks whose URLs live in
environment variables), and kept in the outbox for a later try when a receiver is down.

`fail_fast` turns the errors a retry cannot fix (configuration, a 4xx from a source, a
rejected partition, a KeyError or TypeError of our code meeting data it did not expect) into
AirflowFailException, so the task fails, and alerts, on its first
try instead of waiting out its retries.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger("reformstats.alerts")

# (module, class, what to run next) of the errors no retry fixes; looked up only in
# modules already imported (what was not imported cannot have raised).
PERMANENT = (
    ("sources.errors", "SourceHTTPError", ""),
    ("sources.errors", "SourceNotConfiguredError", ""),
    ("registry.datasets", "RegistryError", ""),
    ("registry.sources", "SourceSettingsError", ""),
    ("alerts.routing", "RoutingError", ""),
    ("marts.rulesets", "RuleSetError", "`reformstats scoring check`"),
    ("marts.manual_points", "ManualPointsError", "`reformstats scoring check`"),
    ("warehouse.publish", "PartitionRejected", ""),
    # Errors of our own code or of the data it was given (a unit with no ID for the month,
    # a value of the wrong type): a retry minutes later meets the same data and the same
    # code, so the month fails now and says why, instead of after its retries.
    ("builtins", "LookupError", ""),  # KeyError, IndexError
    ("builtins", "ValueError", ""),
    ("builtins", "TypeError", ""),
    ("builtins", "AttributeError", ""),
    ("builtins", "NotImplementedError", ""),
    ("builtins", "ArithmeticError", ""),
)
_SECRET_PARAM = re.compile(r"(?i)\b(access_token|token|api_key|apikey|key|secret|password|"
                           r"client_secret|sig|signature)=[^&\s]+")
_SECRET_FIELD = re.compile(r"""(?i)(["']?(?:access_token|token|api_key|secret|password|"""
                           r"""client_secret)["']?\s*:\s*["']?)[^"'&\s,}]+""")
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
# scheme, then user:password@ up to the last @ of the authority, then host and path
_URL = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?:[^/\s]*@)?(?P<rest>[^?#\s]*)"
                  r"(?:[?#]\S*)?")


def masked(text: str) -> str:
    """`text` with every URL's user:password@ and ?query#fragment dropped (a token can be
    in either), and any token=… / "token": … / Bearer … / password=… value hidden."""
    text = _URL.sub(lambda m: m["scheme"] + m["rest"], text)
    text = _SECRET_FIELD.sub(r"\1<hidden>", _SECRET_PARAM.sub(r"\1=<hidden>", text))
    return _BEARER.sub(r"\1 <hidden>", text)


def _error_line(exc: BaseException | None) -> str | None:
    if exc is None:
        return None
    first = (str(exc).splitlines() or [""])[0]
    return f"{type(exc).__name__}: {masked(first)[:300]}"


def _run_url(dag_id: str | None, run_id: str | None) -> str | None:
    if not (dag_id and run_id):
        return None
    from urllib.parse import quote

    from airflow.configuration import conf

    base = conf.get("api", "base_url", fallback="http://localhost:8080/").rstrip("/")
    return f"{base}/dags/{dag_id}/runs/{quote(run_id)}"


def ops_message(context: dict[str, Any]) -> dict[str, Any]:
    """A failure alert for the ops team from an Airflow context: a task's (task_failed)
    or, when the context names no task instance, a DAG run's (run_failed)."""
    ti = context.get("task_instance") or context.get("ti")
    dag = context.get("dag")
    interval = context.get("data_interval_start")
    dag_id = getattr(ti, "dag_id", None) or getattr(dag, "dag_id", None)
    run_id = context.get("run_id") or getattr(ti, "run_id", None)
    reason = context.get("reason")
    if ti is not None and not reason:
        try:
            log_url = ti.log_url
        except Exception:  # a context built outside a task runner
            log_url = None
        kind = "task_failed"
    else:
        log_url, kind = _run_url(dag_id, run_id), "run_failed"
    error = _error_line(context.get("exception"))
    if kind == "run_failed" and reason:
        error = masked(str(reason))[:300]
    return {
        "kind": kind, "dag_id": dag_id,
        "task_id": getattr(ti, "task_id", None) if kind == "task_failed" else None,
        "map_index": getattr(ti, "map_index", None) if kind == "task_failed" else None,
        "run_id": run_id,
        "try_number": getattr(ti, "try_number", None) if kind == "task_failed" else None,
        "partition_start": interval.isoformat() if interval else None,
        "error": error, "log_url": log_url,
    }


class OpsNotifier(BaseNotifier):
    """Task and run failures to the ops route (never to the reform offices)."""

    template_fields = ()

    def render_template_fields(self, context: Any, jinja_env: Any = None) -> None:
        """Nothing to render. (The base class asks the DAG for a template environment, and
        the DAG a run's callback gets under `dag.test()` is a SerializedDAG that has none.)"""

    def notify(self, context: dict[str, Any]) -> None:
        from alerts.run import send_ops
        from plugins.hooks import pipeline_settings, smtp_settings

        settings = pipeline_settings()
        try:
            smtp = smtp_settings(settings)
        except Exception as exc:  # a broken alerts.yaml or SMTP extra: still alert
            log.error("SMTP settings for the ops alert could not be read: %s",
                      type(exc).__name__)
            smtp = None
        send_ops(settings, ops_message(context), smtp=smtp)


def notify_ops(context: dict[str, Any]) -> None:
    """on_failure_callback for every task and DAG run (what OpsNotifier does)."""
    OpsNotifier().notify(context)


def _permanent(exc: BaseException) -> str | None:
    """What to run next if `exc` is an error no retry fixes ("" for nothing), else None."""
    import sys

    for module, name, hint in PERMANENT:
        cls = getattr(sys.modules.get(module), name, None)
        if cls is not None and isinstance(exc, cls):
            return hint
    return None


@contextlib.contextmanager
def fail_fast() -> Iterator[None]:
    """Within it, an error no retry can fix fails the task at once, without retries."""
    try:
        yield
    except Exception as exc:
        hint = _permanent(exc)
        if hint is None:
            raise
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(masked(str(exc)) + (f" (see {hint})" if hint else "")
                                   ) from exc
