"""mentions.visibility: who may see a post (public, unlisted, private, direct)

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("visibility", sa.String(length=20), nullable=False, server_default="public")
        )


def downgrade() -> None:
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_column("visibility")
