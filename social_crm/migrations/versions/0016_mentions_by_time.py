"""mentions: indexes in the order mention search pages through, newest first

(created_at, id) for every search, (brand, created_at, id) and (network, created_at, id)
for the two filters SQLite would otherwise answer by sorting every matching mention. The
brand index takes the place of ix_mentions_brand, which its first column serves.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-15
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_mentions_created_at", "mentions", ["created_at", "id"], unique=False)
    op.create_index(
        "ix_mentions_brand_created_at", "mentions", ["brand", "created_at", "id"], unique=False
    )
    op.create_index(
        "ix_mentions_network_created_at", "mentions", ["network", "created_at", "id"], unique=False
    )
    op.drop_index("ix_mentions_brand", table_name="mentions")


def downgrade() -> None:
    op.create_index("ix_mentions_brand", "mentions", ["brand"], unique=False)
    op.drop_index("ix_mentions_network_created_at", table_name="mentions")
    op.drop_index("ix_mentions_brand_created_at", table_name="mentions")
    op.drop_index("ix_mentions_created_at", table_name="mentions")
