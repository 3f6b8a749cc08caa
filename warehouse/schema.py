"""Warehouse schema (SQLAlchemy Core), identical on DuckDB and PostgreSQL.

Table and column names are the analysts' contract: see docs/data_dictionary.md, and change
both together. Facts keep numerators and denominators (counts), never only rates.
This module is the current shape; the database gets it through the migrations in
warehouse/migrations/ (`reformstats db upgrade`), which also hold the views' SQL, and a
test checks that the two agree.
"""

from __future__ import annotations

import sqlalchemy as sa

from transforms.dossiers import COUNTER_COLUMNS as DOSSIER_COUNTERS
from transforms.national_portal import COMPONENT_COLUMNS, MONTHLY_COUNT_FIELDS, MONTHLY_RATE_FIELDS

metadata = sa.MetaData()


def _loaded(*, fetch: bool = True) -> list[sa.Column]:
    """Which raw-zone fetch (where there is one) and Airflow run wrote a fact row, when."""
    return [*([sa.Column("fetch_id", sa.String(64), nullable=False)] if fetch else []),
            sa.Column("run_id", sa.String(250), nullable=False),
            sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False)]


def _lineage() -> list[sa.Column]:
    """What a row parsed from a portal answer carries to say where it came from."""
    return [
        sa.Column("source_api", sa.String(32), nullable=False,
                  comment="legacy_gateway | reporting_api"),
        sa.Column("source_unit_id", sa.String(64), comment="the unit's ID in that source"),
        sa.Column("fetch_id", sa.String(64), nullable=False,
                  comment="raw-zone fetch the row was parsed from"),
        sa.Column("run_id", sa.String(250), nullable=False, comment="Airflow run that loaded it"),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    ]


def _load_key(*, primary_key: bool, source_comment: str | None = None) -> list[sa.Column]:
    """run, source, dataset, period: one partition load (load_audit, dq_result)."""
    return [sa.Column("run_id", sa.String(250), primary_key=primary_key, nullable=False),
            sa.Column("source", sa.String(64), primary_key=primary_key, nullable=False,
                      comment=source_comment),
            sa.Column("dataset", sa.String(64), primary_key=primary_key, nullable=False),
            sa.Column("period_id", sa.Integer, primary_key=primary_key, nullable=False,
                      autoincrement=False)]


dim_unit = sa.Table(
    "dim_unit", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True,
              comment="statistical code (mã thống kê: province 2 digits, district 3, commune "
                      "5) for administrative units; the portal agency code (e.g. H01.13) for "
                      "departments and agencies, which no statistical list holds"),
    sa.Column("valid_from", sa.Date, primary_key=True),
    sa.Column("valid_to", sa.Date, comment="exclusive; NULL while current"),
    sa.Column("name_vi", sa.String(255), nullable=False, comment="NFC"),
    sa.Column("level", sa.String(16), nullable=False,
              comment="province | department | district | commune"),
    sa.Column("parent_code", sa.String(32), comment="unit_code of the parent then"),
    sa.Column("stat_code", sa.String(8), comment="statistical code (mã thống kê)"),
    sa.Column("agency_code", sa.String(32),
              comment="portal agency code (mã định danh), short form, where known"),
    sa.Column("origin", sa.String(16), nullable=False,
              comment="reference (vietnam-provinces, vietnamadminunits) | portal (registered "
                      "from the portal's lists) | override (config/units/overrides.csv)"),
    sa.Column("is_current", sa.Boolean, nullable=False),
    comment="Administrative units and agencies of both eras, SCD2 by validity dates",
)

unit_source_id = sa.Table(
    "unit_source_id", metadata,
    sa.Column("scheme", sa.String(32), primary_key=True,
              comment="legacy_766 | legacy_tinh | reporting | agency_code | onestop_agency"),
    sa.Column("source_id", sa.String(64), primary_key=True),
    sa.Column("valid_from", sa.Date, primary_key=True,
              comment="validity of the unit version it names"),
    sa.Column("valid_to", sa.Date),
    sa.Column("unit_code", sa.String(32), nullable=False),
    sa.Column("matched_by", sa.String(32), nullable=False,
              comment="override | source_id | stat_code | agency_code | name | registered | "
                      "config"),
    sa.Column("origin", sa.String(16), nullable=False, comment="portal | config | override"),
    sa.Column("source_dataset", sa.String(64), comment="dataset whose answer carried it"),
    sa.Column("first_seen_period_id", sa.Integer, comment="period of the first answer"),
    sa.Column("first_fetch_id", sa.String(64), comment="raw-zone fetch of the first answer"),
    sa.Column("last_fetch_id", sa.String(64), comment="raw-zone fetch of the latest answer"),
    comment="Crosswalk from each source's unit IDs to unit_code, with provenance",
)

unit_crosswalk = sa.Table(
    "unit_crosswalk", metadata,
    sa.Column("old_unit_code", sa.String(32), primary_key=True,
              comment="unit before the 1 July 2025 reorganisation"),
    sa.Column("new_unit_code", sa.String(32), primary_key=True, comment="unit from it"),
    sa.Column("old_level", sa.String(16), nullable=False),
    sa.Column("new_level", sa.String(16), nullable=False),
    sa.Column("changed_on", sa.Date, nullable=False, comment="first day of the new unit"),
    sa.Column("weight", sa.Double,
              comment="share of the old unit that went to the new one; NULL: not known"),
    sa.Column("approximate", sa.Boolean, nullable=False,
              comment="the old unit was split: a roll-up along this edge is not exact"),
    sa.Column("basis", sa.String(32), nullable=False,
              comment="whole_province | whole_commune | divided_commune | special_zone"),
    comment="Old -> new administrative units (many-to-many), from vietnamadminunits",
)

unit_match_issue = sa.Table(
    "unit_match_issue", metadata,
    sa.Column("dataset", sa.String(64), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    sa.Column("scheme", sa.String(32), primary_key=True),
    sa.Column("source_id", sa.String(64), primary_key=True),
    sa.Column("problem", sa.String(16), nullable=False, comment="unmatched | ambiguous"),
    sa.Column("unit_name", sa.String(255), comment="as the source named it (NFC)"),
    sa.Column("published_unit_code", sa.String(64), comment="agency code as sent"),
    sa.Column("unit_level", sa.String(16)),
    sa.Column("parent_code", sa.String(32), comment="the province whose list it came in"),
    sa.Column("candidates", sa.Text, comment="unit codes it matched more than once"),
    sa.Column("fetch_id", sa.String(64), nullable=False),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
    comment="Units a source sent that matched no reference unit, or more than one; "
            "resolved in config/units/overrides.csv (`reformstats units unmatched`)",
)

dim_period = sa.Table(
    "dim_period", metadata,
    sa.Column("period_id", sa.Integer, primary_key=True, autoincrement=False,
              comment="year*100 + month (month) | 20+quarter | 30+half | 0 (year) | "
                      "40+month (year to date)"),
    sa.Column("period_type", sa.String(16), nullable=False,
              comment="month | quarter | half | year | year_to_date"),
    sa.Column("label", sa.String(16), nullable=False,
              comment="2026-03 | 2026-Q1 | 2026-H1 | 2026 | 2026-YTD03"),
    sa.Column("year", sa.SmallInteger, nullable=False),
    sa.Column("half", sa.SmallInteger, nullable=False, comment="of the last month"),
    sa.Column("quarter", sa.SmallInteger, nullable=False, comment="of the last month"),
    sa.Column("month", sa.SmallInteger, nullable=False, comment="the last month"),
    sa.Column("first_day", sa.Date, nullable=False),
    sa.Column("last_day", sa.Date, nullable=False),
    comment="Reporting periods of every type, 2019 .. 2035",
)

fact_portal_score = sa.Table(
    "fact_portal_score", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    sa.Column("unit_level", sa.String(16)),
    sa.Column("published_unit_code", sa.String(32)),
    sa.Column("unit_name", sa.String(255), comment="name as published (NFC)"),
    *[sa.Column(c, sa.Numeric(6, 2)) for c in COMPONENT_COLUMNS],
    sa.Column("total_score", sa.Numeric(6, 2), comment="TONG_SCORE / totalScore as published"),
    sa.Column("published_rank", sa.Integer, comment="ROW_STT within the list it came from"),
    sa.Column("list_scope", sa.String(32),
              comment="national (the provinces) | the province unit_code whose departments "
                      "and communes the list held; NULL for rows loaded before 0004"),
    *_lineage(),
    comment="Decision 766 service-quality scores per unit and period, as published",
)

fact_portal_monthly_counters = sa.Table(
    "fact_portal_monthly_counters", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    *[sa.Column(c, sa.BigInteger) for c in MONTHLY_COUNT_FIELDS.values()],
    *[sa.Column(c, sa.Numeric(5, 1)) for c in MONTHLY_RATE_FIELDS.values()],
    *_lineage(),
    comment="Province monthly dossier counters from report_by_month_sum_service",
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
    sa.Column("reasons", sa.Text, nullable=False, comment="failed checks, '; '-separated"),
    sa.Column("row_json", sa.Text, nullable=False, comment="the normalised row as JSON"),
    sa.Column("run_id", sa.String(250), nullable=False),
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
    comment="Rows that failed a critical check; the latest run of a partition replaces it",
)

dq_result = sa.Table(
    "dq_result", metadata,
    sa.Column("result_id", sa.String(32), primary_key=True,
              comment="md5 of run|source|dataset|period|check|unit: one row per result"),
    *_load_key(primary_key=False,
               source_comment="national_portal | onestop_<province code> | marts"),
    sa.Column("check_name", sa.String(255), nullable=False),
    sa.Column("unit_code", sa.String(32),
              comment="the unit this result concerns; NULL: the whole partition"),
    sa.Column("fetch_id", sa.String(64), nullable=False),
    sa.Column("column_name", sa.String(128)),
    sa.Column("severity", sa.String(16), nullable=False, comment="critical | warning"),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("element_count", sa.Integer), sa.Column("unexpected_count", sa.Integer),
    sa.Column("details", sa.Text),
    sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_dq_result_partition", "run_id", "source", "dataset", "period_id"),
    comment="Outcome of every data-quality check of every run, per partition and unit",
)

load_audit = sa.Table(
    "load_audit", metadata,
    *_load_key(primary_key=True),
    sa.Column("fetch_id", sa.String(64), nullable=False),
    *(sa.Column(name, sa.Integer, nullable=False)
      for name in ("rows_in", "rows_loaded", "rows_quarantined")),
    sa.Column("raw_sha256", sa.String(64), nullable=False,
              comment="sha256 over the fetch's response hashes, in order"),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    comment="One row per partition load: what came in, what was loaded or quarantined",
)

dim_procedure = sa.Table(
    "dim_procedure", metadata,
    sa.Column("procedure_code", sa.String(32), primary_key=True,
              comment="TTHC code (mã thủ tục), e.g. 1.001193"),
    sa.Column("name_vi", sa.String(500), nullable=False),
    sa.Column("field_vi", sa.String(255), comment="field (lĩnh vực)"),
    sa.Column("level", sa.String(16), comment="level that handles it: province | commune"),
    sa.Column("processing_days", sa.Integer, comment="statutory processing time, days"),
    sa.Column("fee_bearing", sa.Boolean, comment="has a fee or charge (phí, lệ phí)"),
    sa.Column("full_online", sa.Boolean, comment="offered fully online (toàn trình)"),
    comment="Administrative procedures (thủ tục hành chính)",
)

fact_dossier_monthly = sa.Table(
    "fact_dossier_monthly", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("procedure_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    sa.Column("province_code", sa.String(32), nullable=False,
              comment="province whose one-stop system reported it (the load partition)"),
    *[sa.Column(c, sa.BigInteger, nullable=False) for c in DOSSIER_COUNTERS],
    *_loaded(),
    comment="Monthly dossier counters per unit and procedure, computed from dossier exports",
)

dim_indicator = sa.Table(
    "dim_indicator", metadata,
    sa.Column("indicator_code", sa.String(64), primary_key=True),
    sa.Column("name_vi", sa.String(255), nullable=False),
    sa.Column("name_en", sa.String(255), nullable=False),
    sa.Column("numerator", sa.String(255), nullable=False, comment="counters summed, '+'"),
    sa.Column("denominator", sa.String(255), nullable=False, comment="counters summed, '+'"),
    sa.Column("direction", sa.String(32), nullable=False),
    sa.Column("formula_version", sa.String(32), nullable=False),
    sa.Column("summable_over_months", sa.Boolean, nullable=False,
              comment="false when built on month-end stocks: no quarter/half/year view value"),
    comment="Indicator catalogue (config/indicators.yaml)",
)

fact_indicator_monthly = sa.Table(
    "fact_indicator_monthly", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    sa.Column("indicator_code", sa.String(64), primary_key=True),
    sa.Column("province_code", sa.String(32), nullable=False),
    sa.Column("numerator", sa.BigInteger, nullable=False),
    sa.Column("denominator", sa.BigInteger, nullable=False),
    sa.Column("value", sa.Double, comment="numerator / denominator; NULL when denominator = 0"),
    sa.Column("target", sa.Double, comment="target for the unit's level and year; NULL: none"),
    sa.Column("met", sa.Boolean, comment="value meets target; NULL without value or target"),
    sa.Column("formula_version", sa.String(32), nullable=False),
    *_loaded(fetch=False),
    comment="Monthly indicators per unit (all procedures), from fact_dossier_monthly",
)

fact_portal_metric = sa.Table(
    "fact_portal_metric", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True),
    sa.Column("metric_group", sa.String(64), primary_key=True,
              comment="reporting API group: transparency | dossier-digitized | "
                      "handling-satisfaction | dvc-progress-tree | provide-online-tree | "
                      "formality-online-payment-tree"),
    sa.Column("metric_code", sa.String(64), primary_key=True,
              comment="the portal's metric code (e.g. PUBLISH_ON_TIME); for a tree group, "
                      "the group's own code (DVC_PROGRESS, PROVIDE_ONLINE, ONLINE_PAYMENT)"),
    sa.Column("metric_name", sa.String(500), comment="as published (NFC)"),
    sa.Column("numerator", sa.BigInteger, comment="as published; NULL: not published"),
    sa.Column("denominator", sa.BigInteger, comment="as published; NULL: not published"),
    sa.Column("ratio", sa.Numeric(7, 2), comment="percent, as published; NULL: none"),
    sa.Column("score", sa.Numeric(6, 2), comment="points, as published"),
    sa.Column("max_score", sa.Numeric(6, 2), comment="maximum points, as published"),
    sa.Column("unit_level", sa.String(16)),
    sa.Column("published_unit_code", sa.String(32)),
    sa.Column("unit_name", sa.String(255), comment="name as published (NFC)"),
    sa.Column("list_scope", sa.String(32),
              comment="national | the province unit_code whose list the row came in"),
    *_lineage(),
    comment="Decision 766 metrics per unit and period (numerator, denominator, ratio, "
            "score) as the reporting API's metric groups publish them",
)

dim_scheme = sa.Table(
    "dim_scheme", metadata,
    sa.Column("scheme", sa.String(64), primary_key=True,
              comment="766 | par_commune_example | ... (config/schemes/<scheme>/)"),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("name_vi", sa.String(500), nullable=False),
    sa.Column("name_en", sa.String(500), nullable=False),
    sa.Column("level", sa.String(16), nullable=False,
              comment="units it scores: province | department | district | commune"),
    sa.Column("provinces", sa.String(255), nullable=False,
              comment="statistical codes of the provinces it applies to, ','; 'all'"),
    sa.Column("valid_from", sa.Date, nullable=False, comment="first day in force"),
    sa.Column("valid_to", sa.Date, comment="exclusive; NULL: in force"),
    sa.Column("period_types", sa.String(128), nullable=False, comment="periods it scores, ','"),
    sa.Column("max_points", sa.Numeric(7, 2), nullable=False),
    sa.Column("decision", sa.String(500), comment="the decision that issued it"),
    sa.Column("example", sa.Boolean, nullable=False,
              comment="a documented example, for a province to replace with its own"),
    sa.Column("file", sa.String(255), nullable=False, comment="rule-set file"),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    comment="Scoring schemes (rule sets) and their versions, from config/schemes/",
)

dim_criterion = sa.Table(
    "dim_criterion", metadata,
    sa.Column("scheme", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("criterion_code", sa.String(64), primary_key=True,
              comment="code within the scheme (e.g. 2.3.1 or TDGQ)"),
    sa.Column("parent_code", sa.String(64), comment="NULL for a field"),
    sa.Column("field_code", sa.String(64), nullable=False, comment="field (lĩnh vực) it is in"),
    sa.Column("kind", sa.String(16), nullable=False,
              comment="field (lĩnh vực) | criterion (tiêu chí) | sub_criterion (tiêu chí "
                      "thành phần)"),
    sa.Column("position", sa.Integer, nullable=False, comment="order in the rule set"),
    sa.Column("name_vi", sa.String(500), nullable=False),
    sa.Column("name_en", sa.String(500), nullable=False),
    sa.Column("max_points", sa.Numeric(7, 2), nullable=False),
    sa.Column("scored", sa.Boolean, nullable=False,
              comment="a leaf, scored by its method; else the sum of its children"),
    sa.Column("source_kind", sa.String(32),
              comment="indicator | portal_metric | portal_component | portal_total | manual"),
    sa.Column("source_code", sa.String(64),
              comment="indicator code (dim_indicator), 766 metric or component code"),
    sa.Column("method", sa.String(32),
              comment="linear | target_linear | bands | boolean | manual"),
    sa.Column("parameters", sa.Text, comment="the method's parameters, JSON"),
    comment="The criterion tree of each scheme version: field -> criterion -> sub-criterion",
)

dim_scheme_class = sa.Table(
    "dim_scheme_class", metadata,
    sa.Column("scheme", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("class_code", sa.String(32), primary_key=True, comment="e.g. tot, A"),
    sa.Column("name_vi", sa.String(255), nullable=False, comment="e.g. Tốt, Nhóm A"),
    sa.Column("name_en", sa.String(255), nullable=False),
    sa.Column("min_percent", sa.Numeric(5, 2), nullable=False,
              comment="from this percentage of the maximum (inclusive) up to the next class"),
    comment="Classification cut-offs of each scheme version",
)

fact_manual_points = sa.Table(
    "fact_manual_points", metadata,
    sa.Column("scheme", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True, autoincrement=False,
              comment="the assessed period (a year: year*100)"),
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("criterion_code", sa.String(64), primary_key=True),
    sa.Column("round", sa.String(16), primary_key=True,
              comment="self_assessment (tự chấm) | appraisal_1 (thẩm định lần 1) | "
                      "appraisal_2 (thẩm định lần 2)"),
    sa.Column("points", sa.Numeric(7, 2), nullable=False),
    sa.Column("evidence", sa.Text, comment="evidence reference (tài liệu kiểm chứng)"),
    sa.Column("entered_by", sa.String(255), nullable=False, comment="who entered the points"),
    sa.Column("source_file", sa.String(255), nullable=False, comment="file name imported"),
    sa.Column("file_sha256", sa.String(64), nullable=False),
    sa.Column("row_number", sa.Integer, nullable=False, comment="row in that file"),
    sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
    comment="Self-assessed and appraised points of manual sub-criteria, by round; a "
            "corrected file replaces its round for the units it holds",
)

fact_criterion_score = sa.Table(
    "fact_criterion_score", metadata,
    sa.Column("scheme", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("criterion_code", sa.String(64), primary_key=True, comment="a scored leaf"),
    sa.Column("province_code", sa.String(32)),
    sa.Column("unit_level", sa.String(16)),
    sa.Column("value", sa.Double,
              comment="the input as a ratio 0..1 (indicator value, published score / max); "
                      "NULL: no input (zero denominator, nothing published)"),
    sa.Column("numerator", sa.Double, comment="the input's numerator, where it has one"),
    sa.Column("denominator", sa.Double, comment="the input's denominator, where it has one"),
    sa.Column("points", sa.Double, nullable=False),
    sa.Column("max_points", sa.Numeric(7, 2), nullable=False),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("origin", sa.String(16), nullable=False,
              comment="computed (from our data or the portal's numerators) | published "
                      "(the portal's score) | manual (self-assessed or appraised)"),
    sa.Column("round", sa.String(16), comment="manual: the round that counts (the latest)"),
    sa.Column("note", sa.String(255),
              comment="why points are what they are when not plain: zero denominator, "
                      "not entered, no input"),
    *_loaded(fetch=False),
    comment="Points of every scored criterion per unit and period, by scheme version",
)

fact_scheme_result = sa.Table(
    "fact_scheme_result", metadata,
    sa.Column("scheme", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("province_code", sa.String(32), comment="peer group: scheme, level, province"),
    sa.Column("unit_level", sa.String(16), nullable=False),
    sa.Column("total_points", sa.Double, nullable=False),
    sa.Column("max_points", sa.Numeric(7, 2), nullable=False),
    sa.Column("percent", sa.Double, nullable=False, comment="total / max * 100"),
    sa.Column("class_code", sa.String(32), comment="dim_scheme_class; NULL: below every class"),
    sa.Column("peer_rank", sa.Integer, nullable=False,
              comment="rank among peers (same scheme, level, province) by total; ties share "
                      "a rank (1, 2, 2, 4)"),
    sa.Column("peer_count", sa.Integer, nullable=False),
    sa.Column("criteria_without_input", sa.Integer, nullable=False,
              comment="scored criteria with no input (no data, manual points not entered)"),
    sa.Column("ranked_by", sa.String(16), nullable=False,
              comment="computed | published (the 766 index ranks by the published total)"),
    *_loaded(fetch=False),
    comment="A unit's result per scheme and period: total, percentage, class, rank",
)

fact_766_reconciliation = sa.Table(
    "fact_766_reconciliation", metadata,
    sa.Column("unit_code", sa.String(32), primary_key=True),
    sa.Column("period_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("level", sa.String(16), primary_key=True, comment="metric | component | total"),
    sa.Column("code", sa.String(64), primary_key=True,
              comment="metric code, component code (CKMB ...) or TOTAL"),
    sa.Column("version", sa.String(32), nullable=False, comment="766 rule-set version used"),
    sa.Column("component", sa.String(16), comment="the component it belongs to"),
    sa.Column("published", sa.Double, comment="the portal's score"),
    sa.Column("recomputed", sa.Double,
              comment="recomputed with the rule set; NULL: its inputs are not published"),
    sa.Column("gap", sa.Double, comment="recomputed - published"),
    sa.Column("inputs", sa.String(16), nullable=False,
              comment="complete | partial (some parts not published: the published part "
                      "is used) | none"),
    *_loaded(fetch=False),
    comment="The 766 index recomputed from published numerators and denominators, against "
            "the published scores (which stay authoritative)",
)
