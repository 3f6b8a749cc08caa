"""Scoring methods: the points one scored criterion earns from its input.

The input is a value from 0 to 1 (an indicator, a 766 metric's numerator / denominator, a
published score / its maximum), or nothing: a zero denominator (the rule says what that
scores) or no input at all. Points are rounded half up to the rule set's decimals, as the
portal shows them. Pure: no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from marts.rulesets import Criterion


def exact(number: float | int) -> Fraction:
    """A number as the decimal it was written as (0.95 is 95/100, not the float nearest)."""
    return Fraction(repr(number)) if isinstance(number, float) else Fraction(number)


@dataclass(frozen=True)
class Input:
    """What a criterion is scored from. `value` is None when there is no value: then
    `zero_denominator` says whether that is because the denominator was zero. `share` is
    the value exactly (a fraction of whole numbers or written decimals), which is what
    points, edges and targets are computed from: 19/20 is exactly at a 0.95 band edge."""

    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    zero_denominator: bool = False
    share: Fraction | None = None

    def __post_init__(self) -> None:
        if self.share is None and self.value is not None:
            object.__setattr__(self, "share", exact(self.value))

    @classmethod
    def ratio(cls, numerator: float | None, denominator: float | None) -> Input:
        """numerator / denominator; a zero denominator gives no value (never 0 or 100 %)."""
        if numerator is None or denominator is None:
            return cls(None, numerator, denominator)
        if denominator == 0:
            return cls(None, numerator, denominator, zero_denominator=True)
        share = exact(numerator) / exact(denominator)
        return cls(float(share), numerator, denominator, share=share)

    @classmethod
    def part_of(cls, part: float, whole: float) -> Input:
        """A published score as a share of its maximum (16.2 of 18 is exactly 0.9)."""
        share = exact(part) / exact(whole)
        return cls(float(share), share=share)


NO_INPUT = Input(None)


@dataclass(frozen=True)
class Points:
    points: float
    note: str | None = None


def round_half_up(value: float | Fraction, decimals: int) -> float:
    """Rounded as people round (2.345 -> 2.35, 0.375 -> 0.38), not to the nearest even
    digit; a float is taken as the decimal it prints as."""
    scaled = (value if isinstance(value, Fraction) else exact(value)) * 10 ** decimals
    return float(Fraction(math.floor(abs(scaled) + Fraction(1, 2)), 10 ** decimals)
                 * (1 if scaled >= 0 else -1))


def computed_points(criterion: Criterion, given: Input, decimals: int = 2) -> Points:
    """Points of a computed criterion (linear, target_linear, bands, boolean), computed
    exactly from the input's share and the rule's written numbers, then rounded."""
    top = criterion.max_points
    if given.share is None:
        if given.zero_denominator:
            if criterion.zero_denominator == "full":
                return Points(top, "zero denominator: full points")
            return Points(0.0, "zero denominator: not scored")
        return Points(0.0, "no input")
    value = min(Fraction(1), max(Fraction(0), given.share))
    best = exact(top)
    method = criterion.method
    if method == "linear":
        points = value * best
    elif method == "target_linear":
        assert criterion.target is not None
        target = exact(criterion.target)
        points = best if value >= target else value / target * best
    elif method == "bands":
        band = next(b for b in criterion.bands if b.contains(value))
        points = exact(band.points)
    elif method == "boolean":
        assert criterion.at_least is not None
        points = best if value >= exact(criterion.at_least) else Fraction(0)
    else:
        raise ValueError(f"criterion {criterion.code}: {method} is not a computed method")
    return Points(round_half_up(points, decimals))


def manual_points(criterion: Criterion, entered: float | None, decimals: int = 2) -> Points:
    """Points of a manual criterion: as entered (checked on import), none when none were."""
    if entered is None:
        return Points(0.0, "not entered")
    return Points(round_half_up(min(criterion.max_points, max(0.0, entered)), decimals))
