"""linking and reviews

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "watermarks",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_watermarks")),
    )
    op.create_table(
        "ambassador_reviews",
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("reviewed_by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["authors.id"],
            name=op.f("fk_ambassador_reviews_author_id_authors"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("author_id", name=op.f("pk_ambassador_reviews")),
    )
    with op.batch_alter_table("ambassador_reviews", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ambassador_reviews_status"), ["status"], unique=False)

    op.create_table(
        "link_suggestions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["authors.id"],
            name=op.f("fk_link_suggestions_author_id_authors"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_link_suggestions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_suggestions")),
        sa.UniqueConstraint("author_id", "customer_id", name=op.f("uq_link_suggestions_author_id")),
    )
    with op.batch_alter_table("link_suggestions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_link_suggestions_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_link_suggestions_status"), ["status"], unique=False)

    with op.batch_alter_table("ambassador_scores", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("previous_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("checkpoint_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("checkpoint_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("authors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_evidence", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("link_checked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("profile", sa.JSON(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_authors_link_checked_at"), ["link_checked_at"], unique=False
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("website", sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column("domain", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("name_key", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("email_key", sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_customers_domain"), ["domain"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_email_key"), ["email_key"], unique=False)
        batch_op.create_index(batch_op.f("ix_customers_name_key"), ["name_key"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customers_name_key"))
        batch_op.drop_index(batch_op.f("ix_customers_email_key"))
        batch_op.drop_index(batch_op.f("ix_customers_domain"))
        batch_op.drop_column("opted_out_at")
        batch_op.drop_column("updated_at")
        batch_op.drop_column("email_key")
        batch_op.drop_column("name_key")
        batch_op.drop_column("domain")
        batch_op.drop_column("website")
        batch_op.drop_column("status")

    with op.batch_alter_table("authors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_authors_link_checked_at"))
        batch_op.drop_column("profile")
        batch_op.drop_column("link_checked_at")
        batch_op.drop_column("link_evidence")

    with op.batch_alter_table("ambassador_scores", schema=None) as batch_op:
        batch_op.drop_column("checkpoint_at")
        batch_op.drop_column("checkpoint_score")
        batch_op.drop_column("previous_at")
        batch_op.drop_column("previous_score")

    with op.batch_alter_table("link_suggestions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_link_suggestions_status"))
        batch_op.drop_index(batch_op.f("ix_link_suggestions_customer_id"))

    op.drop_table("link_suggestions")
    with op.batch_alter_table("ambassador_reviews", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ambassador_reviews_status"))

    op.drop_table("ambassador_reviews")
    op.drop_table("watermarks")
