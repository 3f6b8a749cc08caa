"""Real units and every published period.

- dim_unit: statistical codes of both eras (SCD2) with `agency_code` and `origin`
  (reference | portal | override); unit_source_id gains provenance (how it was matched,
  from which dataset, period and fetch); unit_crosswalk (old -> new units) and
  unit_match_issue (units that matched nothing, or more than once) are new.
- dim_period holds every period type (month, quarter, half, year, year to date), each with
  its own period_id, so a quarter or a year to date is a partition of its own.
- fact_portal_score says which list a row came in (`list_scope`); v_portal_score ranks
  within it and one view per period type selects from it.

dim_unit, unit_source_id and dim_period are rebuilt (reference data: dim_period is filled
here, the units by the next run's refresh_reference); fact data is never rewritten.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from domain.periods import all_periods

revision = "0004"
down_revision = "0003"

UNIT_CODE = ("statistical code (mã thống kê: province 2 digits, district 3, commune 5) for "
             "administrative units; the portal agency code (e.g. H01.13) for departments and "
             "agencies, which no statistical list holds")

V_PORTAL_SCORE = """
    SELECT f.period_id, p.period_type, p.label AS period_label, p.year,
           p.first_day, p.last_day, f.unit_code, u.name_vi AS unit_name_vi,
           f.unit_level, f.list_scope,
           CASE WHEN f.unit_level = 'province' THEN f.unit_code
                WHEN f.list_scope <> 'national' THEN f.list_scope  -- the province's list
                ELSE u.parent_code END AS province_code,
           f.ckmb, f.tdgq, f.clgq, f.tttt, f.mdhl, f.mdsh, f.total_score, f.published_rank,
           RANK() OVER (PARTITION BY f.period_id, f.list_scope, f.unit_level
                        ORDER BY f.total_score DESC) AS rank_in_list,
           f.source_api, f.fetch_id
    FROM fact_portal_score f
    JOIN dim_period p ON p.period_id = f.period_id
    LEFT JOIN dim_unit u ON u.unit_code = f.unit_code AND u.valid_from <= p.last_day
         AND (u.valid_to IS NULL OR u.valid_to > p.last_day)
"""
PER_TYPE = {"monthly": "month", "quarterly": "quarter", "half_yearly": "half",
            "yearly": "year", "year_to_date": "year_to_date"}


def _views_of_0001() -> dict[str, str]:
    """The views as revision 0001 froze them (all but v_portal_score are unchanged)."""
    import importlib

    return importlib.import_module(
        "warehouse.migrations.versions.0001_initial_schema").VIEWS


def upgrade() -> None:
    # DuckDB cannot ALTER a table and write to it in one transaction, nor drop a table a
    # view reads. The three reference tables are therefore rebuilt (behind their views):
    # dim_period is filled here, dim_unit and unit_source_id by every run's
    # refresh_reference, which the loads wait for.
    old_views = _views_of_0001()
    for name in old_views:
        op.execute(f"DROP VIEW {name}")
    for table in ("dim_unit", "unit_source_id", "dim_period"):
        op.drop_table(table)

    # -- units ---------------------------------------------------------------------------
    op.create_table(
        "dim_unit",
        sa.Column("unit_code", sa.String(32), nullable=False, comment=UNIT_CODE),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), comment="exclusive; NULL while current"),
        sa.Column("name_vi", sa.String(255), nullable=False, comment="NFC"),
        sa.Column("level", sa.String(16), nullable=False,
                  comment="province | department | district | commune"),
        sa.Column("parent_code", sa.String(32), comment="unit_code of the parent then"),
        sa.Column("stat_code", sa.String(8), comment="statistical code (mã thống kê)"),
        sa.Column("agency_code", sa.String(32),
                  comment="portal agency code (mã định danh), short form, where known"),
        sa.Column("origin", sa.String(16), nullable=False,
                  comment="reference (vietnam-provinces, vietnamadminunits) | portal "
                          "(registered from the portal's lists) | override "
                          "(config/units/overrides.csv)"),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "valid_from"),
        comment="Administrative units and agencies of both eras, SCD2 by validity dates")
    op.create_table(
        "unit_source_id",
        sa.Column("scheme", sa.String(32), nullable=False,
                  comment="legacy_766 | legacy_tinh | reporting | agency_code | "
                          "onestop_agency"),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False,
                  comment="validity of the unit version it names"),
        sa.Column("valid_to", sa.Date()),
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.Column("matched_by", sa.String(32), nullable=False,
                  comment="override | source_id | stat_code | agency_code | name | "
                          "registered | config"),
        sa.Column("origin", sa.String(16), nullable=False,
                  comment="portal | config | override"),
        sa.Column("source_dataset", sa.String(64), comment="dataset whose answer carried it"),
        sa.Column("first_seen_period_id", sa.Integer(), comment="period of the first answer"),
        sa.Column("first_fetch_id", sa.String(64),
                  comment="raw-zone fetch of the first answer"),
        sa.Column("last_fetch_id", sa.String(64),
                  comment="raw-zone fetch of the latest answer"),
        sa.PrimaryKeyConstraint("scheme", "source_id", "valid_from"),
        comment="Crosswalk from each source's unit IDs to unit_code, with provenance")
    op.create_table(
        "unit_crosswalk",
        sa.Column("old_unit_code", sa.String(32), nullable=False,
                  comment="unit before the 1 July 2025 reorganisation"),
        sa.Column("new_unit_code", sa.String(32), nullable=False, comment="unit from it"),
        sa.Column("old_level", sa.String(16), nullable=False),
        sa.Column("new_level", sa.String(16), nullable=False),
        sa.Column("changed_on", sa.Date(), nullable=False,
                  comment="first day of the new unit"),
        sa.Column("weight", sa.Double(),
                  comment="share of the old unit that went to the new one; NULL: not known"),
        sa.Column("approximate", sa.Boolean(), nullable=False,
                  comment="the old unit was split: a roll-up along this edge is not exact"),
        sa.Column("basis", sa.String(32), nullable=False,
                  comment="whole_province | whole_commune | divided_commune | special_zone"),
        sa.PrimaryKeyConstraint("old_unit_code", "new_unit_code"),
        comment="Old -> new administrative units (many-to-many), from vietnamadminunits")
    op.create_table(
        "unit_match_issue",
        sa.Column("dataset", sa.String(64), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("scheme", sa.String(32), nullable=False),
        sa.Column("source_id", sa.String(64), nullable=False),
        sa.Column("problem", sa.String(16), nullable=False, comment="unmatched | ambiguous"),
        sa.Column("unit_name", sa.String(255), comment="as the source named it (NFC)"),
        sa.Column("published_unit_code", sa.String(64), comment="agency code as sent"),
        sa.Column("unit_level", sa.String(16)),
        sa.Column("parent_code", sa.String(32),
                  comment="the province whose list it came in"),
        sa.Column("candidates", sa.Text(), comment="unit codes it matched more than once"),
        sa.Column("fetch_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dataset", "period_id", "scheme", "source_id"),
        comment="Units a source sent that matched no reference unit, or more than one; "
                "resolved in config/units/overrides.csv (`reformstats units unmatched`)")

    # -- periods -------------------------------------------------------------------------
    op.create_table(
        "dim_period",
        sa.Column("period_id", sa.Integer(), autoincrement=False, nullable=False,
                  comment="year*100 + month (month) | 20+quarter | 30+half | 0 (year) | "
                          "40+month (year to date)"),
        sa.Column("period_type", sa.String(16), nullable=False,
                  comment="month | quarter | half | year | year_to_date"),
        sa.Column("label", sa.String(16), nullable=False,
                  comment="2026-03 | 2026-Q1 | 2026-H1 | 2026 | 2026-YTD03"),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("half", sa.SmallInteger(), nullable=False, comment="of the last month"),
        sa.Column("quarter", sa.SmallInteger(), nullable=False, comment="of the last month"),
        sa.Column("month", sa.SmallInteger(), nullable=False, comment="the last month"),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("period_id"),
        comment="Reporting periods of every type, 2019 .. 2035")
    columns = ("period_id", "period_type", "label", "year", "half", "quarter", "month",
               "first_day", "last_day")
    op.bulk_insert(sa.table("dim_period", *(sa.column(c) for c in columns)), [
        {"period_id": p.period_id, "period_type": p.period_type, "label": p.label,
         "year": p.year, "half": p.last_month.half, "quarter": p.last_month.quarter,
         "month": p.last_month.month, "first_day": p.first_day, "last_day": p.last_day}
        for p in all_periods(2019, 2035)])

    # -- 766 scores ----------------------------------------------------------------------
    op.add_column("fact_portal_score", sa.Column(
        "list_scope", sa.String(32),
        comment="national (the provinces) | the province unit_code whose departments and "
                "communes the list held; NULL for rows loaded before 0004"))
    op.execute("COMMENT ON TABLE fact_portal_score IS 'Decision 766 service-quality scores "
               "per unit and period, as published'")
    for name, sql in {**old_views, "v_portal_score": V_PORTAL_SCORE}.items():
        op.execute(f"CREATE VIEW {name} AS {sql}")
    for name, period_type in PER_TYPE.items():
        op.execute(f"CREATE VIEW v_portal_score_{name} AS SELECT * FROM v_portal_score "
                   f"WHERE period_type = '{period_type}'")


def downgrade() -> None:
    raise NotImplementedError("the warehouse is only migrated forward")
