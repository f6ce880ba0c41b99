"""listening_exclusions; mentions.community; authors.bot

listening_exclusions: how many fetched items each listening rule kept out of each source.
mentions.community: the subreddit a Reddit mention was posted in, filled from its URL for
mentions stored before, so replaying the rules over them sees excluded subreddits.
authors.bot: the network flags the account as automated.

Revision ID: 0015
Revises: 0014
Create Date: 2027-02-01
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SUBREDDIT_IN_URL = re.compile(r"/r/([A-Za-z0-9_]{1,100})/")

mentions = sa.table(
    "mentions",
    sa.column("id", sa.Integer),
    sa.column("network", sa.String),
    sa.column("url", sa.String),
    sa.column("community", sa.String),
)


def upgrade() -> None:
    op.create_table(
        "listening_exclusions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("brand", sa.String(length=200), nullable=False),
        sa.Column("connector", sa.String(length=200), nullable=False),
        sa.Column("source_key", sa.String(length=500), nullable=False),
        sa.Column("rule", sa.String(length=500), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("connector", "source_key", "rule"),
    )
    op.create_index(
        op.f("ix_listening_exclusions_brand"), "listening_exclusions", ["brand"], unique=False
    )
    # Plain ALTER TABLE ADD COLUMN: a batch copy of these tables would trip SQLite's
    # foreign keys from the rows that point at them.
    op.add_column("mentions", sa.Column("community", sa.String(length=100), nullable=True))
    op.add_column(
        "authors", sa.Column("bot", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(mentions.c.id, mentions.c.url).where(mentions.c.network == "reddit")
    ).all()
    for row_id, url in rows:
        found = SUBREDDIT_IN_URL.search(url or "")
        if found:
            connection.execute(
                sa.update(mentions).where(mentions.c.id == row_id).values(community=found[1])
            )


def downgrade() -> None:
    with op.batch_alter_table("authors", schema=None) as batch_op:
        batch_op.drop_column("bot")
    with op.batch_alter_table("mentions", schema=None) as batch_op:
        batch_op.drop_column("community")
    op.drop_index(op.f("ix_listening_exclusions_brand"), table_name="listening_exclusions")
    op.drop_table("listening_exclusions")
