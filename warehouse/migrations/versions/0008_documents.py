"""E-office document statistics: fact_document_monthly (issue 13).

One row per unit and month: documents received and issued, issued ones digitally signed,
sent and received through the national document-exchange hub, work files and those
processed online, documents processed on time and late. From a province's e-office API
(`channel` api) or an office's monthly report file (`channel` file); `source`
(`eoffice_<province>`) and `period_id` are the load partition, and a report file replaces
the rows of the units it holds within it.

Only a new table: nothing existing is rewritten.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

COUNTS = ("incoming", "outgoing", "outgoing_signed", "hub_sent", "hub_received",
          "work_files", "work_files_online", "processed_on_time", "processed_late")


def upgrade() -> None:
    op.create_table(
        "fact_document_monthly",
        sa.Column("unit_code", sa.String(32), nullable=False),
        sa.Column("period_id", sa.Integer, nullable=False, autoincrement=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("province_code", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        *[sa.Column(c, sa.BigInteger, nullable=False) for c in COUNTS],
        sa.Column("source_unit_id", sa.String(64)),
        sa.Column("source_file", sa.String(255)),
        sa.Column("fetch_id", sa.String(64), nullable=False),
        sa.Column("run_id", sa.String(250), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit_code", "period_id"),
    )


def downgrade() -> None:
    raise NotImplementedError("the warehouse is only migrated forward")
