"""mentions: a partial index on the mentions the pipeline has not finished with

Classification and escalation claim the oldest mentions that escalation has not looked at
(``escalated_at IS NULL``). Indexed by (created_at, id) over those rows only, a claim reads
the backlog, not every mention ever stored, and the index stays as small as the backlog.

Revision ID: 0019
Revises: 0018
Create Date: 2027-03-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

UNFINISHED = sa.text("escalated_at IS NULL")


def upgrade() -> None:
    op.create_index(
        "ix_mentions_unescalated",
        "mentions",
        ["created_at", "id"],
        unique=False,
        postgresql_where=UNFINISHED,
        sqlite_where=UNFINISHED,
    )


def downgrade() -> None:
    op.drop_index("ix_mentions_unescalated", table_name="mentions")
