"""config/runtime.yaml, the limits every run works within. Light on purpose: DAG files
read it at parse time."""

from __future__ import annotations

import datetime as dt
import os

RUNTIME_KEYS = ("task_timeout_minutes", "dagrun_timeout_hours", "retries",
                "retry_delay_minutes", "warehouse_lock_wait_minutes")


def runtime_settings() -> dict[str, float]:
    """config/runtime.yaml: timeouts, retries and waits of every DAG, task and warehouse
    connection (checked here, so a typo fails with the file's name instead of running
    without limits)."""
    import yaml

    from registry.settings import config_dir_from_env

    path = config_dir_from_env() / "runtime.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if set(raw) != set(RUNTIME_KEYS) or not all(
            isinstance(raw[k], int | float) and raw[k] >= 0 for k in RUNTIME_KEYS):
        raise ValueError(f"{path}: needs exactly {', '.join(RUNTIME_KEYS)}, each a number "
                         f">= 0; got {raw}")
    return raw


def present() -> dt.datetime:
    """The pipeline's present: `REFORMSTATS_AS_OF` (ISO; Vietnam time when it has no
    offset) when a replay sets it (the demo runs past months as they ran, in the month
    after each), else the clock. It decides which year to date can still be asked for."""
    from domain.periods import vietnam_time

    text = os.environ.get("REFORMSTATS_AS_OF", "").strip()
    if not text:
        return dt.datetime.now(dt.UTC)
    try:
        return vietnam_time(text)
    except ValueError as exc:
        raise ValueError(f"REFORMSTATS_AS_OF must be an ISO date or time, got {text!r}"
                         ) from exc
