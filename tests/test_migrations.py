"""Migrations: they build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from sqlalchemy import event, inspect, select, text

from connectors.listening import started_at
from social_crm.customers.linking import CUSTOMERS_CHANGED
from social_crm.customers.models import Customer
from social_crm.db import MIGRATIONS, Database, watermarks
from social_crm.db.base import Base, utcnow
from social_crm.mentions.models import SourceCursor


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


def test_mastodon_sources_stuck_on_cursor_0_listen_from_their_last_good_poll(db_url: str) -> None:
    database = Database(db_url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    last_poll = datetime(2026, 11, 30, 8, 15, tzinfo=UTC)
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0011")
        connection.execute(
            text(
                "INSERT INTO source_cursors (connector, source_key, cursor, last_success_at, "
                "consecutive_failures, silence_alerted) VALUES "
                "('mastodon', 'Brewly:tag:brewly', '0', :at, 0, false), "
                "('reddit', 'Brewly:search', 't3_abc', :at, 0, false)"
            ).bindparams(at=last_poll)
        )
    database.upgrade()
    with database.transaction() as session:
        cursors = dict(session.execute(select(SourceCursor.connector, SourceCursor.cursor)).all())
    assert started_at(cursors["mastodon"]) == last_poll  # the next poll pages back to then
    assert cursors["reddit"] == "t3_abc"  # a real cursor is left alone
    database.close()


def _statements_of_a_full_upgrade(url: str) -> int:
    """How many SQL statements a first upgrade sends; the tables it made are dropped again."""
    database = Database(url)
    sent = []
    event.listen(database.engine, "before_cursor_execute", lambda *args: sent.append(1))
    database.upgrade()
    database.close()
    _drop_every_table(url)
    return len(sent)


def _drop_every_table(url: str) -> None:
    database = Database(url)
    with database.engine.begin() as connection:
        for table in [*reversed(Base.metadata.sorted_tables), "alembic_version"]:
            connection.execute(text(f"DROP TABLE IF EXISTS {table}"))
    database.close()


def test_a_first_upgrade_that_fails_half_way_leaves_nothing_and_the_next_one_completes(
    db_url: str,
) -> None:
    """A migration failing at any statement leaves no half schema behind."""
    total = _statements_of_a_full_upgrade(db_url)
    for failing_at in random.Random(8).sample(range(2, total), 5):
        database = Database(db_url)
        sent: list[str] = []

        def fail(*args: Any, sent: list[str] = sent, failing_at: int = failing_at) -> None:
            sent.append(args[2])
            if len(sent) == failing_at:
                raise RuntimeError(f"interrupted at statement {failing_at}")

        event.listen(database.engine, "before_cursor_execute", fail)
        with pytest.raises(RuntimeError, match="interrupted"):
            database.upgrade()
        database.close()
        # What the interrupted upgrade left: nothing at all.
        left = Database(db_url)
        assert "customers" not in inspect(left.engine).get_table_names()
        left.close()
        restarted = Database(db_url)
        restarted.upgrade()  # the next start
        test_migrations_match_the_models(restarted)
        restarted.close()
        _drop_every_table(db_url)


UPGRADE_IN_A_CHILD = """
import sys
from social_crm.db import Database
database = Database(sys.argv[1])
print("ready", flush=True)
database.upgrade()
print("done", flush=True)
"""


def test_a_first_upgrade_killed_at_random_points_is_completed_by_the_next_start(
    tmp_path: Path,
) -> None:
    """SIGKILL during the very first migration on SQLite, several times over."""
    chance = random.Random(10)
    for trial in range(8):
        url = f"sqlite:///{tmp_path / f'killed-{trial}.sqlite'}"
        child = subprocess.Popen(
            [sys.executable, "-c", UPGRADE_IN_A_CHILD, url],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
        )
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(chance.uniform(0.0, 0.25))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        database = Database(url)
        database.upgrade()  # the next start
        test_migrations_match_the_models(database)
        with database.engine.connect() as connection:
            heads = connection.execute(text("SELECT version_num FROM alembic_version")).all()
        assert len(heads) == 1
        database.close()
