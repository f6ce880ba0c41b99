"""daemon_heartbeats; deliveries.retried_at; source_cursors.failing_since

deliveries.retried_at: a given-up delivery is retried once when its channel works again.
source_cursors.failing_since: when the current run of failed polls began.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "daemon_heartbeats",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_beat", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_daemon_heartbeats_last_beat"), "daemon_heartbeats", ["last_beat"], unique=False
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retried_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("source_cursors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_cursors", schema=None) as batch_op:
        batch_op.drop_column("failing_since")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("retried_at")
    op.drop_index(op.f("ix_daemon_heartbeats_last_beat"), table_name="daemon_heartbeats")
    op.drop_table("daemon_heartbeats")
