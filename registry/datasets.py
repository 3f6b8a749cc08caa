"""The dataset registry: config/datasets.yaml, one declarative entry per dataset.

Every stage reads a dataset's definition from here (dlt's declarative resources, dbt's
sources): the DAGs build one task group (or mapping) per entry and publish its Asset, the
steps choose extract and validation by it, the loader takes its table and partition, the
data dictionary lists it. Light on purpose (stdlib + PyYAML): DAG files read it at parse
time. That a table or column named here exists is checked by the warehouse when it loads,
and by the tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from domain.periods import PERIOD_TYPES

SOURCES = ("national_portal", "onestop", "eoffice", "marts")
# Sources with one system per province, named `<source>_<province code>` in the warehouse.
PROVINCIAL_SOURCES = ("onestop", "eoffice")
KINDS = ("fact", "raw", "mart")
ASSET_SCHEME = "reformstats"


def lookup(mapping: Mapping[str, Any], key: str, what: str) -> Any:
    """mapping[key], or a KeyError that says what was looked for and what is known."""
    if key not in mapping:
        raise KeyError(f"no {what} {key!r}; known: {sorted(mapping)}")
    return mapping[key]


class RegistryError(ValueError):
    """The registry file is not as documented; the message names file and dataset."""


@dataclass(frozen=True)
class Freshness:
    """How many days after a period ends its partition is late (warn) / very late (error)."""

    warn_after_days: int
    error_after_days: int


@dataclass(frozen=True)
class History:
    """Warnings from a partition against the one before it (same period type, same
    partition values otherwise), per unit: a measure that jumps by more than `factor` either way
    (from at least `min_base` on the larger side), and units present before but missing
    now (`missing_units`; a unit the period's hierarchy no longer has is not missing)."""

    measures: tuple[str, ...]
    factor: float = 3.0
    min_base: float = 20.0
    missing_units: bool = True
    period_types: tuple[str, ...] = ("month",)


@dataclass(frozen=True)
class Validation:
    suite: str | None = None            # expectations/suites/<suite>.json
    rules: str | None = None            # expectations/rules/<rules>.yaml
    checks: tuple[str, ...] = ()        # named checks in expectations/checks.py
    # critical: more than this share of the rows held back by error-level checks rejects
    # the partition (None: no limit)
    max_held_share: float | None = None
    history: History | None = None


@dataclass(frozen=True)
class Dataset:
    name: str
    source: str
    kind: str
    description: str
    description_vi: str
    period_types: tuple[str, ...]
    unit_column: str | None
    enabled: bool
    table: str | None = None
    partition: tuple[str, ...] = ()
    natural_key: tuple[str, ...] = ()
    validation: Validation = field(default_factory=Validation)
    stocks: frozenset[str] = frozenset()
    inputs: tuple[str, ...] = ()
    freshness: Freshness | None = None

    @property
    def asset_uri(self) -> str | None:
        """URI of the Airflow Asset a load of this dataset publishes (None: not loaded)."""
        return f"{ASSET_SCHEME}://warehouse/{self.table}" if self.table else None


def _tuple(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistryError(f"{where}: expected a list of names, got {value!r}")
    return tuple(value)


def _history(raw: Any, where: str) -> History | None:
    if raw is None:
        return None
    known = {"measures", "factor", "min_base", "missing_units", "period_types"}
    if not isinstance(raw, Mapping) or set(raw) - known:
        raise RegistryError(f"{where}: a mapping of {sorted(known)}")
    measures = _tuple(raw.get("measures"), f"{where}.measures")
    try:
        history = History(measures=measures, factor=float(raw.get("factor", 3.0)),
                          min_base=float(raw.get("min_base", 20.0)),
                          missing_units=bool(raw.get("missing_units", True)),
                          period_types=_tuple(raw.get("period_types", ["month"]),
                                              f"{where}.period_types"))
    except (TypeError, ValueError) as exc:
        raise RegistryError(f"{where}: factor and min_base are numbers") from exc
    if history.factor <= 1:
        raise RegistryError(f"{where}.factor: more than 1 (3 means tripled or a third)")
    if set(history.period_types) - set(PERIOD_TYPES):
        raise RegistryError(f"{where}.period_types: some of {PERIOD_TYPES}")
    return history


def _dataset(name: str, raw: Mapping[str, Any], where: str) -> Dataset:
    known = {"source", "kind", "description", "description_vi", "period_types",
             "unit_column", "enabled", "table", "partition", "natural_key", "validation",
             "stocks", "inputs", "freshness"}
    unknown = set(raw) - known
    if unknown:
        raise RegistryError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    for key in ("source", "kind", "description", "period_types", "enabled"):
        if key not in raw:
            raise RegistryError(f"{where}: missing required key {key!r}")
    if raw["source"] not in SOURCES:
        raise RegistryError(f"{where}: source must be one of {SOURCES}, got {raw['source']!r}")
    if raw["kind"] not in KINDS:
        raise RegistryError(f"{where}: kind must be one of {KINDS}, got {raw['kind']!r}")
    period_types = _tuple(raw["period_types"], f"{where}.period_types")
    bad = set(period_types) - set(PERIOD_TYPES)
    if not period_types or bad:
        raise RegistryError(f"{where}: period_types must be some of {PERIOD_TYPES}")
    table = raw.get("table")
    partition = _tuple(raw.get("partition"), f"{where}.partition")
    natural_key = _tuple(raw.get("natural_key"), f"{where}.natural_key")
    if raw["kind"] in ("fact", "mart") and not (table and partition and natural_key):
        raise RegistryError(f"{where}: a {raw['kind']} needs table, partition and natural_key")
    validation = raw.get("validation") or {}
    if set(validation) - {"suite", "rules", "checks", "max_held_share", "history"}:
        raise RegistryError(f"{where}.validation: only suite, rules, checks, max_held_share "
                            "and history are known")
    share = validation.get("max_held_share")
    if share is not None and not (isinstance(share, int | float) and 0 <= share <= 1):
        raise RegistryError(f"{where}.validation.max_held_share: a fraction, 0 to 1")
    freshness = raw.get("freshness")
    if freshness is not None:
        try:
            freshness = Freshness(int(freshness["warn_after_days"]),
                                  int(freshness["error_after_days"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise RegistryError(f"{where}.freshness: needs warn_after_days and "
                                "error_after_days (whole days)") from exc
        if not 0 < freshness.warn_after_days <= freshness.error_after_days:
            raise RegistryError(f"{where}.freshness: 0 < warn_after_days <= error_after_days")
    if not isinstance(raw["enabled"], bool):
        raise RegistryError(f"{where}.enabled: true or false")
    return Dataset(
        name=name, source=raw["source"], kind=raw["kind"],
        description=" ".join(str(raw["description"]).split()),
        description_vi=" ".join(str(raw.get("description_vi", "")).split()),
        period_types=period_types,
        unit_column=raw.get("unit_column"), enabled=raw["enabled"], table=table,
        partition=partition, natural_key=natural_key,
        validation=Validation(suite=validation.get("suite"), rules=validation.get("rules"),
                              checks=_tuple(validation.get("checks"),
                                            f"{where}.validation.checks"),
                              max_held_share=None if share is None else float(share),
                              history=_history(validation.get("history"),
                                               f"{where}.validation.history")),
        stocks=frozenset(_tuple(raw.get("stocks"), f"{where}.stocks")),
        inputs=_tuple(raw.get("inputs"), f"{where}.inputs"), freshness=freshness)


@dataclass(frozen=True)
class Registry:
    datasets: Mapping[str, Dataset]

    @classmethod
    def from_file(cls, path: Path) -> Registry:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise RegistryError(f"{path}: not valid YAML: {exc}") from exc
        entries = (raw or {}).get("datasets")
        if not isinstance(entries, dict) or not entries:
            raise RegistryError(f"{path}: expected a 'datasets' mapping")
        datasets = {name: _dataset(name, entry or {}, f"{path.name}: {name}")
                    for name, entry in entries.items()}
        for dataset in datasets.values():
            missing = set(dataset.inputs) - set(datasets)
            if missing:
                raise RegistryError(f"{path.name}: {dataset.name}.inputs names unknown "
                                    f"datasets {sorted(missing)}")
        return cls(datasets)

    def __getitem__(self, name: str) -> Dataset:
        return lookup(self.datasets, name, "dataset in the registry (config/datasets.yaml)")

    def __iter__(self) -> Iterator[Dataset]:
        return iter(self.datasets.values())

    def of_source(self, source: str, *, kind: str | None = None) -> list[Dataset]:
        """The enabled datasets of a source, in file order (optionally of one kind)."""
        return [d for d in self if d.source == source and d.enabled
                and (kind is None or d.kind == kind)]
