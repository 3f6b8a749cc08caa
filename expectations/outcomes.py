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

SEVERITIES = ("critical", "warning")


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


def write_outcomes(path: Path, outcomes: Sequence[CheckOutcome]) -> None:
    path.write_text(json.dumps([asdict(o) for o in outcomes], ensure_ascii=False, indent=1,
                               default=str), encoding="utf-8")


def read_outcomes(path: Path) -> list[CheckOutcome]:
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return [CheckOutcome(**item) for item in data]
