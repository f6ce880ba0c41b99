"""replies, reply_events, reply_scans; do-not-contact flags; alerts.resolution

replies: drafts, approvals and sends of replies to mentions; reply_events their history;
reply_scans the mentions the proposal rules have looked at. customers and authors get a
do-not-contact flag; alerts a note on how they were resolved. The watermark row
``replies:claim`` is what send jobs lock while they claim a reply, so that limits are
counted by one job at a time.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-14
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

CLAIM_LOCK = "replies:claim"
watermarks = sa.table(
    "watermarks", sa.column("name", sa.String()), sa.column("at", sa.DateTime(timezone=True))
)


def upgrade() -> None:
    op.create_table(
        "replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("network", sa.String(length=50), nullable=False),
        sa.Column("thread_id", sa.String(length=500), nullable=False),
        sa.Column("template", sa.String(length=200), nullable=True),
        sa.Column("situation", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("private", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("subject", sa.String(length=300), server_default="", nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("edited_by", sa.String(length=200), nullable=True),
        sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.String(length=200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("auto_send", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("rejected_by", sa.String(length=200), nullable=True),
        sa.Column("rejected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolve_alert", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("key", sa.String(length=36), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sending_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("account", sa.String(length=300), nullable=True),
        sa.Column("outgoing_text", sa.Text(), nullable=True),
        sa.Column("posted_id", sa.String(length=500), nullable=True),
        sa.Column("posted_url", sa.String(length=1000), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["alerts.id"], name="fk_replies_alert_id_alerts", ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["authors.id"], name="fk_replies_author_id_authors", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name="fk_replies_customer_id_customers",
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name="fk_replies_mention_id_mentions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_replies"),
        sa.UniqueConstraint("key", name="uq_replies_key"),
    )
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.create_index("ix_replies_alert_id", ["alert_id"], unique=False)
        batch_op.create_index("ix_replies_author_id", ["author_id"], unique=False)
        batch_op.create_index("ix_replies_customer_id", ["customer_id"], unique=False)
        batch_op.create_index("ix_replies_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_replies_thread", ["network", "thread_id"], unique=False)
        batch_op.create_index(
            "uq_replies_proposal",
            ["mention_id", "template"],
            unique=True,
            sqlite_where=sa.text("rule IS NOT NULL"),
            postgresql_where=sa.text("rule IS NOT NULL"),
        )
    op.create_table(
        "reply_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reply_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reply_id"],
            ["replies.id"],
            name="fk_reply_events_reply_id_replies",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_reply_events"),
    )
    with op.batch_alter_table("reply_events", schema=None) as batch_op:
        batch_op.create_index("ix_reply_events_reply_id", ["reply_id"], unique=False)
    op.create_table(
        "reply_scans",
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("scanned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name="fk_reply_scans_mention_id_mentions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mention_id", name="pk_reply_scans"),
    )
    for table in ("customers", "authors"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("do_not_contact_at", sa.DateTime(timezone=True), nullable=True)
            )
            batch_op.add_column(
                sa.Column("do_not_contact_by", sa.String(length=200), nullable=True)
            )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolution", sa.Text(), nullable=True))
    op.get_bind().execute(watermarks.insert().values(name=CLAIM_LOCK, at=datetime.now(UTC)))


def downgrade() -> None:
    op.get_bind().execute(watermarks.delete().where(watermarks.c.name == CLAIM_LOCK))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("resolution")
    for table in ("authors", "customers"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("do_not_contact_by")
            batch_op.drop_column("do_not_contact_at")
    op.drop_table("reply_scans")
    with op.batch_alter_table("reply_events", schema=None) as batch_op:
        batch_op.drop_index("ix_reply_events_reply_id")
    op.drop_table("reply_events")
    with op.batch_alter_table("replies", schema=None) as batch_op:
        batch_op.drop_index("uq_replies_proposal")
        batch_op.drop_index("ix_replies_thread")
        batch_op.drop_index("ix_replies_due")
        batch_op.drop_index("ix_replies_customer_id")
        batch_op.drop_index("ix_replies_author_id")
        batch_op.drop_index("ix_replies_alert_id")
    op.drop_table("replies")
