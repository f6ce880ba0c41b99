"""edits deletions health

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=20), server_default="mention", nullable=False)
        )
        batch_op.alter_column("first_mention_id", existing_type=sa.INTEGER(), nullable=True)

    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edited_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("source_cursors", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_item_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("silence_alerted", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("source_cursors", schema=None) as batch_op:
        batch_op.drop_column("silence_alerted")
        batch_op.drop_column("last_item_at")
        batch_op.drop_column("last_error_at")

    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_column("deleted_at")
        batch_op.drop_column("edited_at")

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column("first_mention_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("kind")
