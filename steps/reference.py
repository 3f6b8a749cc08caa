"""Reference data from config/ into the warehouse: units, source-ID crosswalk, procedures,
indicator catalogue. Each table is replaced whole, so every run converges to the config."""

from __future__ import annotations

import csv

import pyarrow as pa

from registry.settings import Settings


def refresh_reference(settings: Settings) -> dict[str, int]:
    from steps.marts import catalogue as indicator_catalogue
    from warehouse.engine import transaction
    from warehouse.loader import arrow_schema, replace_partition
    from warehouse.schema import dim_indicator, dim_procedure, dim_unit, unit_source_id

    registry = settings.units
    units = pa.Table.from_pylist([{
        "unit_code": u.unit_code, "valid_from": u.valid_from, "valid_to": u.valid_to,
        "name_vi": u.name_vi, "level": u.level, "parent_code": u.parent_code,
        "stat_code": u.stat_code, "is_current": u.valid_to is None,
    } for u in registry.units], schema=arrow_schema(dim_unit))
    ids = pa.Table.from_pylist([s.__dict__ for s in registry.source_ids],
                               schema=arrow_schema(unit_source_id))
    with open(settings.config_dir / "procedures.csv", encoding="utf-8", newline="") as handle:
        procedures = pa.Table.from_pylist([{
            **row, "processing_days": int(row["processing_days"]),
            "fee_bearing": row["fee_bearing"] == "true",
            "full_online": row["full_online"] == "true",
        } for row in csv.DictReader(handle)], schema=arrow_schema(dim_procedure))
    catalogue = indicator_catalogue(settings)
    indicators = pa.Table.from_pylist([{
        "indicator_code": i.code, "name_vi": i.name_vi, "name_en": i.name_en,
        "numerator": " + ".join(i.numerator), "denominator": " + ".join(i.denominator),
        "direction": i.direction, "formula_version": catalogue.formula_version,
        "summable_over_months": i.summable_over_months,
    } for i in catalogue.indicators], schema=arrow_schema(dim_indicator))
    tables = {dim_unit: units, unit_source_id: ids, dim_procedure: procedures,
              dim_indicator: indicators}
    with transaction(settings.warehouse_url) as conn:
        for table, rows in tables.items():
            replace_partition(conn, table, rows, {})
    return {table.name: rows.num_rows for table, rows in tables.items()}
