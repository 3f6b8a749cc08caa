"""Initial schema: the warehouse as the loader created it before migrations.

Tables, views and the calendar (dim_period 2019-01 .. 2035-12) exactly as
`warehouse.engine.ensure_schema` made them up to 2026-11; a warehouse of that time is
stamped at this revision and upgraded from here. Frozen: never edit it, add a revision.

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-01 20:35:58.135405
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The analysts' views as they were (SQL frozen with this revision).
VIEWS = {
    "v_portal_score": """
        SELECT f.period_id, p.year, p.month, f.unit_code, u.name_vi AS unit_name_vi,
               u.level AS unit_level, u.parent_code AS province_code,
               f.ckmb, f.tdgq, f.clgq, f.tttt, f.mdhl, f.mdsh, f.total_score,
               RANK() OVER (PARTITION BY f.period_id, u.parent_code, u.level
                            ORDER BY f.total_score DESC) AS rank_in_province_level,
               f.source_api, f.fetch_id
        FROM fact_portal_score f
        JOIN dim_period p ON p.period_id = f.period_id
        LEFT JOIN dim_unit u ON u.unit_code = f.unit_code AND u.valid_from <= p.last_day
             AND (u.valid_to IS NULL OR u.valid_to > p.last_day)
    """,
    "v_portal_monthly_counters": """
        SELECT f.*, u.name_vi AS unit_name_vi,
               f.received_online * 1.0 / NULLIF(f.dossiers_handled, 0) AS online_intake_share,
               f.processed_on_time * 1.0
                   / NULLIF(f.processed_on_time + f.processed_late, 0) AS on_time_share
        FROM fact_portal_monthly_counters f
        JOIN dim_period p ON p.period_id = f.period_id
        LEFT JOIN dim_unit u ON u.unit_code = f.unit_code AND u.valid_from <= p.last_day
             AND (u.valid_to IS NULL OR u.valid_to > p.last_day)
    """,
    "v_indicator_monthly": """
        SELECT f.period_id, p.year, p.quarter, p.month, f.unit_code, u.name_vi AS unit_name_vi,
               u.level AS unit_level, f.province_code, f.indicator_code, i.name_vi, i.name_en,
               f.numerator, f.denominator, f.value, f.target, f.met, f.formula_version
        FROM fact_indicator_monthly f
        JOIN dim_period p ON p.period_id = f.period_id
        LEFT JOIN dim_indicator i ON i.indicator_code = f.indicator_code
        LEFT JOIN dim_unit u ON u.unit_code = f.unit_code AND u.valid_from <= p.last_day
             AND (u.valid_to IS NULL OR u.valid_to > p.last_day)
    """,
    **{
        f"v_indicator_{name}": f"""
        SELECT f.unit_code, f.province_code, f.indicator_code, p.year{key},
               count(DISTINCT f.period_id) AS months,
               sum(f.numerator) AS numerator, sum(f.denominator) AS denominator,
               CASE WHEN sum(f.denominator) > 0
                    THEN sum(f.numerator) * 1.0 / sum(f.denominator) END AS value,
               max(f.target) AS target
        FROM fact_indicator_monthly f
        JOIN dim_period p ON p.period_id = f.period_id
        JOIN dim_indicator i ON i.indicator_code = f.indicator_code AND i.summable_over_months
        GROUP BY f.unit_code, f.province_code, f.indicator_code, p.year{key}
    """
        for name, key in (("quarterly", ", p.quarter"), ("half_yearly", ", p.half"), ("yearly", ""))
    },
}


def upgrade() -> None:
    op.create_table(
        "dim_indicator",
        sa.Column("indicator_code", sa.String(length=64), nullable=False),
        sa.Column("name_vi", sa.String(length=255), nullable=False),
        sa.Column("name_en", sa.String(length=255), nullable=False),
        sa.Column(
            "numerator", sa.String(length=255), nullable=False, comment="counters summed, '+'"
        ),
        sa.Column(
            "denominator", sa.String(length=255), nullable=False, comment="counters summed, '+'"
        ),
        sa.Column("direction", sa.String(length=32), nullable=False),
        sa.Column("formula_version", sa.String(length=32), nullable=False),
        sa.Column(
            "summable_over_months",
            sa.Boolean(),
            nullable=False,
            comment="false when built on month-end stocks: no quarter/half/year view value",
        ),
        sa.PrimaryKeyConstraint("indicator_code"),
        comment="Indicator catalogue (config/indicators.yaml)",
    )
    op.create_table(
        "dim_period",
        sa.Column("period_id", sa.Integer(), autoincrement=False, nullable=False, comment="YYYYMM"),
        sa.Column("year", sa.SmallInteger(), nullable=False),
        sa.Column("half", sa.SmallInteger(), nullable=False),
        sa.Column("quarter", sa.SmallInteger(), nullable=False),
        sa.Column("month", sa.SmallInteger(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("period_id"),
        comment="Calendar months 2019-01 .. 2035-12",
    )
    op.create_table(
        "dim_procedure",
        sa.Column(
            "procedure_code",
            sa.String(length=32),
            nullable=False,
            comment="TTHC code (mã thủ tục), e.g. 1.001193",
        ),
        sa.Column("name_vi", sa.String(length=500), nullable=False),
        sa.Column("field_vi", sa.String(length=255), nullable=True, comment="field (lĩnh vực)"),
        sa.Column(
            "level",
            sa.String(length=16),
            nullable=True,
            comment="level that handles it: province | commune",
        ),
        sa.Column(
            "processing_days",
            sa.Integer(),
            nullable=True,
            comment="statutory processing time, days",
        ),
        sa.Column(
            "fee_bearing", sa.Boolean(), nullable=True, comment="has a fee or charge (phí, lệ phí)"
        ),
        sa.Column(
            "full_online", sa.Boolean(), nullable=True, comment="offered fully online (toàn trình)"
        ),
        sa.PrimaryKeyConstraint("procedure_code"),
        comment="Administrative procedures (thủ tục hành chính)",
    )
    op.create_table(
        "dim_unit",
        sa.Column(
            "unit_code",
            sa.String(length=32),
            nullable=False,
            comment="portal agency code (mã cơ quan), e.g. H97 or H97.101",
        ),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True, comment="exclusive; NULL while current"),
        sa.Column("name_vi", sa.String(length=255), nullable=False),
        sa.Column(
            "level",
            sa.String(length=16),
            nullable=False,
            comment="province | department | commune | district",
        ),
        sa.Column("parent_code", sa.String(length=32), nullable=True),
        sa.Column(
            "stat_code",
            sa.String(length=8),
            nullable=True,
            comment="statistical code (mã thống kê)",
        ),
        sa.Column("is_current", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "valid_from"),
        comment="Administrative units and agencies, SCD2 by validity dates",
    )
    op.create_table(
        "dq_result",
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column(
            "source",
            sa.String(length=64),
            nullable=False,
            comment="national_portal | onestop_<province code>",
        ),
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("check_name", sa.String(length=255), nullable=False),
        sa.Column("fetch_id", sa.String(length=64), nullable=False),
        sa.Column("column_name", sa.String(length=128), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False, comment="critical | warning"),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("element_count", sa.Integer(), nullable=True),
        sa.Column("unexpected_count", sa.Integer(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "source", "dataset", "period_id", "check_name"),
        comment="Outcome of every data-quality check of every run",
    )
    op.create_table(
        "fact_dossier_monthly",
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("procedure_code", sa.String(length=32), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column(
            "province_code",
            sa.String(length=32),
            nullable=False,
            comment="province whose one-stop system reported it (the load partition)",
        ),
        sa.Column("carried_over", sa.BigInteger(), nullable=False),
        sa.Column("received_total", sa.BigInteger(), nullable=False),
        sa.Column("received_in_person", sa.BigInteger(), nullable=False),
        sa.Column("received_online", sa.BigInteger(), nullable=False),
        sa.Column("received_postal", sa.BigInteger(), nullable=False),
        sa.Column("resolved_total", sa.BigInteger(), nullable=False),
        sa.Column("resolved_early", sa.BigInteger(), nullable=False),
        sa.Column("resolved_on_time", sa.BigInteger(), nullable=False),
        sa.Column("resolved_late", sa.BigInteger(), nullable=False),
        sa.Column("in_progress_on_time", sa.BigInteger(), nullable=False),
        sa.Column("in_progress_overdue", sa.BigInteger(), nullable=False),
        sa.Column("paused", sa.BigInteger(), nullable=False),
        sa.Column("returned", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn", sa.BigInteger(), nullable=False),
        sa.Column("results_returned_postal", sa.BigInteger(), nullable=False),
        sa.Column("received_inputs_digitised", sa.BigInteger(), nullable=False),
        sa.Column("resolved_result_digitised", sa.BigInteger(), nullable=False),
        sa.Column("resolved_e_result", sa.BigInteger(), nullable=False),
        sa.Column("received_fee_bearing", sa.BigInteger(), nullable=False),
        sa.Column("received_paid_online", sa.BigInteger(), nullable=False),
        sa.Column("received_synced", sa.BigInteger(), nullable=False),
        sa.Column("fetch_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "procedure_code", "period_id"),
        comment="Monthly dossier counters per unit and procedure, computed from dossier exports",
    )
    op.create_table(
        "fact_indicator_monthly",
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("indicator_code", sa.String(length=64), nullable=False),
        sa.Column("province_code", sa.String(length=32), nullable=False),
        sa.Column("numerator", sa.BigInteger(), nullable=False),
        sa.Column("denominator", sa.BigInteger(), nullable=False),
        sa.Column(
            "value",
            sa.Double(),
            nullable=True,
            comment="numerator / denominator; NULL when denominator = 0",
        ),
        sa.Column(
            "target",
            sa.Double(),
            nullable=True,
            comment="target for the unit's level and year; NULL: none",
        ),
        sa.Column(
            "met",
            sa.Boolean(),
            nullable=True,
            comment="value meets target; NULL without value or target",
        ),
        sa.Column("formula_version", sa.String(length=32), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "period_id", "indicator_code"),
        comment="Monthly indicators per unit (all procedures), from fact_dossier_monthly",
    )
    op.create_table(
        "fact_portal_monthly_counters",
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("dossiers_handled", sa.BigInteger(), nullable=True),
        sa.Column("dossiers_synced", sa.BigInteger(), nullable=True),
        sa.Column("received_in_person", sa.BigInteger(), nullable=True),
        sa.Column("received_postal", sa.BigInteger(), nullable=True),
        sa.Column("received_online", sa.BigInteger(), nullable=True),
        sa.Column("received_online_nonstandard", sa.BigInteger(), nullable=True),
        sa.Column("results_returned_on_time", sa.BigInteger(), nullable=True),
        sa.Column("results_returned_late", sa.BigInteger(), nullable=True),
        sa.Column("processed_on_time", sa.BigInteger(), nullable=True),
        sa.Column("processed_late", sa.BigInteger(), nullable=True),
        sa.Column("payments_online_national", sa.BigInteger(), nullable=True),
        sa.Column("payments_online_total", sa.BigInteger(), nullable=True),
        sa.Column("petitions_received", sa.BigInteger(), nullable=True),
        sa.Column("petitions_on_time", sa.BigInteger(), nullable=True),
        sa.Column("petitions_late", sa.BigInteger(), nullable=True),
        sa.Column("tnktcs_total", sa.BigInteger(), nullable=True),
        sa.Column("tntk_total", sa.BigInteger(), nullable=True),
        sa.Column("published_on_time_pct", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column("published_sync_pct", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column("published_local_payment_pct", sa.Numeric(precision=5, scale=1), nullable=True),
        sa.Column(
            "published_national_payment_pct", sa.Numeric(precision=5, scale=1), nullable=True
        ),
        sa.Column(
            "source_api",
            sa.String(length=32),
            nullable=False,
            comment="legacy_gateway | reporting_api",
        ),
        sa.Column(
            "source_unit_id",
            sa.String(length=64),
            nullable=True,
            comment="the unit's ID in that source",
        ),
        sa.Column(
            "fetch_id",
            sa.String(length=64),
            nullable=False,
            comment="raw-zone fetch the row was parsed from",
        ),
        sa.Column(
            "run_id", sa.String(length=250), nullable=False, comment="Airflow run that loaded it"
        ),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "period_id"),
        comment="Province monthly dossier counters from report_by_month_sum_service",
    )
    op.create_table(
        "fact_portal_score",
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("unit_level", sa.String(length=16), nullable=True),
        sa.Column("published_unit_code", sa.String(length=32), nullable=True),
        sa.Column(
            "unit_name", sa.String(length=255), nullable=True, comment="name as published (NFC)"
        ),
        sa.Column("ckmb", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("tdgq", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("clgq", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("tttt", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("mdhl", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column("mdsh", sa.Numeric(precision=6, scale=2), nullable=True),
        sa.Column(
            "total_score",
            sa.Numeric(precision=6, scale=2),
            nullable=True,
            comment="TONG_SCORE / totalScore as published",
        ),
        sa.Column(
            "published_rank",
            sa.Integer(),
            nullable=True,
            comment="ROW_STT within the list it came from",
        ),
        sa.Column(
            "source_api",
            sa.String(length=32),
            nullable=False,
            comment="legacy_gateway | reporting_api",
        ),
        sa.Column(
            "source_unit_id",
            sa.String(length=64),
            nullable=True,
            comment="the unit's ID in that source",
        ),
        sa.Column(
            "fetch_id",
            sa.String(length=64),
            nullable=False,
            comment="raw-zone fetch the row was parsed from",
        ),
        sa.Column(
            "run_id", sa.String(length=250), nullable=False, comment="Airflow run that loaded it"
        ),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "period_id"),
        comment="Decision 766 service-quality scores per unit and month, as published",
    )
    op.create_table(
        "load_audit",
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("fetch_id", sa.String(length=64), nullable=False),
        sa.Column("rows_in", sa.Integer(), nullable=False),
        sa.Column("rows_loaded", sa.Integer(), nullable=False),
        sa.Column("rows_quarantined", sa.Integer(), nullable=False),
        sa.Column(
            "raw_sha256",
            sa.String(length=64),
            nullable=False,
            comment="sha256 over the fetch's response hashes, in order",
        ),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "source", "dataset", "period_id"),
        comment="One row per partition load: what came in, what was loaded or quarantined",
    )
    op.create_table(
        "quarantine_row",
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("fetch_id", sa.String(length=64), nullable=False),
        sa.Column("record_index", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=True),
        sa.Column("source_unit_id", sa.String(length=64), nullable=True),
        sa.Column("reasons", sa.Text(), nullable=False, comment="failed checks, '; '-separated"),
        sa.Column("row_json", sa.Text(), nullable=False, comment="the normalised row as JSON"),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dataset", "period_id", "fetch_id", "record_index"),
        comment="Rows that failed a critical check; the latest run of a partition replaces it",
    )
    op.create_table(
        "unit_source_id",
        sa.Column(
            "scheme",
            sa.String(length=32),
            nullable=False,
            comment="legacy_766 | legacy_tinh | reporting | ...",
        ),
        sa.Column("source_id", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("scheme", "source_id", "valid_from"),
        comment="Crosswalk from each source's unit IDs to unit_code",
    )
    for name, sql in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {sql}")
    dim_period = sa.table(
        "dim_period",
        *(
            sa.column(c)
            for c in ("period_id", "year", "half", "quarter", "month", "first_day", "last_day")
        ),
    )
    rows = []
    for year in range(2019, 2036):
        for month in range(1, 13):
            first = dt.date(year, month, 1)
            following = dt.date(year + month // 12, month % 12 + 1, 1)
            rows.append(
                {
                    "period_id": year * 100 + month,
                    "year": year,
                    "half": 1 if month <= 6 else 2,
                    "quarter": (month - 1) // 3 + 1,
                    "month": month,
                    "first_day": first,
                    "last_day": following - dt.timedelta(days=1),
                }
            )
    op.bulk_insert(dim_period, rows)


def downgrade() -> None:
    raise NotImplementedError("the warehouse is only migrated forward")
