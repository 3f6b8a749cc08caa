"""Marts step: a month's indicators from the warehouse facts of every input dataset.

Runs after the facts (the marts DAG is scheduled on the Assets fact loads publish, or
triggered for a month), reads each input dataset's counters summed per unit, computes the
catalogue's indicators (marts.indicators, pure) and replaces the month's partition of
fact_indicator_monthly in its own transaction. Rescoring never needs re-extraction.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pyarrow as pa

from domain.periods import Month
from expectations.checks import run_checks
from marts.indicators import Catalogue, FactColumns, indicator_rows
from registry.settings import Settings
from steps.units import known_units

log = logging.getLogger(__name__)
SOURCE = "marts"


def fact_columns(settings: Settings) -> dict[str, FactColumns]:
    """The numeric columns (and stocks) of every fact dataset's table, for the catalogue."""
    import sqlalchemy as sa

    from warehouse.schema import metadata

    facts = {}
    for dataset in settings.registry:
        if dataset.kind != "fact" or not dataset.table:
            continue
        table = metadata.tables[dataset.table]
        numeric = {c.name for c in table.columns if c.name not in dataset.natural_key
                   and isinstance(c.type, sa.Integer | sa.Numeric | sa.Float)}
        facts[dataset.name] = FactColumns(frozenset(numeric), dataset.stocks)
    return facts


def catalogue(settings: Settings) -> Catalogue:
    """The indicator catalogue, checked against the registry's fact datasets."""
    result = Catalogue.from_file(settings.indicator_catalogue_path, fact_columns(settings))
    inputs = settings.registry["indicators"].inputs
    missing = [d for d in result.datasets if d not in inputs]
    if missing:
        raise ValueError(f"the indicator catalogue reads {missing}, which the registry's "
                         f"indicators.inputs {list(inputs)} does not list (config/datasets.yaml)")
    return result


def build_indicators(month: Month, run_id: str, settings: Settings) -> dict[str, Any]:
    """Compute and load one month's indicators; returns the load's audit row."""
    from warehouse.engine import transaction
    from warehouse.loader import arrow_schema
    from warehouse.publish import PartitionLoad, load_partition
    from warehouse.read import fetch_ids, sum_by_unit
    from warehouse.schema import metadata

    entry = settings.registry["indicators"]
    cat = catalogue(settings)
    facts, inputs = {}, []
    with transaction(settings.warehouse_url) as conn:
        for name in cat.datasets:
            table = settings.registry[name].table
            columns = sorted({c for i in cat.indicators if i.dataset == name
                              for c in (*i.numerator, *i.denominator)})
            facts[name] = sum_by_unit(conn, table, columns, month.period_id)
            inputs += [f"{name}:{fetch}" for fetch in fetch_ids(conn, table, month.period_id)]
    units = known_units(settings, month.last_day)  # departments: registered by the portal
    rows = indicator_rows(facts, cat, month.period_id, month.year,
                          units.level_of(month.last_day),
                          lambda code: units.province_of(code, month.last_day))
    table = pa.Table.from_pylist(rows, schema=pa.schema(
        [f for f in arrow_schema(metadata.tables[entry.table])
         if f.name not in {"run_id", "loaded_at"}]))
    # The input version: the same input fetches always give the same ID.
    digest = hashlib.sha256("\n".join(sorted(inputs)).encode()).hexdigest()
    log.info("indicators %s: %d rows from %s", month, len(rows),
             {name: len(f) for name, f in facts.items()})
    return load_partition(PartitionLoad(
        dataset=entry, source=SOURCE, month=month, fetch_id=f"inputs-{digest[:16]}",
        run_id=run_id, rows_in=sum(len(f) for f in facts.values()), raw_sha256=digest,
        facts=table, partition={"period_id": month.period_id},
        outcomes=run_checks(entry.validation.checks, rows)), settings.warehouse_url)
