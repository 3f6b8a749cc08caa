"""An alert: one open problem about one unit (or one whole partition) in one period.

What an alert carries is what a message may say: the unit, the period, the source, the
dataset, the check, how many rows, and where to look. Never row values: `dq_result.details`
and `quarantine_row.row_json` may quote a source's rows, and stay in the warehouse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any

SEVERITY_ORDER = {"warning": 1, "error": 2, "critical": 3}


@dataclass(frozen=True)
class Alert:
    kind: str                   # data_quality | rejected | freshness | target
    severity: str               # critical | error | warning
    dataset: str
    source: str
    period_id: int
    period: str                 # the period's label, e.g. 2026-03, 2026-Q1
    period_last_day: dt.date
    unit_code: str | None       # None: a whole partition no unit owns
    check_name: str             # the dq_result check; freshness; rejected; indicator code
    rows: int | None = None     # rows (or units) the failure concerns
    run_id: str | None = None   # the run whose result this is
    unit_name: str | None = None
    province_code: str | None = None  # the unit's province then (its scorecard's folder)
    province_name: str | None = None
    # kind-specific figures a message shows (freshness: due, days_late; target: value,
    # target, numerator, denominator; rejected: rows_in): numbers and dates only
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """The same failure has the same fingerprint at every run (not its counts)."""
        text = "|".join((self.kind, self.dataset, self.source, str(self.period_id),
                         self.check_name, self.unit_code or ""))
        return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, default=str, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Alert:
        raw = json.loads(text)
        raw["period_last_day"] = dt.date.fromisoformat(raw["period_last_day"])
        return cls(**raw)

    def named(self, name: str | None, province_code: str | None,
              province_name: str | None) -> Alert:
        return replace(self, unit_name=name, province_code=province_code,
                       province_name=province_name)


def worse(a: str, b: str) -> bool:
    """Whether severity `a` is worse than `b`."""
    return SEVERITY_ORDER.get(a, 0) > SEVERITY_ORDER.get(b, 0)
