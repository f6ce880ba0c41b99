"""erasures; mentions.erased_at and expired_at; authors.erased_at

erasures: that a person's data was erased (network, a salted hash of the handle, when, by
whom, how many records of each kind), never the handle. mentions.erased_at: a tombstone
left by an erasure; mentions.expired_at: the text and URL were cleared by retention;
authors.erased_at: the author row was anonymised by an erasure.

Revision ID: 0018
Revises: 0017
Create Date: 2027-03-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network", sa.String(length=50), nullable=False),
        sa.Column("handle_hash", sa.String(length=64), nullable=False),
        sa.Column("salt", sa.String(length=32), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("erased_by", sa.String(length=200), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_index(op.f("ix_erasures_erased_at"), "erasures", ["erased_at"], unique=False)
    # Plain ALTER TABLE ADD COLUMN: a batch copy of these tables would trip SQLite's
    # foreign keys from the rows that point at them.
    op.add_column("mentions", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("mentions", sa.Column("expired_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("authors", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("authors", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_column("expired_at")
        batch_op.drop_column("erased_at")
    op.drop_index(op.f("ix_erasures_erased_at"), table_name="erasures")
    op.drop_table("erasures")
