"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("tier", sa.String(length=50), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("external_id", name=op.f("uq_customers_external_id")),
    )
    op.create_table(
        "source_cursors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("connector", sa.String(length=200), nullable=False),
        sa.Column("source_key", sa.String(length=500), nullable=False),
        sa.Column("cursor", sa.String(length=500), nullable=True),
        sa.Column("last_success_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_cursors")),
        sa.UniqueConstraint("connector", "source_key", name=op.f("uq_source_cursors_connector")),
    )
    op.create_table(
        "authors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=50), nullable=False),
        sa.Column("handle", sa.String(length=300), nullable=False),
        sa.Column("display_name", sa.String(length=300), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("followers", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("linked_by", sa.String(length=100), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_authors_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_authors")),
        sa.UniqueConstraint("network", "handle", name=op.f("uq_authors_network")),
    )
    with op.batch_alter_table("authors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_authors_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=50), nullable=False),
        sa.Column("handle", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_identities_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("network", "handle", name=op.f("uq_identities_network")),
    )
    op.create_table(
        "ambassador_scores",
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("components", sa.JSON(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["authors.id"],
            name=op.f("fk_ambassador_scores_author_id_authors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("author_id", name=op.f("pk_ambassador_scores")),
    )
    with op.batch_alter_table("ambassador_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ambassador_scores_score"), ["score"], unique=False)

    op.create_table(
        "mentions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=50), nullable=False),
        sa.Column("native_id", sa.String(length=500), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=500), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("thread_id", sa.String(length=500), nullable=False),
        sa.Column("parent_id", sa.String(length=500), nullable=True),
        sa.Column("reach", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ingested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["authors.id"], name=op.f("fk_mentions_author_id_authors")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mentions")),
        sa.UniqueConstraint("network", "native_id", name=op.f("uq_mentions_network")),
    )
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mentions_author_id"), ["author_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mentions_brand"), ["brand"], unique=False)
        batch_op.create_index("ix_mentions_thread", ["network", "thread_id"], unique=False)

    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("thread_key", sa.String(length=600), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("first_mention_id", sa.Integer(), nullable=False),
        sa.Column("mention_count", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["first_mention_id"], ["mentions.id"], name=op.f("fk_alerts_first_mention_id_mentions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_status"), ["status"], unique=False)
        batch_op.create_index(
            "uq_alerts_open_thread",
            ["thread_key"],
            unique=True,
            sqlite_where=sa.text("status != 'resolved'"),
            postgresql_where=sa.text("status != 'resolved'"),
        )

    op.create_table(
        "sentiments",
        sa.Column("mention_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=20), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("negative", sa.Float(), nullable=False),
        sa.Column("neutral", sa.Float(), nullable=False),
        sa.Column("positive", sa.Float(), nullable=False),
        sa.Column("model", sa.String(length=300), nullable=False),
        sa.Column("classified_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["mention_id"],
            ["mentions.id"],
            name=op.f("fk_sentiments_mention_id_mentions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("mention_id", name=op.f("pk_sentiments")),
    )
    with op.batch_alter_table("sentiments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sentiments_label"), ["label"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_deliveries_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint("alert_id", "channel", name=op.f("uq_deliveries_alert_id")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deliveries_status"), ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_status"))

    op.drop_table("deliveries")
    with op.batch_alter_table("sentiments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sentiments_label"))

    op.drop_table("sentiments")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_alerts_open_thread",
            sqlite_where=sa.text("status != 'resolved'"),
            postgresql_where=sa.text("status != 'resolved'"),
        )
        batch_op.drop_index(batch_op.f("ix_alerts_status"))

    op.drop_table("alerts")
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_index("ix_mentions_thread")
        batch_op.drop_index(batch_op.f("ix_mentions_brand"))
        batch_op.drop_index(batch_op.f("ix_mentions_author_id"))

    op.drop_table("mentions")
    with op.batch_alter_table("ambassador_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ambassador_scores_score"))

    op.drop_table("ambassador_scores")
    op.drop_table("identities")
    with op.batch_alter_table("authors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authors_customer_id"))

    op.drop_table("authors")
    op.drop_table("source_cursors")
    op.drop_table("customers")
