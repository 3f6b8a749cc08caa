"""Checks of a partition against the one before it, per unit (the registry's
`validation.history`): month-over-month jumps beyond a factor, and units missing from a
period they were present in before. Both are warnings: the partition is loaded and the
units' offices are told. Pure: the caller reads both partitions (warehouse/publish.py).

- `jump:<measure>`: a unit whose measure, summed over its rows, is more than `factor` times
  what it was, or less than 1/`factor` of it, where the larger of the two is at least
  `min_base` (a commune going from 2 dossiers to 7 is not news; from 300 to 40 is). A unit
  at 0 before and `min_base` or more now counts too.
- `units_missing`: a unit with rows in the previous partition and none now, if the unit
  hierarchy of the new period still has it (a commune merged away in July 2025 is not
  missing from July on).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from domain.periods import Month, Period
from expectations.outcomes import CheckOutcome
from registry.datasets import History

Totals = Mapping[str, Mapping[str, float]]  # unit -> measure -> total


def previous_period(period: Month | Period) -> Period | None:
    """The period before, of the same type (None for a year to date: not comparable)."""
    if isinstance(period, Month):
        period = Period.of_month(period)
    kind, year, number = period.period_type, period.year, period.number
    per_year = {"month": 12, "quarter": 4, "half": 2}
    if kind == "year":
        return Period("year", year - 1, 0)
    if kind not in per_year:
        return None
    return Period(kind, year, number - 1) if number > 1 else Period(kind, year - 1,
                                                                     per_year[kind])


def jumped(before: float, now: float, factor: float, min_base: float) -> bool:
    """Whether a value moved by more than `factor` either way, from a large enough base."""
    if max(before, now) < min_base:
        return False
    return now > factor * before or before > factor * now


def history_outcomes(current: Totals, previous: Totals, history: History, *,
                     previous_label: str, still_valid: Callable[[str], bool]
                     ) -> list[CheckOutcome]:
    """The jump and missing-unit outcomes (each with its per-unit outcomes); none when the
    previous partition is empty (nothing to compare with)."""
    if not previous:
        return []
    outcomes: list[CheckOutcome] = []
    both = sorted(set(current) & set(previous))
    for measure in history.measures:
        moved = [{"unit_code": unit, "previous": previous[unit].get(measure, 0),
                  "current": current[unit].get(measure, 0)}
                 for unit in both
                 if jumped(float(previous[unit].get(measure) or 0),
                           float(current[unit].get(measure) or 0),
                           history.factor, history.min_base)]
        outcome = CheckOutcome(
            check_name=f"jump:{measure}", column=measure, severity="warning",
            success=not moved, element_count=len(both), unexpected_count=len(moved),
            details=None if not moved else _details(
                f"changed more than {history.factor:g}-fold since {previous_label}", moved))
        outcomes += outcome.per_unit({m["unit_code"]: 1 for m in moved})
    if history.missing_units:
        missing = [unit for unit in sorted(set(previous) - set(current)) if still_valid(unit)]
        outcome = CheckOutcome(
            check_name="units_missing", column=None, severity="warning", success=not missing,
            element_count=len(previous), unexpected_count=len(missing),
            details=None if not missing else _details(
                f"had rows in {previous_label}, none now", [{"unit_code": u}
                                                            for u in missing]))
        outcomes += outcome.per_unit(dict.fromkeys(missing, 1))
    return outcomes


def _details(what: str, items: list[dict]) -> str:
    return json.dumps({"notes": what, "sample": items[:20]}, ensure_ascii=False,
                      default=str)[:2000]
