"""dq_result names the unit a result concerns (unit_code), keyed by result_id.

A check now has a partition-level result (unit_code NULL) and, when it fails, one result
per unit concerned, so the result can be routed to the office overseeing that unit. The
old key (run, source, dataset, period, check) cannot hold both, so the table is rebuilt
with a surrogate key result_id = md5(run|source|dataset|period|check|unit) (explicit DDL:
DuckDB cannot drop a primary key); existing rows keep their values with unit_code NULL.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

COLUMNS = ("run_id", "source", "dataset", "period_id", "check_name", "fetch_id",
           "column_name", "severity", "success", "element_count", "unexpected_count",
           "details", "checked_at")


def upgrade() -> None:
    op.create_table(
        "dq_result_new",
        sa.Column("result_id", sa.String(length=32), nullable=False,
                  comment="md5 of run|source|dataset|period|check|unit: one row per result"),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False,
                  comment="national_portal | onestop_<province code> | marts"),
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("period_id", sa.Integer(), nullable=False),
        sa.Column("check_name", sa.String(length=255), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=True,
                  comment="the unit this result concerns; NULL: the whole partition"),
        sa.Column("fetch_id", sa.String(length=64), nullable=False),
        sa.Column("column_name", sa.String(length=128), nullable=True),
        sa.Column("severity", sa.String(length=16), nullable=False,
                  comment="critical | warning"),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("element_count", sa.Integer(), nullable=True),
        sa.Column("unexpected_count", sa.Integer(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("result_id"),
        comment="Outcome of every data-quality check of every run, per partition and unit",
    )
    columns = ", ".join(COLUMNS)
    key = ("run_id || '|' || source || '|' || dataset || '|' || CAST(period_id AS VARCHAR)"
           " || '|' || check_name || '|'")
    op.execute(f"INSERT INTO dq_result_new (result_id, unit_code, {columns}) "
               f"SELECT md5({key}), NULL, {columns} FROM dq_result")
    op.drop_table("dq_result")
    op.rename_table("dq_result_new", "dq_result")
    op.create_index("ix_dq_result_partition", "dq_result",
                    ["run_id", "source", "dataset", "period_id"])


def downgrade() -> None:
    raise NotImplementedError("the warehouse is only migrated forward")
