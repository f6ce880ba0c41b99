"""Alembic environment: runs on the connection social_crm.db.Database hands over."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from social_crm.schema import metadata

config = context.config
connection = config.attributes.get("connection")

if connection is None:
    # `alembic` run by hand (e.g. to autogenerate a revision): sqlalchemy.url from the ini.
    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
