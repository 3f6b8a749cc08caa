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


# Frozen column lists of that time (the live ones in transforms/ may change).
DOSSIER_COUNTERS = (
    "carried_over", "received_total", "received_in_person", "received_online",
    "received_postal", "resolved_total", "resolved_early", "resolved_on_time", "resolved_late",
    "in_progress_on_time", "in_progress_overdue", "paused", "returned", "withdrawn",
    "results_returned_postal", "received_inputs_digitised", "resolved_result_digitised",
    "resolved_e_result", "received_fee_bearing", "received_paid_online", "received_synced")
PORTAL_COUNTS = (
    "dossiers_handled", "dossiers_synced", "received_in_person", "received_postal",
    "received_online", "received_online_nonstandard", "results_returned_on_time",
    "results_returned_late", "processed_on_time", "processed_late",
    "payments_online_national", "payments_online_total", "petitions_received",
    "petitions_on_time", "petitions_late", "tnktcs_total", "tntk_total")
PORTAL_RATES = ("published_on_time_pct", "published_sync_pct", "published_local_payment_pct",
                "published_national_payment_pct")
COMPONENTS = ("ckmb", "tdgq", "clgq", "tttt", "mdhl", "mdsh")


def _text(name: str, length: int, nullable: bool = True, comment: str | None = None
          ) -> sa.Column:
    return sa.Column(name, sa.String(length=length), nullable=nullable, comment=comment)


def _required(name: str, type_: sa.types.TypeEngine, comment: str | None = None) -> sa.Column:
    return sa.Column(name, type_, nullable=False, comment=comment)


def _loaded(fetch: bool = True) -> list[sa.Column]:
    """fetch_id (optional), run_id, loaded_at: which fetch and run a fact row came from."""
    return [*([_required("fetch_id", sa.String(length=64))] if fetch else []),
            _required("run_id", sa.String(length=250)),
            _required("loaded_at", sa.DateTime(timezone=True))]


def _portal_lineage() -> list[sa.Column]:
    return [_text("source_api", 32, False, "legacy_gateway | reporting_api"),
            _text("source_unit_id", 64, comment="the unit's ID in that source"),
            _required("fetch_id", sa.String(length=64),
                      "raw-zone fetch the row was parsed from"),
            _required("run_id", sa.String(length=250), "Airflow run that loaded it"),
            _required("loaded_at", sa.DateTime(timezone=True))]


def _partition_key() -> list[sa.Column]:
    return [_text("run_id", 250, False), _text("source", 64, False),
            _text("dataset", 64, False), _required("period_id", sa.Integer())]


def upgrade() -> None:
    op.create_table(
        "dim_indicator",
        _text("indicator_code", 64, False), _text("name_vi", 255, False),
        _text("name_en", 255, False),
        _text("numerator", 255, False, "counters summed, '+'"),
        _text("denominator", 255, False, "counters summed, '+'"),
        _text("direction", 32, False), _text("formula_version", 32, False),
        _required("summable_over_months", sa.Boolean(),
                  "false when built on month-end stocks: no quarter/half/year view value"),
        sa.PrimaryKeyConstraint("indicator_code"),
        comment="Indicator catalogue (config/indicators.yaml)")
    op.create_table(
        "dim_period",
        sa.Column("period_id", sa.Integer(), autoincrement=False, nullable=False,
                  comment="YYYYMM"),
        *(_required(name, sa.SmallInteger()) for name in ("year", "half", "quarter", "month")),
        _required("first_day", sa.Date()), _required("last_day", sa.Date()),
        sa.PrimaryKeyConstraint("period_id"),
        comment="Calendar months 2019-01 .. 2035-12")
    op.create_table(
        "dim_procedure",
        _text("procedure_code", 32, False, "TTHC code (mã thủ tục), e.g. 1.001193"),
        _text("name_vi", 500, False), _text("field_vi", 255, comment="field (lĩnh vực)"),
        _text("level", 16, comment="level that handles it: province | commune"),
        sa.Column("processing_days", sa.Integer(), comment="statutory processing time, days"),
        sa.Column("fee_bearing", sa.Boolean(), comment="has a fee or charge (phí, lệ phí)"),
        sa.Column("full_online", sa.Boolean(), comment="offered fully online (toàn trình)"),
        sa.PrimaryKeyConstraint("procedure_code"),
        comment="Administrative procedures (thủ tục hành chính)")
    op.create_table(
        "dim_unit",
        _text("unit_code", 32, False, "portal agency code (mã cơ quan), e.g. H97 or H97.101"),
        _required("valid_from", sa.Date()),
        sa.Column("valid_to", sa.Date(), comment="exclusive; NULL while current"),
        _text("name_vi", 255, False),
        _text("level", 16, False, "province | department | commune | district"),
        _text("parent_code", 32), _text("stat_code", 8, comment="statistical code (mã thống kê)"),
        _required("is_current", sa.Boolean()),
        sa.PrimaryKeyConstraint("unit_code", "valid_from"),
        comment="Administrative units and agencies, SCD2 by validity dates")
    op.create_table(
        "dq_result",
        _text("run_id", 250, False),
        _text("source", 64, False, "national_portal | onestop_<province code>"),
        _text("dataset", 64, False), _required("period_id", sa.Integer()),
        _text("check_name", 255, False), _text("fetch_id", 64, False),
        _text("column_name", 128), _text("severity", 16, False, "critical | warning"),
        _required("success", sa.Boolean()), sa.Column("element_count", sa.Integer()),
        sa.Column("unexpected_count", sa.Integer()), sa.Column("details", sa.Text()),
        _required("checked_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("run_id", "source", "dataset", "period_id", "check_name"),
        comment="Outcome of every data-quality check of every run")
    op.create_table(
        "fact_dossier_monthly",
        _text("unit_code", 32, False), _text("procedure_code", 32, False),
        _required("period_id", sa.Integer()),
        _text("province_code", 32, False,
              "province whose one-stop system reported it (the load partition)"),
        *(_required(name, sa.BigInteger()) for name in DOSSIER_COUNTERS), *_loaded(),
        sa.PrimaryKeyConstraint("unit_code", "procedure_code", "period_id"),
        comment="Monthly dossier counters per unit and procedure, computed from dossier exports")
    op.create_table(
        "fact_indicator_monthly",
        _text("unit_code", 32, False), _required("period_id", sa.Integer()),
        _text("indicator_code", 64, False), _text("province_code", 32, False),
        _required("numerator", sa.BigInteger()), _required("denominator", sa.BigInteger()),
        sa.Column("value", sa.Double(),
                  comment="numerator / denominator; NULL when denominator = 0"),
        sa.Column("target", sa.Double(),
                  comment="target for the unit's level and year; NULL: none"),
        sa.Column("met", sa.Boolean(), comment="value meets target; NULL without value or target"),
        _text("formula_version", 32, False), *_loaded(fetch=False),
        sa.PrimaryKeyConstraint("unit_code", "period_id", "indicator_code"),
        comment="Monthly indicators per unit (all procedures), from fact_dossier_monthly")
    op.create_table(
        "fact_portal_monthly_counters",
        _text("unit_code", 32, False), _required("period_id", sa.Integer()),
        *(sa.Column(name, sa.BigInteger()) for name in PORTAL_COUNTS),
        *(sa.Column(name, sa.Numeric(precision=5, scale=1)) for name in PORTAL_RATES),
        *_portal_lineage(),
        sa.PrimaryKeyConstraint("unit_code", "period_id"),
        comment="Province monthly dossier counters from report_by_month_sum_service")
    op.create_table(
        "fact_portal_score",
        _text("unit_code", 32, False), _required("period_id", sa.Integer()),
        _text("unit_level", 16), _text("published_unit_code", 32),
        _text("unit_name", 255, comment="name as published (NFC)"),
        *(sa.Column(name, sa.Numeric(precision=6, scale=2)) for name in COMPONENTS),
        sa.Column("total_score", sa.Numeric(precision=6, scale=2),
                  comment="TONG_SCORE / totalScore as published"),
        sa.Column("published_rank", sa.Integer(),
                  comment="ROW_STT within the list it came from"),
        *_portal_lineage(),
        sa.PrimaryKeyConstraint("unit_code", "period_id"),
        comment="Decision 766 service-quality scores per unit and month, as published")
    op.create_table(
        "load_audit",
        *_partition_key(), _text("fetch_id", 64, False),
        *(_required(name, sa.Integer()) for name in ("rows_in", "rows_loaded",
                                                     "rows_quarantined")),
        _text("raw_sha256", 64, False, "sha256 over the fetch's response hashes, in order"),
        _text("status", 16, False), _required("loaded_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("run_id", "source", "dataset", "period_id"),
        comment="One row per partition load: what came in, what was loaded or quarantined")
    op.create_table(
        "quarantine_row",
        _text("dataset", 64, False), _required("period_id", sa.Integer()),
        _text("fetch_id", 64, False), _required("record_index", sa.Integer()),
        _text("source", 64, False), _text("unit_code", 32), _text("source_unit_id", 64),
        _required("reasons", sa.Text(), "failed checks, '; '-separated"),
        _required("row_json", sa.Text(), "the normalised row as JSON"),
        _text("run_id", 250, False), _required("quarantined_at", sa.DateTime(timezone=True)),
        sa.PrimaryKeyConstraint("dataset", "period_id", "fetch_id", "record_index"),
        comment="Rows that failed a critical check; the latest run of a partition replaces it")
    op.create_table(
        "unit_source_id",
        _text("scheme", 32, False, "legacy_766 | legacy_tinh | reporting | ..."),
        _text("source_id", 64, False), _required("valid_from", sa.Date()),
        sa.Column("valid_to", sa.Date()), _text("unit_code", 32, False),
        sa.PrimaryKeyConstraint("scheme", "source_id", "valid_from"),
        comment="Crosswalk from each source's unit IDs to unit_code")
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
