"""Alerts: the state of every open alert per route, and the outbox of messages.

- alert_state: one row per route and alert (fingerprint of kind, dataset, source, period,
  check and unit), open or closed, with when it was first and last seen and sent, so the
  same open failure is not sent again within the route's suppression interval, even
  after a restart.
- alert_message: every message (alert, recovery, digest, ops) per channel, kept with its
  attempts until delivered; a receiver that is down gets it at a later run.

Only new tables: nothing existing is rewritten.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    op.create_table(
        "alert_state",
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("fingerprint", sa.String(32), nullable=False),
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
        sa.PrimaryKeyConstraint("route", "fingerprint"),
    )
    op.create_table(
        "alert_message",
        sa.Column("message_id", sa.String(32), nullable=False),
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
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_index("ix_alert_message_pending", "alert_message",
                    ["status", "next_attempt_at"])


def downgrade() -> None:
    op.drop_index("ix_alert_message_pending", table_name="alert_message")
    op.drop_table("alert_message")
    op.drop_table("alert_state")
