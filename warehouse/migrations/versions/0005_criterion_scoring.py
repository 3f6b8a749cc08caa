"""Criterion scoring: the 766 index's published metrics, rule sets, manual points, scores,
results and the 766 reconciliation.

- fact_portal_metric: the reporting API's metric groups (numerator, denominator, ratio,
  score, maximum per metric, unit and period).
- dim_scheme, dim_criterion, dim_scheme_class: the rule sets of config/schemes/ (filled by
  every run's refresh_reference).
- fact_manual_points: self-assessed and appraised points by round.
- fact_criterion_score, fact_scheme_result: points per criterion, and each unit's total,
  percentage, class and rank among its peers; fact_766_reconciliation: the 766 recomputed
  against the published scores.
- Views: v_criterion_score (with labels), v_points_lost, v_766_reconciliation (with labels),
  v_scheme_ranking (with the change
  in rank and score against the previous period and the same period a year earlier).

Only new tables and views: nothing existing is rewritten.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"

V_CRITERION_SCORE = """
    SELECT s.scheme, s.version, sc.name_vi AS scheme_name_vi, s.period_id, p.period_type,
           p.label AS period_label, s.unit_code, u.name_vi AS unit_name_vi, s.unit_level,
           s.province_code, c.field_code, f.name_vi AS field_name_vi, c.parent_code,
           pc.name_vi AS parent_name_vi, s.criterion_code, c.kind,
           c.name_vi AS criterion_name_vi, c.name_en AS criterion_name_en, c.position,
           c.source_kind, c.source_code, s.method, s.value, s.numerator, s.denominator,
           s.points, s.max_points, CAST(s.max_points AS DOUBLE PRECISION) - s.points
           AS points_lost, s.origin, s.round, s.note, s.run_id
    FROM fact_criterion_score s
    JOIN dim_period p ON p.period_id = s.period_id
    LEFT JOIN dim_scheme sc ON sc.scheme = s.scheme AND sc.version = s.version
    LEFT JOIN dim_criterion c ON c.scheme = s.scheme AND c.version = s.version
         AND c.criterion_code = s.criterion_code
    LEFT JOIN dim_criterion f ON f.scheme = s.scheme AND f.version = s.version
         AND f.criterion_code = c.field_code
    LEFT JOIN dim_criterion pc ON pc.scheme = s.scheme AND pc.version = s.version
         AND pc.criterion_code = c.parent_code
    LEFT JOIN dim_unit u ON u.unit_code = s.unit_code AND u.valid_from <= p.last_day
         AND (u.valid_to IS NULL OR u.valid_to > p.last_day)
"""
# Where each unit lost points: every scored criterion below its maximum.
V_POINTS_LOST = "SELECT * FROM v_criterion_score WHERE points_lost > 0.005"
# Previous period: the period of the same type just before (by last day), none for the
# first year to date of a year (January's would be compared with a whole year); a year
# earlier: same type and last month, the year before.
V_SCHEME_RANKING = """
    WITH periods AS (
        SELECT period_id, period_type, label, year, month, last_day,
               CASE WHEN period_type = 'year_to_date' AND month = 1 THEN NULL
                    ELSE LAG(period_id) OVER (PARTITION BY period_type ORDER BY last_day)
               END AS previous_period_id
        FROM dim_period)
    SELECT r.scheme, r.version, sc.name_vi AS scheme_name_vi, r.period_id, p.period_type,
           p.label AS period_label, r.province_code, r.unit_level, r.unit_code,
           u.name_vi AS unit_name_vi, r.total_points, r.max_points, r.percent,
           r.class_code, k.name_vi AS class_name_vi, k.name_en AS class_name_en,
           r.peer_rank, r.peer_count, r.criteria_without_input, r.ranked_by,
           prev.peer_rank AS previous_rank, prev.peer_rank - r.peer_rank AS rank_change,
           prev.percent AS previous_percent,
           CAST(r.percent - prev.percent AS NUMERIC(9, 4)) AS percent_change,
           CAST(r.total_points - prev.total_points AS NUMERIC(9, 2)) AS points_change,
           ya.peer_rank AS year_earlier_rank, ya.peer_rank - r.peer_rank AS rank_change_year,
           ya.percent AS year_earlier_percent,
           CAST(r.percent - ya.percent AS NUMERIC(9, 4)) AS percent_change_year,
           CAST(r.total_points - ya.total_points AS NUMERIC(9, 2)) AS points_change_year,
           r.run_id
    FROM fact_scheme_result r
    JOIN periods p ON p.period_id = r.period_id
    LEFT JOIN dim_scheme sc ON sc.scheme = r.scheme AND sc.version = r.version
    LEFT JOIN dim_scheme_class k ON k.scheme = r.scheme AND k.version = r.version
         AND k.class_code = r.class_code
    LEFT JOIN dim_unit u ON u.unit_code = r.unit_code AND u.valid_from <= p.last_day
         AND (u.valid_to IS NULL OR u.valid_to > p.last_day)
    LEFT JOIN fact_scheme_result prev ON prev.scheme = r.scheme
         AND prev.unit_code = r.unit_code AND prev.period_id = p.previous_period_id
    LEFT JOIN dim_period y ON y.period_type = p.period_type AND y.year = p.year - 1
         AND y.month = p.month
    LEFT JOIN fact_scheme_result ya ON ya.scheme = r.scheme AND ya.unit_code = r.unit_code
         AND ya.period_id = y.period_id
"""
# The reconciliation with labels: the unit's name, the period's label.
V_766_RECONCILIATION = """
    SELECT r.period_id, p.period_type, p.label AS period_label, r.unit_code,
           u.name_vi AS unit_name_vi, u.level AS unit_level, r.level, r.code, r.component,
           r.published, r.recomputed, r.gap,
           r.gap IS NOT NULL AND abs(r.gap) > 0.01 AS beyond_tolerance, r.inputs, r.version,
           r.run_id
    FROM fact_766_reconciliation r
    JOIN dim_period p ON p.period_id = r.period_id
    LEFT JOIN dim_unit u ON u.unit_code = r.unit_code AND u.valid_from <= p.last_day
         AND (u.valid_to IS NULL OR u.valid_to > p.last_day)
"""
VIEWS = {
    "v_criterion_score": V_CRITERION_SCORE,
    "v_points_lost": V_POINTS_LOST,
    "v_scheme_ranking": V_SCHEME_RANKING,
    "v_766_reconciliation": V_766_RECONCILIATION,
}


def upgrade() -> None:
    op.create_table(
        "fact_portal_metric",
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column(
            "metric_group",
            sa.String(length=64),
            nullable=False,
            comment=(
                "reporting API group: transparency | dossier-digitized | handling-"
                "satisfaction | dvc-progress-tree | provide-online-tree | formality-online-"
                "payment-tree"
            ),
        ),
        sa.Column(
            "metric_code",
            sa.String(length=64),
            nullable=False,
            comment=(
                "the portal's metric code (e.g. PUBLISH_ON_TIME); for a tree group, the "
                "group's own code (DVC_PROGRESS, PROVIDE_ONLINE, ONLINE_PAYMENT)"
            ),
        ),
        sa.Column(
            "metric_name", sa.String(length=500), nullable=True, comment="as published (NFC)"
        ),
        sa.Column(
            "numerator", sa.BigInteger(), nullable=True, comment="as published; NULL: not published"
        ),
        sa.Column(
            "denominator",
            sa.BigInteger(),
            nullable=True,
            comment="as published; NULL: not published",
        ),
        sa.Column(
            "ratio",
            sa.Numeric(precision=7, scale=2),
            nullable=True,
            comment="percent, as published; NULL: none",
        ),
        sa.Column(
            "score", sa.Numeric(precision=6, scale=2), nullable=True, comment="points, as published"
        ),
        sa.Column(
            "max_score",
            sa.Numeric(precision=6, scale=2),
            nullable=True,
            comment="maximum points, as published",
        ),
        sa.Column("unit_level", sa.String(length=16), nullable=True),
        sa.Column("published_unit_code", sa.String(length=32), nullable=True),
        sa.Column(
            "unit_name", sa.String(length=255), nullable=True, comment="name as published (NFC)"
        ),
        sa.Column(
            "list_scope",
            sa.String(length=32),
            nullable=True,
            comment="national | the province unit_code whose list the row came in",
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
        sa.PrimaryKeyConstraint("unit_code", "period_id", "metric_group", "metric_code"),
        comment=(
            "Decision 766 metrics per unit and period (numerator, denominator, ratio, score) "
            "as the reporting API's metric groups publish them"
        ),
    )
    op.create_table(
        "dim_scheme",
        sa.Column(
            "scheme",
            sa.String(length=64),
            nullable=False,
            comment="766 | par_commune_example | ... (config/schemes/<scheme>/)",
        ),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("name_vi", sa.String(length=500), nullable=False),
        sa.Column("name_en", sa.String(length=500), nullable=False),
        sa.Column(
            "level",
            sa.String(length=16),
            nullable=False,
            comment="units it scores: province | department | district | commune",
        ),
        sa.Column(
            "provinces",
            sa.String(length=255),
            nullable=False,
            comment="statistical codes of the provinces it applies to, ','; 'all'",
        ),
        sa.Column("valid_from", sa.Date(), nullable=False, comment="first day in force"),
        sa.Column("valid_to", sa.Date(), nullable=True, comment="exclusive; NULL: in force"),
        sa.Column(
            "period_types", sa.String(length=128), nullable=False, comment="periods it scores, ','"
        ),
        sa.Column("max_points", sa.Numeric(precision=7, scale=2), nullable=False),
        sa.Column(
            "decision", sa.String(length=500), nullable=True, comment="the decision that issued it"
        ),
        sa.Column(
            "example",
            sa.Boolean(),
            nullable=False,
            comment="a documented example, for a province to replace with its own",
        ),
        sa.Column("file", sa.String(length=255), nullable=False, comment="rule-set file"),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("scheme", "version"),
        comment="Scoring schemes (rule sets) and their versions, from config/schemes/",
    )
    op.create_table(
        "dim_criterion",
        sa.Column("scheme", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column(
            "criterion_code",
            sa.String(length=64),
            nullable=False,
            comment="code within the scheme (e.g. 2.3.1 or TDGQ)",
        ),
        sa.Column("parent_code", sa.String(length=64), nullable=True, comment="NULL for a field"),
        sa.Column(
            "field_code", sa.String(length=64), nullable=False, comment="field (lĩnh vực) it is in"
        ),
        sa.Column(
            "kind",
            sa.String(length=16),
            nullable=False,
            comment="field (lĩnh vực) | criterion (tiêu chí) | sub_criterion (tiêu chí thành phần)",
        ),
        sa.Column("position", sa.Integer(), nullable=False, comment="order in the rule set"),
        sa.Column("name_vi", sa.String(length=500), nullable=False),
        sa.Column("name_en", sa.String(length=500), nullable=False),
        sa.Column("max_points", sa.Numeric(precision=7, scale=2), nullable=False),
        sa.Column(
            "scored",
            sa.Boolean(),
            nullable=False,
            comment="a leaf, scored by its method; else the sum of its children",
        ),
        sa.Column(
            "source_kind",
            sa.String(length=32),
            nullable=True,
            comment="indicator | portal_metric | portal_component | portal_total | manual",
        ),
        sa.Column(
            "source_code",
            sa.String(length=64),
            nullable=True,
            comment="indicator code (dim_indicator), 766 metric or component code",
        ),
        sa.Column(
            "method",
            sa.String(length=32),
            nullable=True,
            comment="linear | target_linear | bands | boolean | manual",
        ),
        sa.Column("parameters", sa.Text(), nullable=True, comment="the method's parameters, JSON"),
        sa.PrimaryKeyConstraint("scheme", "version", "criterion_code"),
        comment="The criterion tree of each scheme version: field -> criterion -> sub-criterion",
    )
    op.create_table(
        "dim_scheme_class",
        sa.Column("scheme", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("class_code", sa.String(length=32), nullable=False, comment="e.g. tot, A"),
        sa.Column("name_vi", sa.String(length=255), nullable=False, comment="e.g. Tốt, Nhóm A"),
        sa.Column("name_en", sa.String(length=255), nullable=False),
        sa.Column(
            "min_percent",
            sa.Numeric(precision=5, scale=2),
            nullable=False,
            comment="from this percentage of the maximum (inclusive) up to the next class",
        ),
        sa.PrimaryKeyConstraint("scheme", "version", "class_code"),
        comment="Classification cut-offs of each scheme version",
    )
    op.create_table(
        "fact_manual_points",
        sa.Column("scheme", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column(
            "period_id",
            sa.Integer(),
            autoincrement=False,
            nullable=False,
            comment="the assessed period (a year: year*100)",
        ),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("criterion_code", sa.String(length=64), nullable=False),
        sa.Column(
            "round",
            sa.String(length=16),
            nullable=False,
            comment=(
                "self_assessment (tự chấm) | appraisal_1 (thẩm định lần 1) | appraisal_2 "
                "(thẩm định lần 2)"
            ),
        ),
        sa.Column("points", sa.Numeric(precision=7, scale=2), nullable=False),
        sa.Column(
            "evidence", sa.Text(), nullable=True, comment="evidence reference (tài liệu kiểm chứng)"
        ),
        sa.Column(
            "entered_by", sa.String(length=255), nullable=False, comment="who entered the points"
        ),
        sa.Column(
            "source_file", sa.String(length=255), nullable=False, comment="file name imported"
        ),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False, comment="row in that file"),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "scheme", "version", "period_id", "unit_code", "criterion_code", "round"
        ),
        comment=(
            "Self-assessed and appraised points of manual sub-criteria, by round; a corrected"
            " file replaces its round for the units it holds"
        ),
    )
    op.create_table(
        "fact_criterion_score",
        sa.Column("scheme", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("period_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("criterion_code", sa.String(length=64), nullable=False, comment="a scored leaf"),
        sa.Column("province_code", sa.String(length=32), nullable=True),
        sa.Column("unit_level", sa.String(length=16), nullable=True),
        sa.Column(
            "value",
            sa.Double(),
            nullable=True,
            comment=(
                "the input as a ratio 0..1 (indicator value, published score / max); NULL: no"
                " input (zero denominator, nothing published)"
            ),
        ),
        sa.Column(
            "numerator",
            sa.Double(),
            nullable=True,
            comment="the input's numerator, where it has one",
        ),
        sa.Column(
            "denominator",
            sa.Double(),
            nullable=True,
            comment="the input's denominator, where it has one",
        ),
        sa.Column("points", sa.Double(), nullable=False),
        sa.Column("max_points", sa.Numeric(precision=7, scale=2), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column(
            "origin",
            sa.String(length=16),
            nullable=False,
            comment=(
                "computed (from our data or the portal's numerators) | published (the "
                "portal's score) | manual (self-assessed or appraised)"
            ),
        ),
        sa.Column(
            "round",
            sa.String(length=16),
            nullable=True,
            comment="manual: the round that counts (the latest)",
        ),
        sa.Column(
            "note",
            sa.String(length=255),
            nullable=True,
            comment=(
                "why points are what they are when not plain: zero denominator, not entered, "
                "no input"
            ),
        ),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scheme", "version", "unit_code", "period_id", "criterion_code"),
        comment="Points of every scored criterion per unit and period, by scheme version",
    )
    op.create_table(
        "fact_scheme_result",
        sa.Column("scheme", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("period_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "province_code",
            sa.String(length=32),
            nullable=True,
            comment="peer group: scheme, level, province",
        ),
        sa.Column("unit_level", sa.String(length=16), nullable=False),
        sa.Column("total_points", sa.Double(), nullable=False),
        sa.Column("max_points", sa.Numeric(precision=7, scale=2), nullable=False),
        sa.Column("percent", sa.Double(), nullable=False, comment="total / max * 100"),
        sa.Column(
            "class_code",
            sa.String(length=32),
            nullable=True,
            comment="dim_scheme_class; NULL: below every class",
        ),
        sa.Column(
            "peer_rank",
            sa.Integer(),
            nullable=False,
            comment=(
                "rank among peers (same scheme, level, province) by total; ties share a rank "
                "(1, 2, 2, 4)"
            ),
        ),
        sa.Column("peer_count", sa.Integer(), nullable=False),
        sa.Column(
            "criteria_without_input",
            sa.Integer(),
            nullable=False,
            comment="scored criteria with no input (no data, manual points not entered)",
        ),
        sa.Column(
            "ranked_by",
            sa.String(length=16),
            nullable=False,
            comment="computed | published (the 766 index ranks by the published total)",
        ),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scheme", "version", "unit_code", "period_id"),
        comment="A unit's result per scheme and period: total, percentage, class, rank",
    )
    op.create_table(
        "fact_766_reconciliation",
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("period_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "level", sa.String(length=16), nullable=False, comment="metric | component | total"
        ),
        sa.Column(
            "code",
            sa.String(length=64),
            nullable=False,
            comment="metric code, component code (CKMB ...) or TOTAL",
        ),
        sa.Column(
            "version", sa.String(length=32), nullable=False, comment="766 rule-set version used"
        ),
        sa.Column(
            "component", sa.String(length=16), nullable=True, comment="the component it belongs to"
        ),
        sa.Column("published", sa.Double(), nullable=True, comment="the portal's score"),
        sa.Column(
            "recomputed",
            sa.Double(),
            nullable=True,
            comment="recomputed with the rule set; NULL: its inputs are not published",
        ),
        sa.Column("gap", sa.Double(), nullable=True, comment="recomputed - published"),
        sa.Column(
            "inputs",
            sa.String(length=16),
            nullable=False,
            comment=(
                "complete | partial (some parts not published: the published part is used) | "
                "none"
            ),
        ),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "period_id", "level", "code"),
        comment=(
            "The 766 index recomputed from published numerators and denominators, against the"
            " published scores (which stay authoritative)"
        ),
    )
    for name, sql in VIEWS.items():
        op.execute(f"CREATE VIEW {name} AS {sql}")


def downgrade() -> None:
    raise NotImplementedError("the warehouse is only migrated forward")
