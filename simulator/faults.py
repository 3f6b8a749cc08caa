"""Fault modes, switched on per run. Each mode is a count: how many times it fires.

HTTP faults act on the next requests, data faults on the next data answers:
- `rate_limit`: 429 with `Retry-After: <retry_after>` seconds.
- `server_error`: 500, then 503 (alternating).
- `slow`: the answer is held `slow_seconds` before it is sent (past a short client timeout).
- `malformed_json`: 200 with a truncated JSON body.
- `bad_request`: 400 with an error text (a client must not retry it).
- `repeat_page`: a paged answer for page > 1 repeats page 1 instead.
- `missing_field`: one record in the answer loses a field (TDGQ, or HS_TOTAL).
- `bad_values`: one record gets an impossible value (a component above its max and a
  total that no longer adds up; or a negative count and a rate above 100).
- `unknown_unit`: a 766 list also holds a unit no reference list knows (its ID, name and
  agency code unknown); on one-stop answers, an agency ID no crosswalk knows.
- `stale_period`: a reporting-API year-to-date answer covers one month less than asked
  (its monthlyChart says so).
- `renamed_unit`: a province's legacy list names one commune by a name it no longer has,
  under an agency code not seen before (matched by nothing: an override resolves it).
- `expire_token`: the one-stop system revokes every token it issued (next call: 401).
- `stats_mismatch`: an aggregated statistics answer (one-stop) misstates one agency's
  received count, so it no longer agrees with the dossier export.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

HTTP_FAULTS = ("rate_limit", "server_error", "slow", "malformed_json", "bad_request")
DATA_FAULTS = ("repeat_page", "missing_field", "bad_values", "unknown_unit", "stale_period",
               "renamed_unit", "expire_token", "stats_mismatch")


@dataclass
class FaultPlan:
    counts: dict[str, int] = field(default_factory=dict)
    retry_after: float = 1.0
    slow_seconds: float = 2.0
    fired: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.counts) - set(HTTP_FAULTS) - set(DATA_FAULTS)
        if unknown:
            raise ValueError(f"unknown fault modes {sorted(unknown)}; known: "
                             f"{', '.join(HTTP_FAULTS + DATA_FAULTS)}")

    @classmethod
    def parse(cls, text: str | None) -> FaultPlan:
        """From JSON, e.g. '{"rate_limit": 2, "retry_after": 0.5}'."""
        if not text:
            return cls()
        raw: dict[str, Any] = json.loads(text)
        options = {k: float(raw.pop(k)) for k in ("retry_after", "slow_seconds") if k in raw}
        return cls(counts={k: int(v) for k, v in raw.items()}, **options)

    def take(self, mode: str) -> bool:
        """Consume one firing of `mode`; True if it fires now."""
        with self._lock:
            if self.counts.get(mode, 0) <= 0:
                return False
            self.counts[mode] -= 1
            self.fired[mode] = self.fired.get(mode, 0) + 1
            return True

    def next_http_fault(self) -> str | None:
        for mode in HTTP_FAULTS:
            if self.take(mode):
                return mode
        return None


class FaultedService:
    """Base of the simulated services: they read the simulator's current fault plan
    through a callable (a test may swap the plan between calls), and know nothing else of
    the server."""

    def __init__(self, faults: Callable[[], FaultPlan]) -> None:
        self._faults = faults

    @property
    def faults(self) -> FaultPlan:
        return self._faults()
