"""Migrations: they build exactly the schema the models describe, on every backend."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import select, text

from social_crm.customers.linking import CUSTOMERS_CHANGED
from social_crm.customers.models import Customer
from social_crm.db import MIGRATIONS, Database, watermarks
from social_crm.db.base import Base, utcnow


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_customers_stored_without_match_keys_get_them_from_a_migration(db_url: str) -> None:
    database = Database(db_url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
        connection.execute(
            text(
                "INSERT INTO customers (external_id, name, email, website, created_at) "
                "VALUES ('c1', 'Zoë  van Dijk', 'Zoe@Example.COM', 'https://www.Acme.com/x', "
                ":now), ('c2', 'Erik', NULL, 'https://github.com/erik', :now)"
            ).bindparams(now=utcnow())
        )
    database.upgrade()
    with database.transaction() as session:
        rows = session.execute(
            select(
                Customer.external_id, Customer.name_key, Customer.email_key, Customer.domain
            ).order_by(Customer.external_id)
        ).all()
        assert [tuple(row) for row in rows] == [
            ("c1", "zoe van dijk", "zoe@example.com", "acme.com"),
            ("c2", "erik", None, "github.com/erik"),
        ]
        assert watermarks.get(session, CUSTOMERS_CHANGED) is not None  # linking looks again
    database.close()
