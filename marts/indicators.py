"""Indicators from warehouse facts, driven by the catalogue in config/indicators.yaml.

An indicator is numerator / denominator over counters of one fact dataset (named in the
catalogue, e.g. `dossiers` = fact_dossier_monthly), summed per unit; the rate is never
stored alone and never averaged. A zero denominator gives value None (not 0, not 100 %).
Indicators of different sources sit side by side: each reads its own dataset's facts.

Pure: facts in, rows out. Reading the facts from the warehouse is the step's business.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

DIRECTIONS = ("higher_is_better", "lower_is_better")


@dataclass(frozen=True)
class FactColumns:
    """What the catalogue may use of a fact dataset: its numeric columns, and which of
    them are stocks (states at a month's start or end, never summed over months)."""

    columns: frozenset[str]
    stocks: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Target:
    levels: tuple[str, ...]
    from_year: int
    to_year: int | None
    target: float


@dataclass(frozen=True)
class Formula:
    """An indicator's definition for a range of years (`to_year` None: still in force)."""

    version: str
    from_year: int | None
    to_year: int | None
    numerator: tuple[str, ...]
    denominator: tuple[str, ...]

    def covers(self, year: int) -> bool:
        return ((self.from_year is None or self.from_year <= year)
                and (self.to_year is None or year <= self.to_year))


@dataclass(frozen=True)
class Indicator:
    code: str
    name_vi: str
    name_en: str
    dataset: str
    numerator: tuple[str, ...]  # the formula in force now (dim_indicator shows it)
    denominator: tuple[str, ...]
    direction: str
    targets: tuple[Target, ...]
    summable_over_months: bool
    formulas: tuple[Formula, ...] = ()  # by year; the first that covers a year applies

    @property
    def formula_version(self) -> str:
        """The version of the formula in force now (the one without an end year)."""
        return next((f for f in self.formulas if f.to_year is None), self.formulas[0]).version

    def formula_for(self, year: int) -> Formula | None:
        """The definition that applies to a period of `year`; None: the indicator was not
        defined then (no value is computed)."""
        return next((f for f in self.formulas if f.covers(year)), None)

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

    @property
    def datasets(self) -> list[str]:
        """The fact datasets the catalogue reads, in order of first use."""
        return list(dict.fromkeys(i.dataset for i in self.indicators))

    @classmethod
    def from_file(cls, path: Path, facts: Mapping[str, FactColumns]) -> Catalogue:
        """Read and check the catalogue: every indicator names a dataset of `facts` and
        only columns that dataset has. Quarter, half and year values may be summed from
        months only for an indicator built on flows (`summable_over_months`)."""
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        default_dataset = data.get("dataset")
        indicators = []
        default_version = str(data["formula_version"])
        for item in data["indicators"]:
            code = item.get("code", "?")
            dataset = item.get("dataset", default_dataset)
            if dataset not in facts:
                raise ValueError(f"{path}: {code} reads dataset {dataset!r}; known fact "
                                 f"datasets: {sorted(facts)}")
            fact = facts[dataset]
            formulas = tuple(Formula(
                version=str(f.get("version", default_version)), from_year=f.get("from_year"),
                to_year=f.get("to_year"), numerator=tuple(f["numerator"]),
                denominator=tuple(f["denominator"])) for f in item.get("formulas") or ()) or (
                Formula(default_version, None, None, tuple(item["numerator"]),
                        tuple(item["denominator"])),)
            used: set[str] = set()
            for formula in formulas:
                for part in ("numerator", "denominator"):
                    unknown = set(getattr(formula, part)) - fact.columns
                    if unknown:
                        raise ValueError(f"{path}: {code} {part} (formula {formula.version}) "
                                         f"names unknown counters {sorted(unknown)} of "
                                         f"dataset {dataset}")
                used |= set(formula.numerator) | set(formula.denominator)
            current = next((f for f in formulas if f.to_year is None), formulas[0])
            if item.get("formulas") and (tuple(item["numerator"]), tuple(
                    item["denominator"])) != (current.numerator, current.denominator):
                raise ValueError(f"{path}: {code}: numerator and denominator must be those "
                                 f"of the formula in force (version {current.version})")
            if item["direction"] not in DIRECTIONS:
                raise ValueError(f"{path}: {code} direction must be one of {DIRECTIONS}")
            indicators.append(Indicator(
                code=code, name_vi=item["name_vi"], name_en=item["name_en"], dataset=dataset,
                numerator=current.numerator, denominator=current.denominator,
                direction=item["direction"],
                targets=tuple(Target(levels=tuple(t["levels"]), from_year=t["from_year"],
                                     to_year=t.get("to_year"), target=float(t["target"]))
                              for t in item.get("targets") or ()),
                summable_over_months=not used & fact.stocks, formulas=formulas))
        codes = [i.code for i in indicators]
        if len(codes) != len(set(codes)):
            raise ValueError(f"{path}: duplicate indicator codes")
        return cls(formula_version=str(data["formula_version"]), indicators=tuple(indicators))


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator, or None when the denominator is zero."""
    return numerator / denominator if denominator else None


def indicator_rows(facts: Mapping[str, Iterable[Mapping[str, Any]]], catalogue: Catalogue,
                   period_id: int, year: int, levels: Mapping[str, str],
                   province_of: Callable[[str], str | None]) -> list[dict[str, Any]]:
    """One row per (unit, indicator) for a month from each dataset's counters, already
    summed per unit (`facts[dataset]` rows carry unit_code, the counters, and
    province_code where the facts have one; else `province_of` gives it). `levels` gives
    each unit's level, for its target."""
    rows = []
    for dataset in catalogue.datasets:
        indicators = [i for i in catalogue.indicators if i.dataset == dataset]
        for counter in facts.get(dataset, ()):
            unit = counter["unit_code"]
            level = levels.get(unit)
            province = counter.get("province_code") or province_of(unit)
            for ind in indicators:
                formula = ind.formula_for(year)
                if formula is None:  # not an indicator yet in that year
                    continue
                numerator = sum(int(counter[c] or 0) for c in formula.numerator)
                denominator = sum(int(counter[c] or 0) for c in formula.denominator)
                value = ratio(numerator, denominator)
                target = ind.target_for(level, year)
                rows.append({
                    "unit_code": unit, "period_id": period_id, "province_code": province,
                    "indicator_code": ind.code, "numerator": numerator,
                    "denominator": denominator, "value": value, "target": target,
                    "met": ind.met(value, target),
                    "formula_version": formula.version,
                })
    return rows
