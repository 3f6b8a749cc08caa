"""History from 2019 across the 2025 reorganisation.

- backfill_month (new): what `reformstats backfill` finished, per source and month, so
  that a rerun or a resumed backfill skips it.
- fact_dossier_monthly was partitioned by `province_code`, the province whose one-stop
  system reported. A merged province's system also serves its predecessors' history (An
  Giang's, code 91, serves old An Giang, 89, and old Kiên Giang, 91), so before July 2025
  the province of a row is the unit's own province then, which differs from the system's.
  `source` (`onestop_<province>`) now names the system and is the partition with
  `period_id`; `province_code` is the unit's province in the month's own hierarchy.
  Existing rows keep their values (their province was the system's): `source` is
  filled from it.

- Views of history under today's units (counters rolled up, never rates):
  v_dossier_monthly_current_province and v_portal_monthly_counters_current_province (exact:
  provinces merged whole), v_dossier_monthly_current_commune (exact where every old commune
  went whole into the new one; else `approximate`, with the weights used).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def counts_of(table: str) -> list[str]:
    """A fact table's count columns as the database has them at this revision: its BIGINT
    columns, in their order (rates are NUMERIC, `period_id` an INTEGER)."""
    rows = op.get_bind().execute(sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = :table "
        "AND lower(data_type) = 'bigint' ORDER BY ordinal_position"), {"table": table})
    return [name for (name,) in rows]


def by_current_province(table: str, province: str, counters: list[str]) -> str:
    """A fact table's counters summed per today's province: a row of a province of the 63
    goes to the province it merged into (whole, so exact)."""
    sums = ", ".join(f"sum(f.{c}) AS {c}" for c in counters)
    return f"""
        SELECT coalesce(x.new_unit_code, f.{province}) AS province_code, f.period_id,
               p.label AS period_label,
               string_agg(DISTINCT f.{province}, ',' ORDER BY f.{province})
                   AS from_province_codes,
               {sums}
        FROM {table} f
        JOIN dim_period p ON p.period_id = f.period_id
        LEFT JOIN unit_crosswalk x ON x.old_unit_code = f.{province}
             AND x.old_level = 'province' AND x.new_level = 'province'
             AND p.last_day < x.changed_on
        GROUP BY coalesce(x.new_unit_code, f.{province}), f.period_id, p.label"""


def by_current_commune(counters: list[str]) -> str:
    """fact_dossier_monthly's commune rows per today's commune and procedure: an old
    commune's counters times its weight (the crosswalk's where known, else an equal share
    among the communes it went to), `approximate` where any weight is not whole."""
    columns = ", ".join(f"f.{c}" for c in counters)
    sums = ", ".join(f"sum(m.{c} * m.weight) AS {c}" for c in counters)
    return f"""
        WITH edges AS (
            SELECT old_unit_code, new_unit_code, changed_on, approximate,
                   coalesce(weight, 1.0 / count(*) OVER (PARTITION BY old_unit_code))
                       AS weight
            FROM unit_crosswalk WHERE new_level = 'commune'
        ), mapped AS (
            SELECT coalesce(e.new_unit_code, f.unit_code) AS unit_code, f.period_id,
                   f.procedure_code, f.unit_code AS from_unit_code,
                   coalesce(e.weight, 1.0) AS weight,
                   coalesce(e.approximate, FALSE) AS approximate, {columns}
            FROM fact_dossier_monthly f
            JOIN dim_period p ON p.period_id = f.period_id
            JOIN dim_unit u ON u.unit_code = f.unit_code AND u.valid_from <= p.last_day
                 AND (u.valid_to IS NULL OR u.valid_to > p.last_day)
            LEFT JOIN edges e ON e.old_unit_code = f.unit_code
                 AND p.last_day < e.changed_on
            WHERE u.level = 'commune'
        )
        SELECT m.unit_code, m.period_id, m.procedure_code,
               bool_or(m.approximate) AS approximate,
               string_agg(m.from_unit_code || ':'
                          || CAST(round(CAST(m.weight AS NUMERIC), 4) AS VARCHAR), ','
                          ORDER BY m.from_unit_code) AS weights,
               {sums}
        FROM mapped m
        GROUP BY m.unit_code, m.period_id, m.procedure_code"""


def upgrade() -> None:
    op.create_table(
        "backfill_month",
        sa.Column("source", sa.String(64), primary_key=True),
        sa.Column("period_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("partitions", sa.Integer, nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.String(1000)))
    op.add_column("fact_dossier_monthly", sa.Column(
        "source", sa.String(64),
        comment="the one-stop system that reported the row, onestop_<province> (the load "
                "partition, with period_id)"))
    op.execute("UPDATE fact_dossier_monthly SET source = 'onestop_' || province_code")
    op.alter_column("fact_dossier_monthly", "source", nullable=False)
    # column comments come from warehouse/dictionary.yaml (applied after every upgrade)
    dossier, portal = counts_of("fact_dossier_monthly"), counts_of("fact_portal_monthly_counters")
    views = {
        "v_dossier_monthly_current_province": by_current_province(
            "fact_dossier_monthly", "province_code", dossier),
        "v_portal_monthly_counters_current_province": by_current_province(
            "fact_portal_monthly_counters", "unit_code", portal),
        "v_dossier_monthly_current_commune": by_current_commune(dossier),
    }
    for name, sql in views.items():
        op.execute(f"CREATE VIEW {name} AS {sql}")


def downgrade() -> None:
    raise NotImplementedError("the warehouse is only migrated forward")
