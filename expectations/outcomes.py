"""The outcome of one data-quality check, as every validator reports it (GX suites,
vectorised rules, balance and cross-checks) and as `dq_result` stores it.

A check has one partition-level outcome (unit_code None). When it fails on rows that name
their unit, it also has one outcome per unit concerned, so that a result can be routed to
the office that oversees that unit.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

# critical: the partition is not published (rejected: the last good version stays and the
#           new rows wait in quarantine, loadable by a rerun once fixed);
# error:    the failing rows wait in quarantine, the rest of the partition is published;
# warning:  loaded, and reported.
SEVERITIES = ("critical", "error", "warning")
HOLDS_ROWS = ("critical", "error")


@dataclass(frozen=True)
class CheckOutcome:
    check_name: str
    column: str | None
    severity: str
    success: bool
    element_count: int | None
    unexpected_count: int | None
    details: str | None
    unit_code: str | None = None  # the unit this outcome concerns; None: the partition

    def per_unit(self, failing: Mapping[str | None, int]) -> list[CheckOutcome]:
        """This outcome and, when it failed, one failed outcome per unit among the failing
        rows (`failing`: unit -> failing rows of that unit). A None unit is not known, and
        a code longer than dq_result.unit_code is none of ours (a row quarantined for it):
        both stay in the partition-level outcome only."""
        from expectations.schema_limits import column_limits

        if self.success:
            return [self]
        fits = column_limits("dq_result")["unit_code"].fits
        return [self, *(replace(self, unit_code=unit, unexpected_count=n, element_count=None)
                        for unit, n in sorted((u, n) for u, n in failing.items()
                                              if u and n and fits(u)))]


def held_share(rows: int, held: int, max_share: float) -> CheckOutcome:
    """A critical check on the partition: at most `max_share` of its rows held back by
    error-level checks (more means the source is broken, and publishing the rest would
    show a partial picture as if whole). An empty partition has nothing held."""
    ok = held <= max_share * rows + 1e-9
    return CheckOutcome(
        check_name="rows_held_share", column=None, severity="critical", success=ok,
        element_count=rows, unexpected_count=held,
        details=None if ok else (f"{held} of {rows} rows failed error-level checks, more "
                                 f"than the {max_share:.0%} allowed"))


def rejection(outcomes: Sequence[CheckOutcome]) -> str | None:
    """Why a partition is not published: its failed critical checks, each once, or None."""
    reasons = [o.details or o.check_name for o in outcomes
               if not o.success and o.severity == "critical"]
    return "; ".join(dict.fromkeys(reasons)) or None


def write_outcomes(path: Path, outcomes: Sequence[CheckOutcome]) -> None:
    path.write_text(json.dumps([asdict(o) for o in outcomes], ensure_ascii=False, indent=1,
                               default=str), encoding="utf-8")


def read_outcomes(path: Path) -> list[CheckOutcome]:
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return [CheckOutcome(**item) for item in data]
