"""Scoring methods: the points one scored criterion earns from its input.

The input is a value from 0 to 1 (an indicator, a 766 metric's numerator / denominator, a
published score / its maximum), or nothing: a zero denominator (the rule says what that
scores) or no input at all. Points are rounded half up to the rule set's decimals, as the
portal shows them. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from marts.rulesets import Criterion


@dataclass(frozen=True)
class Input:
    """What a criterion is scored from. `value` is None when there is no value: then
    `zero_denominator` says whether that is because the denominator was zero."""

    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    zero_denominator: bool = False

    @classmethod
    def ratio(cls, numerator: float | None, denominator: float | None) -> Input:
        """numerator / denominator; a zero denominator gives no value (never 0 or 100 %)."""
        if numerator is None or denominator is None:
            return cls(None, numerator, denominator)
        if denominator == 0:
            return cls(None, numerator, denominator, zero_denominator=True)
        return cls(numerator / denominator, numerator, denominator)


NO_INPUT = Input(None)


@dataclass(frozen=True)
class Points:
    points: float
    note: str | None = None


def round_half_up(value: float, decimals: int) -> float:
    """Rounded as people round (2.345 -> 2.35), not to the nearest even digit."""
    step = Decimal(1).scaleb(-decimals)
    return float(Decimal(repr(value)).quantize(step, rounding=ROUND_HALF_UP))


def computed_points(criterion: Criterion, given: Input, decimals: int = 2) -> Points:
    """Points of a computed criterion (linear, target_linear, bands, boolean)."""
    top = criterion.max_points
    if given.value is None:
        if given.zero_denominator:
            if criterion.zero_denominator == "full":
                return Points(top, "zero denominator: full points")
            return Points(0.0, "zero denominator: not scored")
        return Points(0.0, "no input")
    value = min(1.0, max(0.0, given.value))
    method = criterion.method
    if method == "linear":
        points = value * top
    elif method == "target_linear":
        assert criterion.target is not None
        points = top if value >= criterion.target else value / criterion.target * top
    elif method == "bands":
        band = next(b for b in criterion.bands if b.contains(value))
        points = band.points
    elif method == "boolean":
        assert criterion.at_least is not None
        points = top if value >= criterion.at_least else 0.0
    else:
        raise ValueError(f"criterion {criterion.code}: {method} is not a computed method")
    return Points(round_half_up(points, decimals))


def manual_points(criterion: Criterion, entered: float | None, decimals: int = 2) -> Points:
    """Points of a manual criterion: as entered (checked on import), none when none were."""
    if entered is None:
        return Points(0.0, "not entered")
    return Points(round_half_up(min(criterion.max_points, max(0.0, entered)), decimals))
