"""sentiments.uncertain: the label's top score was below sentiment.uncertain_below

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Labels stored before this revision are flagged against the default threshold.
DEFAULT_UNCERTAIN_BELOW = 0.5


def upgrade() -> None:
    op.add_column(
        "sentiments",
        sa.Column("uncertain", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.execute(
        sa.text(
            "UPDATE sentiments SET uncertain = (negative < :below AND neutral < :below "
            "AND positive < :below)"
        ).bindparams(below=DEFAULT_UNCERTAIN_BELOW)
    )


def downgrade() -> None:
    with op.batch_alter_table("sentiments", schema=None) as batch_op:
        batch_op.drop_column("uncertain")
