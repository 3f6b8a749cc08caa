"""Reference data into the warehouse: units of both eras and their crosswalk (from the
reference packages), configured units and source IDs, procedures, indicator catalogue.
Each is replaced whole, so every run converges to the packages and config/; units and IDs
registered from the portal (origin portal, override) are left as they are."""

from __future__ import annotations

import csv
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa

from marts.rulesets import RuleSetError
from registry.settings import Settings

log = logging.getLogger(__name__)


def refresh_reference(settings: Settings) -> dict[str, int]:
    from domain.reference_units import REORGANISATION, unit_crosswalk
    from steps.marts import catalogue as indicator_catalogue
    from warehouse.engine import lock_for_write, transaction
    from warehouse.loader import arrow_schema, replace_partition
    from warehouse.schema import (
        dim_indicator,
        dim_procedure,
        dim_unit,
        unit_source_id,
    )
    from warehouse.schema import unit_crosswalk as crosswalk_table

    registry = settings.units
    units = {origin: pa.Table.from_pylist([{
        "unit_code": u.unit_code, "valid_from": u.valid_from, "valid_to": u.valid_to,
        "name_vi": u.name_vi, "level": u.level, "parent_code": u.parent_code,
        "stat_code": u.stat_code, "agency_code": u.agency_code, "origin": u.origin,
        "is_current": u.valid_to is None,
    } for u in registry.units if u.origin == origin], schema=arrow_schema(dim_unit))
        for origin in ("reference", "config")}
    ids = pa.Table.from_pylist([{**s.__dict__, "matched_by": "config", "origin": "config"}
                                for s in registry.source_ids],
                               schema=arrow_schema(unit_source_id))
    crosswalk = pa.Table.from_pylist([{
        "old_unit_code": e.old_code, "new_unit_code": e.new_code, "old_level": e.old_level,
        "new_level": e.new_level, "changed_on": REORGANISATION, "weight": e.weight,
        "approximate": e.approximate, "basis": e.basis,
    } for e in unit_crosswalk()], schema=arrow_schema(crosswalk_table))
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
        "direction": i.direction, "formula_version": i.formula_version,
        "summable_over_months": i.summable_over_months,
    } for i in catalogue.indicators], schema=arrow_schema(dim_indicator))
    try:
        schemes = scheme_tables(settings)
    except RuleSetError as exc:
        # A bad rule set stops scoring (the score task reads them itself), not the loads.
        log.error("rule sets not refreshed, the last good ones stay in dim_scheme: %s", exc)
        schemes = []
    replaced = [(dim_unit, units["reference"], {"origin": "reference"}),
                (dim_unit, units["config"], {"origin": "config"}),
                (unit_source_id, ids, {"origin": "config"}), (crosswalk_table, crosswalk, {}),
                (dim_procedure, procedures, {}), (dim_indicator, indicators, {}),
                *((table, rows, {}) for table, rows in schemes)]
    counts: dict[str, int] = {}
    with transaction(settings.warehouse_url) as conn:
        # Every DAG's first task syncs them; loads register units in two of them.
        lock_for_write(conn, "reference tables", "unit tables")
        for table, rows, partition in replaced:
            replace_partition(conn, table, rows, partition)
            counts[table.name] = counts.get(table.name, 0) + rows.num_rows
    return counts


def scheme_tables(settings: Settings) -> list[tuple[Any, pa.Table]]:
    """dim_scheme, dim_criterion and dim_scheme_class from the rule sets."""
    from marts.rulesets import parameters_json
    from steps.scoring import rule_sets
    from warehouse.loader import arrow_schema
    from warehouse.schema import dim_criterion, dim_scheme, dim_scheme_class

    sets = rule_sets(settings).sets
    schemes = [{
        "scheme": s.scheme, "version": s.version, "name_vi": s.name_vi, "name_en": s.name_en,
        "level": s.level, "provinces": ",".join(s.provinces) if s.provinces else "all",
        "valid_from": s.valid_from, "valid_to": s.valid_to,
        "period_types": ",".join(s.period_types), "max_points": s.max_points,
        "decision": s.decision, "example": s.example,
        "file": str(Path(s.file).relative_to(settings.config_dir.parent))
        if Path(s.file).is_relative_to(settings.config_dir.parent) else s.file,
        "file_sha256": s.sha256} for s in sets]
    criteria = [{
        "scheme": s.scheme, "version": s.version, "criterion_code": c.code,
        "parent_code": c.parent, "field_code": c.field, "kind": c.kind,
        "position": c.position, "name_vi": c.name_vi, "name_en": c.name_en,
        "max_points": c.max_points, "scored": c.scored, "source_kind": c.source_kind,
        "source_code": c.source_code, "method": c.method, "parameters": parameters_json(c),
    } for s in sets for c in s.criteria]
    classes = [{"scheme": s.scheme, "version": s.version, "class_code": k.code,
                "name_vi": k.name_vi, "name_en": k.name_en, "min_percent": k.min_percent}
               for s in sets for k in s.classes]
    return [(dim_scheme, pa.Table.from_pylist(schemes, schema=arrow_schema(dim_scheme))),
            (dim_criterion, pa.Table.from_pylist(criteria, schema=arrow_schema(dim_criterion))),
            (dim_scheme_class, pa.Table.from_pylist(classes,
                                                    schema=arrow_schema(dim_scheme_class)))]
