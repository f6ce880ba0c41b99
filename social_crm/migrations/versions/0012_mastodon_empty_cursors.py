"""Mastodon sources stuck on the invented cursor "0" listen from their last good poll

Earlier versions stored "0" after a first poll that found nothing; a server that answers
an id it never issued with nothing left such a source unread for ever. Only Mastodon ever
stored "0" (Reddit's cursors are fullnames). Each becomes ``since:<last successful poll>``,
the form a source that has seen nothing now keeps, so the next poll pages back to then.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

cursors = sa.table(
    "source_cursors",
    sa.column("id", sa.Integer),
    sa.column("cursor", sa.String),
    sa.column("last_success_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    connection = op.get_bind()
    stuck = connection.execute(
        sa.select(cursors.c.id, cursors.c.last_success_at).where(cursors.c.cursor == "0")
    ).all()
    for row_id, last_success_at in stuck:
        since = last_success_at or datetime.now(UTC)
        if isinstance(since, str):  # SQLite hands back text
            since = datetime.fromisoformat(since)
        if since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        connection.execute(
            sa.update(cursors)
            .where(cursors.c.id == row_id)
            .values(cursor="since:" + since.astimezone(UTC).isoformat())
        )


def downgrade() -> None:
    """Nothing to undo: a since: cursor is read by every later version."""
