"""Indicators from dossier counters, driven by the catalogue in config/indicators.yaml.

An indicator is numerator / denominator over summed counters; the rate is never stored
alone and never averaged. A zero denominator gives value None (not 0, not 100 %).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from transforms.dossiers import COUNTER_COLUMNS, STOCK_COUNTERS

DIRECTIONS = ("higher_is_better", "lower_is_better")


@dataclass(frozen=True)
class Target:
    levels: tuple[str, ...]
    from_year: int
    to_year: int | None
    target: float


@dataclass(frozen=True)
class Indicator:
    code: str
    name_vi: str
    name_en: str
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]
    direction: str
    targets: tuple[Target, ...]

    @property
    def summable_over_months(self) -> bool:
        """Quarter / half / year values may be summed from months only for indicators
        built on flows; one with a stock counter (in progress at month end) may not."""
        return not (set(self.numerator) | set(self.denominator)) & STOCK_COUNTERS

    def target_for(self, level: str | None, year: int) -> float | None:
        for t in self.targets:
            if (level in t.levels and t.from_year <= year
                    and (t.to_year is None or year <= t.to_year)):
                return t.target
        return None

    def met(self, value: float | None, target: float | None) -> bool | None:
        if value is None or target is None:
            return None
        return value >= target if self.direction == "higher_is_better" else value <= target


@dataclass(frozen=True)
class Catalogue:
    formula_version: str
    indicators: tuple[Indicator, ...]

    @classmethod
    def from_file(cls, path: Path) -> Catalogue:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        indicators = []
        for item in data["indicators"]:
            for part in ("numerator", "denominator"):
                unknown = set(item[part]) - set(COUNTER_COLUMNS)
                if unknown:
                    raise ValueError(f"{path}: {item['code']} {part} names unknown counters "
                                     f"{sorted(unknown)}")
            if item["direction"] not in DIRECTIONS:
                raise ValueError(f"{path}: {item['code']} direction must be one of "
                                 f"{DIRECTIONS}")
            indicators.append(Indicator(
                code=item["code"], name_vi=item["name_vi"], name_en=item["name_en"],
                numerator=tuple(item["numerator"]), denominator=tuple(item["denominator"]),
                direction=item["direction"],
                targets=tuple(Target(levels=tuple(t["levels"]), from_year=t["from_year"],
                                     to_year=t.get("to_year"), target=float(t["target"]))
                              for t in item.get("targets") or ())))
        codes = [i.code for i in indicators]
        if len(codes) != len(set(codes)):
            raise ValueError(f"{path}: duplicate indicator codes")
        return cls(formula_version=str(data["formula_version"]), indicators=tuple(indicators))


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is zero."""
    return numerator / denominator if denominator else None


def indicator_rows(counters: Iterable[Mapping[str, Any]], catalogue: Catalogue,
                   levels: Mapping[str, str], year: int) -> list[dict[str, Any]]:
    """One row per (unit, period, indicator) from counters already summed per unit and period.

    `counters` rows carry unit_code, period_id and every counter column; `levels` gives each
    unit's level (for its target).
    """
    rows = []
    for counter in counters:
        level = levels.get(counter["unit_code"])
        for ind in catalogue.indicators:
            numerator = sum(int(counter[c] or 0) for c in ind.numerator)
            denominator = sum(int(counter[c] or 0) for c in ind.denominator)
            value = ratio(numerator, denominator)
            target = ind.target_for(level, year)
            rows.append({
                "unit_code": counter["unit_code"], "period_id": counter["period_id"],
                "indicator_code": ind.code, "numerator": numerator,
                "denominator": denominator, "value": value, "target": target,
                "met": ind.met(value, target), "formula_version": catalogue.formula_version,
            })
    return rows
