"""Warehouse schema (SQLAlchemy Core), identical on DuckDB and PostgreSQL.

Table and column names are the analysts' contract (docs/data_dictionary.md). Facts keep
numerators and denominators (counts), never only rates. Descriptions are not written here:
every table's and column's comment comes from warehouse/dictionary.yaml (attached at the
end of this module), the one source the upgrade writes into the database and the data
dictionary is generated from; a new table or column needs its entry there.
This module is the current shape; the database gets it through the migrations in
warehouse/migrations/ (`reformstats db upgrade`), which also hold the views' SQL, and a
test checks that the two agree.
"""

from __future__ import annotations

import sqlalchemy as sa

from transforms.dossiers import COUNTER_COLUMNS as DOSSIER_COUNTERS
from transforms.eoffice import MEASURES as DOCUMENT_COUNTS
from transforms.national_portal import COMPONENT_COLUMNS, MONTHLY_COUNT_FIELDS, MONTHLY_RATE_FIELDS
from warehouse.dictionary import attach_comments

metadata = sa.MetaData()


def _loaded(*, fetch: bool = True) -> list[sa.Column]:
    """Which raw-zone fetch (where there is one) and Airflow run wrote a fact row, when."""
    return [*([sa.Column("fetch_id", sa.String(64), nullable=False)] if fetch else []),
            sa.Column("run_id", sa.String(250), nullable=False),
            sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False)]


def _lineage() -> list[sa.Column]:
    """What a row parsed from a portal answer carries to say where it came from."""
    return [
        sa.Column("source_api", sa.String(32), nullable=False),
        sa.Column("source_unit_id", sa.String(64)),
        sa.Column("fetch_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _load_key(*, primary_key: bool) -> list[sa.Column]:
    """run, source, dataset, period: one partition load (load_audit, dq_result)."""
    return [sa.Column("run_id", sa.String(250), primary_key=primary_key, nullable=False),
            sa.Column("source", sa.String(64), primary_key=primary_key, nullable=False),
            sa.Column("dataset", sa.String(64), primary_key=primary_key, nullable=False),
            sa.Column("period_id", sa.Integer, primary_key=primary_key, nullable=False,
                      autoincrement=False)]


dim_unit = sa.Table(
    "dim_unit", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("valid_from", sa.Date, primary_key=True),
    sa.Column("valid_to", sa.Date),
    sa.Column("name_vi", sa.String(255), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("parent_code", sa.String(32)),
    sa.Column("stat_code", sa.String(8)),
    sa.Column("agency_code", sa.String(32)),
    sa.Column("origin", sa.String(16), nullable=False),
    sa.Column("is_current", sa.Boolean, nullable=False),
)

unit_source_id = sa.Table(
    "unit_source_id", metadata,
    sa.Column("scheme", sa.String(32), primary_key=True),
    sa.Column("source_id", sa.String(64), primary_key=True),
    sa.Column("valid_from", sa.Date, primary_key=True),
    sa.Column("valid_to", sa.Date),
    sa.Column("unit_code", sa.String(32), nullable=False),
    sa.Column("matched_by", sa.String(32), nullable=False),
    sa.Column("origin", sa.String(16), nullable=False),
    sa.Column("source_dataset", sa.String(64)),
    sa.Column("first_seen_period_id", sa.Integer),
    sa.Column("first_fetch_id", sa.String(64)),
    sa.Column("last_fetch_id", sa.String(64)),
)

unit_crosswalk = sa.Table(
    "unit_crosswalk", metadata,
    sa.Column("old_unit_code", sa.String(32), primary_key=True),
    sa.Column("new_unit_code", sa.String(32), primary_key=True),
    sa.Column("old_level", sa.String(16), nullable=False),
    sa.Column("new_level", sa.String(16), nullable=False),
    sa.Column("changed_on", sa.Date, nullable=False),
    sa.Column("weight", sa.Double),
    sa.Column("approximate", sa.Boolean, nullable=False),
    sa.Column("basis", sa.String(32), nullable=False),
)

unit_match_issue = sa.Table(
    "unit_match_issue", metadata,
    sa.Column("dataset", sa.String(64), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    sa.Column("scheme", sa.String(32), primary_key=True),
    sa.Column("source_id", sa.String(64), primary_key=True),
    sa.Column("problem", sa.String(16), nullable=False),
    sa.Column("unit_name", sa.String(255)),
    sa.Column("published_unit_code", sa.String(64)),
    sa.Column("unit_level", sa.String(16)),
    sa.Column("parent_code", sa.String(32)),
    sa.Column("candidates", sa.Text),
    sa.Column("fetch_id", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
)

dim_period = sa.Table(
    "dim_period", metadata,
    sa.Column("period_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("period_type", sa.String(16), nullable=False),
    sa.Column("label", sa.String(16), nullable=False),
    sa.Column("year", sa.SmallInteger, nullable=False),
    sa.Column("half", sa.SmallInteger, nullable=False),
    sa.Column("quarter", sa.SmallInteger, nullable=False),
    sa.Column("month", sa.SmallInteger, nullable=False),
    sa.Column("first_day", sa.Date, nullable=False),
    sa.Column("last_day", sa.Date, nullable=False),
)

fact_portal_score = sa.Table(
    "fact_portal_score", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    sa.Column("unit_level", sa.String(16)),
    sa.Column("published_unit_code", sa.String(32)),
    sa.Column("unit_name", sa.String(255)),
    *[sa.Column(c, sa.Numeric(6, 2)) for c in COMPONENT_COLUMNS],
    sa.Column("total_score", sa.Numeric(6, 2)),
    sa.Column("published_rank", sa.Integer),
    sa.Column("list_scope", sa.String(32)),
    *_lineage(),
)

fact_portal_monthly_counters = sa.Table(
    "fact_portal_monthly_counters", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    *[sa.Column(c, sa.BigInteger) for c in MONTHLY_COUNT_FIELDS.values()],
    *[sa.Column(c, sa.Numeric(5, 1)) for c in MONTHLY_RATE_FIELDS.values()],
    *_lineage(),
)

quarantine_row = sa.Table(
    "quarantine_row", metadata,
    sa.Column("dataset", sa.String(64), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    sa.Column("fetch_id", sa.String(64), primary_key=True),
    sa.Column("record_index", sa.Integer, primary_key=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("unit_code", sa.String(32)),
    sa.Column("source_unit_id", sa.String(64)),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("row_json", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
)

dq_result = sa.Table(
    "dq_result", metadata,
    sa.Column("result_id", sa.String(32), primary_key=True),
    *_load_key(primary_key=False),
    sa.Column("check_name", sa.String(255), nullable=False),
    sa.Column("unit_code", sa.String(32)),
    sa.Column("fetch_id", sa.String(64), nullable=False),
    sa.Column("column_name", sa.String(128)),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("element_count", sa.Integer), sa.Column("unexpected_count", sa.Integer),
    sa.Column("details", sa.Text),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_dq_result_partition", "run_id", "source", "dataset", "period_id"),
)

load_audit = sa.Table(
    "load_audit", metadata,
    *_load_key(primary_key=True),
    sa.Column("fetch_id", sa.String(64), nullable=False),
    *(sa.Column(name, sa.Integer, nullable=False)
      for name in ("rows_in", "rows_loaded", "rows_quarantined")),
    sa.Column("raw_sha256", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
)

dim_procedure = sa.Table(
    "dim_procedure", metadata,
    sa.Column("procedure_code", sa.String(32), primary_key=True),
    sa.Column("name_vi", sa.String(500), nullable=False),
    sa.Column("field_vi", sa.String(255)),
    sa.Column("level", sa.String(16)),
    sa.Column("processing_days", sa.Integer),
    sa.Column("fee_bearing", sa.Boolean),
    sa.Column("full_online", sa.Boolean),
)

fact_dossier_monthly = sa.Table(
    "fact_dossier_monthly", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("procedure_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    sa.Column("province_code", sa.String(32), nullable=False),
    *[sa.Column(c, sa.BigInteger, nullable=False) for c in DOSSIER_COUNTERS],
    *_loaded(),
    sa.Column("source", sa.String(64), nullable=False),  # 0007: the load partition
)

fact_document_monthly = sa.Table(  # 0008
    "fact_document_monthly", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("province_code", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(8), nullable=False),
    *[sa.Column(c, sa.BigInteger, nullable=False) for c in DOCUMENT_COUNTS],
    sa.Column("source_unit_id", sa.String(64)),
    sa.Column("source_file", sa.String(255)),
    *_loaded(),
)

dim_indicator = sa.Table(
    "dim_indicator", metadata,
    sa.Column("indicator_code", sa.String(64), primary_key=True),
    sa.Column("name_vi", sa.String(255), nullable=False),
    sa.Column("name_en", sa.String(255), nullable=False),
    sa.Column("numerator", sa.String(255), nullable=False),
    sa.Column("denominator", sa.String(255), nullable=False),
    sa.Column("direction", sa.String(32), nullable=False),
    sa.Column("formula_version", sa.String(32), nullable=False),
    sa.Column("summable_over_months", sa.Boolean, nullable=False),
)

fact_indicator_monthly = sa.Table(
    "fact_indicator_monthly", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    sa.Column("indicator_code", sa.String(64), primary_key=True),
    sa.Column("province_code", sa.String(32), nullable=False),
    sa.Column("numerator", sa.BigInteger, nullable=False),
    sa.Column("denominator", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Double),
    sa.Column("target", sa.Double),
    sa.Column("met", sa.Boolean),
    sa.Column("formula_version", sa.String(32), nullable=False),
    *_loaded(fetch=False),
)

fact_portal_metric = sa.Table(
    "fact_portal_metric", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    sa.Column("metric_group", sa.String(64), primary_key=True),
    sa.Column("metric_code", sa.String(64), primary_key=True),
    sa.Column("metric_name", sa.String(500)),
    sa.Column("numerator", sa.BigInteger),
    sa.Column("denominator", sa.BigInteger),
    sa.Column("ratio", sa.Numeric(7, 2)),
    sa.Column("score", sa.Numeric(6, 2)),
    sa.Column("max_score", sa.Numeric(6, 2)),
    sa.Column("unit_level", sa.String(16)),
    sa.Column("published_unit_code", sa.String(32)),
    sa.Column("unit_name", sa.String(255)),
    sa.Column("list_scope", sa.String(32)),
    *_lineage(),
)

dim_scheme = sa.Table(
    "dim_scheme", metadata,
    sa.Column("scheme", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("name_vi", sa.String(500), nullable=False),
    sa.Column("name_en", sa.String(500), nullable=False),
    sa.Column("level", sa.String(16), nullable=False),
    sa.Column("provinces", sa.String(255), nullable=False),
    sa.Column("valid_from", sa.Date, nullable=False),
    sa.Column("valid_to", sa.Date),
    sa.Column("period_types", sa.String(128), nullable=False),
    sa.Column("max_points", sa.Numeric(7, 2), nullable=False),
    sa.Column("decision", sa.String(500)),
    sa.Column("example", sa.Boolean, nullable=False),
    sa.Column("file", sa.String(255), nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
)

dim_criterion = sa.Table(
    "dim_criterion", metadata,
    sa.Column("scheme", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("criterion_code", sa.String(64), primary_key=True),
    sa.Column("parent_code", sa.String(64)),
    sa.Column("field_code", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("name_vi", sa.String(500), nullable=False),
    sa.Column("name_en", sa.String(500), nullable=False),
    sa.Column("max_points", sa.Numeric(7, 2), nullable=False),
    sa.Column("scored", sa.Boolean, nullable=False),
    sa.Column("source_kind", sa.String(32)),
    sa.Column("source_code", sa.String(64)),
    sa.Column("method", sa.String(32)),
    sa.Column("parameters", sa.Text),
)

dim_scheme_class = sa.Table(
    "dim_scheme_class", metadata,
    sa.Column("scheme", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("class_code", sa.String(32), primary_key=True),
    sa.Column("name_vi", sa.String(255), nullable=False),
    sa.Column("name_en", sa.String(255), nullable=False),
    sa.Column("min_percent", sa.Numeric(5, 2), nullable=False),
)

fact_manual_points = sa.Table(
    "fact_manual_points", metadata,
    sa.Column("scheme", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("criterion_code", sa.String(64), primary_key=True),
    sa.Column("round", sa.String(16), primary_key=True),
    sa.Column("points", sa.Numeric(7, 2), nullable=False),
    sa.Column("evidence", sa.Text),
    sa.Column("entered_by", sa.String(255), nullable=False),
    sa.Column("source_file", sa.String(255), nullable=False),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("row_number", sa.Integer, nullable=False),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
)

fact_criterion_score = sa.Table(
    "fact_criterion_score", metadata,
    sa.Column("scheme", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("criterion_code", sa.String(64), primary_key=True),
    sa.Column("province_code", sa.String(32)),
    sa.Column("unit_level", sa.String(16)),
    sa.Column("value", sa.Double),
    sa.Column("numerator", sa.Double),
    sa.Column("denominator", sa.Double),
    sa.Column("points", sa.Double, nullable=False),
    sa.Column("max_points", sa.Numeric(7, 2), nullable=False),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("origin", sa.String(16), nullable=False),
    sa.Column("round", sa.String(16)),
    sa.Column("note", sa.String(255)),
    *_loaded(fetch=False),
)

fact_scheme_result = sa.Table(
    "fact_scheme_result", metadata,
    sa.Column("scheme", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("province_code", sa.String(32)),
    sa.Column("unit_level", sa.String(16), nullable=False),
    sa.Column("total_points", sa.Double, nullable=False),
    sa.Column("max_points", sa.Numeric(7, 2), nullable=False),
    sa.Column("percent", sa.Double, nullable=False),
    sa.Column("class_code", sa.String(32)),
    sa.Column("peer_rank", sa.Integer, nullable=False),
    sa.Column("peer_count", sa.Integer, nullable=False),
    sa.Column("criteria_without_input", sa.Integer, nullable=False),
    sa.Column("ranked_by", sa.String(16), nullable=False),
    *_loaded(fetch=False),
)

fact_766_reconciliation = sa.Table(
    "fact_766_reconciliation", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("level", sa.String(16), primary_key=True),
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), nullable=False),
    sa.Column("component", sa.String(16)),
    sa.Column("published", sa.Double),
    sa.Column("recomputed", sa.Double),
    sa.Column("gap", sa.Double),
    sa.Column("inputs", sa.String(16), nullable=False),
    *_loaded(fetch=False),
)

# Alerts (alerts/): what is open per route, so that an open failure is not sent again on
# every run and survives restarts; and every message, kept until delivered (the outbox).
alert_state = sa.Table(
    "alert_state", metadata,
    sa.Column("route", sa.String(64), primary_key=True),
    sa.Column("fingerprint", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("severity", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("dataset", sa.String(64), nullable=False),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("period_id", sa.Integer, nullable=False, autoincrement=False),
    sa.Column("unit_code", sa.String(32)),
    sa.Column("check_name", sa.String(255), nullable=False),
    sa.Column("rows_affected", sa.BigInteger),
    sa.Column("alert_json", sa.Text, nullable=False),
    sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_sent_at", sa.DateTime(timezone=True)),
    sa.Column("closed_at", sa.DateTime(timezone=True)),
    sa.Column("times_sent", sa.Integer, nullable=False),
    sa.Column("times_suppressed", sa.Integer, nullable=False),
)

backfill_month = sa.Table(
    "backfill_month", metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("partitions", sa.Integer, nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("error", sa.String(1000)),
)

alert_message = sa.Table(
    "alert_message", metadata,
    sa.Column("message_id", sa.String(32), primary_key=True),
    sa.Column("route", sa.String(64), nullable=False),
    sa.Column("channel", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(500), nullable=False),
    sa.Column("body_json", sa.Text, nullable=False),
    sa.Column("alerts", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.String(255)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Index("ix_alert_message_pending", "status", "next_attempt_at"),
)

# Comments: those warehouse/dictionary.yaml gives and every upgrade writes (COMMENT ON),
# so that this module and the migrated database agree, comments included.
attach_comments(metadata)
