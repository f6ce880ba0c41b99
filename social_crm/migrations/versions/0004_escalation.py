"""escalation: severities, levels, SLA, assignment; outbox leases and idempotency keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _keeping_deliveries(rebuild: Callable[[], None]) -> None:
    """Run a batch rebuild of ``alerts``, keeping the deliveries that refer to them.

    On SQLite a batch operation copies the table and drops the old one; with foreign keys
    on, that drop deletes every delivery through ON DELETE CASCADE. The rows are saved
    first and put back. PostgreSQL alters the table in place.
    """
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("CREATE TEMP TABLE _kept_deliveries AS SELECT * FROM deliveries")
    rebuild()
    if sqlite:
        op.execute("INSERT INTO deliveries SELECT * FROM _kept_deliveries")
        op.execute("DROP TABLE _kept_deliveries")


def upgrade() -> None:
    _keeping_deliveries(_add_alert_columns)
    _backfill_and_rebuild_deliveries()


def _add_alert_columns() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("severity", sa.String(length=20), server_default="medium", nullable=False)
        )
        batch_op.add_column(sa.Column("rule", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("author_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_mention_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("last_mention_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("assignee", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("level", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
        batch_op.create_index(batch_op.f("ix_alerts_author_id"), ["author_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_sla_due_at"), ["sla_due_at"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_author_id_authors"),
            "authors",
            ["author_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_last_mention_id_mentions"),
            "mentions",
            ["last_mention_id"],
            ["id"],
        )


def _backfill_and_rebuild_deliveries() -> None:
    # Alerts opened before this revision: their first mention is their latest one we know.
    op.execute(
        "UPDATE alerts SET last_mention_id = first_mention_id, "
        "author_id = (SELECT m.author_id FROM mentions m WHERE m.id = alerts.first_mention_id), "
        "last_mention_at = (SELECT m.created_at FROM mentions m "
        "WHERE m.id = alerts.first_mention_id)"
    )

    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="alert", nullable=False)
        )
        batch_op.add_column(sa.Column("level", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("idempotency_key", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("created_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
    # Existing rows get the key the code gives new ones, and the time of their alert.
    op.execute(
        "UPDATE deliveries SET idempotency_key = 'alert-' || alert_id || '-' || channel || '-0', "
        "created_at = (SELECT a.opened_at FROM alerts a WHERE a.id = deliveries.alert_id)"
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.alter_column("alert_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column(
            "idempotency_key", existing_type=sa.String(length=300), nullable=False
        )
        batch_op.alter_column(
            "created_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )
        batch_op.drop_constraint("uq_deliveries_alert_id", type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_deliveries_alert_id"), ["alert_id", "channel", "level"]
        )
        batch_op.create_unique_constraint(
            batch_op.f("uq_deliveries_idempotency_key"), ["idempotency_key"]
        )
        batch_op.create_index(batch_op.f("ix_deliveries_digest_id"), ["digest_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_deliveries_digest_id_deliveries"),
            "deliveries",
            ["digest_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    op.execute("DELETE FROM deliveries WHERE alert_id IS NULL OR level > 0")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_deliveries_digest_id_deliveries"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_deliveries_digest_id"))
        batch_op.drop_constraint(batch_op.f("uq_deliveries_idempotency_key"), type_="unique")
        batch_op.drop_constraint(batch_op.f("uq_deliveries_alert_id"), type_="unique")
        batch_op.create_unique_constraint(
            batch_op.f("uq_deliveries_alert_id"), ["alert_id", "channel"]
        )
        batch_op.alter_column("alert_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("digest_id")
        batch_op.drop_column("last_attempt_at")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("created_at")
        batch_op.drop_column("idempotency_key")
        batch_op.drop_column("level")
        batch_op.drop_column("kind")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_alerts_last_mention_id_mentions"), type_="foreignkey"
        )
        batch_op.drop_constraint(batch_op.f("fk_alerts_author_id_authors"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_alerts_sla_due_at"))
        batch_op.drop_index(batch_op.f("ix_alerts_author_id"))
        batch_op.drop_column("details")
        batch_op.drop_column("sla_due_at")
        batch_op.drop_column("escalated_at")
        batch_op.drop_column("level")
        batch_op.drop_column("assigned_at")
        batch_op.drop_column("assignee")
        batch_op.drop_column("last_mention_at")
        batch_op.drop_column("last_mention_id")
        batch_op.drop_column("author_id")
        batch_op.drop_column("rule")
        batch_op.drop_column("severity")
