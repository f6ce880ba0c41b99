"""Storage: the same guarantees on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, inspect, select
from sqlalchemy.exc import IntegrityError

from connectors.base import Author, Batch
from sentiment.lexicon import LexiconClassifier
from social_crm.alerts.models import Alert
from social_crm.db import Database
from social_crm.mentions.classify import classify_pending
from social_crm.mentions.ingest import load_cursor, store_batch
from social_crm.mentions.models import AuthorRecord, MentionRecord, SourceCursor

from .factories import MENTION_T0, mention


def count(db: Database, model: type) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_migrations_create_every_table_and_run_twice(db: Database) -> None:
    db.upgrade()  # a second run changes nothing
    tables = set(inspect(db.engine).get_table_names())
    assert {
        "customers",
        "identities",
        "authors",
        "mentions",
        "sentiments",
        "alerts",
        "deliveries",
        "ambassador_scores",
        "source_cursors",
        "alembic_version",
    } <= tables


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'wal.sqlite'}")
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    db.close()


def test_a_batch_stores_new_mentions_once_with_its_cursor(db: Database) -> None:
    with db.transaction() as session:
        assert (
            store_batch(session, "reddit", "src", Batch([mention("t3_a"), mention("t3_b")], "t3_b"))
            == 2
        )
    with db.transaction() as session:
        # Seen again (an overlapping page): nothing is stored twice, the cursor moves on.
        added = store_batch(
            session, "reddit", "src", Batch([mention("t3_b"), mention("t3_c")], "t3_c")
        )
        assert added == 1
    with db.transaction() as session:
        assert load_cursor(session, "reddit", "src").cursor == "t3_c"
    assert count(db, MentionRecord) == 3
    assert count(db, AuthorRecord) == 1


def test_cursor_and_mentions_commit_together_or_not_at_all(db: Database) -> None:
    with pytest.raises(RuntimeError), db.transaction() as session:
        store_batch(session, "reddit", "src", Batch([mention("t3_a")], "t3_a"))
        raise RuntimeError("crash before commit")
    assert count(db, MentionRecord) == 0
    assert count(db, SourceCursor) == 0


def test_network_and_native_id_are_unique(db: Database) -> None:
    with db.transaction() as session:
        store_batch(session, "reddit", "src", Batch([mention("t3_a")], "t3_a"))
    with pytest.raises(IntegrityError), db.transaction() as session:
        author = session.scalars(select(AuthorRecord)).one()
        session.add(
            MentionRecord(
                network="reddit",
                native_id="t3_a",
                brand="b",
                source="s",
                url="u",
                author=author,
                text="t",
                kind="post",
                thread_id="t3_a",
                created_at=MENTION_T0,
            )
        )


def test_a_reply_joins_its_parents_conversation(db: Database) -> None:
    with db.transaction() as session:
        store_batch(
            session,
            "reddit",
            "src",
            Batch(
                [
                    mention("t3_post"),
                    mention("t1_reply", parent="t3_post", thread="t3_post"),
                    mention("t1_deeper", parent="t1_reply", thread="t1_unknown_root"),
                ],
                "x",
            ),
        )
    with db.transaction() as session:
        threads = dict(
            session.execute(select(MentionRecord.native_id, MentionRecord.thread_id)).all()
        )
    assert threads == {"t3_post": "t3_post", "t1_reply": "t3_post", "t1_deeper": "t3_post"}


def test_times_come_back_timezone_aware_in_utc(db: Database) -> None:
    amsterdam = timezone(timedelta(hours=1))
    local = mention("t3_tz")
    with db.transaction() as session:
        store_batch(session, "reddit", "src", Batch([local], None))
        record = session.scalars(select(MentionRecord)).one()
        record.created_at = datetime(2026, 11, 1, 13, 0, tzinfo=amsterdam)
    with db.transaction() as session:
        stored = session.scalars(select(MentionRecord)).one().created_at
    assert stored == MENTION_T0 and stored.tzinfo is not None


def test_one_unresolved_alert_per_thread_is_enforced_by_the_database(db: Database) -> None:
    with db.transaction() as session:
        store_batch(session, "reddit", "src", Batch([mention("t3_a")], None))
        first = session.scalars(select(MentionRecord)).one()
        session.add(
            Alert(
                thread_key="reddit:t3_a", brand="b", status="open", reason="r", first_mention=first
            )
        )
    with pytest.raises(IntegrityError), db.transaction() as session:
        first = session.scalars(select(MentionRecord)).one()
        session.add(
            Alert(
                thread_key="reddit:t3_a", brand="b", status="open", reason="r", first_mention=first
            )
        )
    with db.transaction() as session:
        session.scalars(select(Alert)).one().status = "resolved"
    with db.transaction() as session:  # a resolved alert leaves room for a new one
        first = session.scalars(select(MentionRecord)).one()
        session.add(
            Alert(
                thread_key="reddit:t3_a", brand="b", status="open", reason="r", first_mention=first
            )
        )
    assert count(db, Alert) == 2


def test_a_changed_profile_is_stored_and_sends_the_author_back_to_linking(db: Database) -> None:
    with db.transaction() as session:
        store_batch(session, "reddit", "src", Batch([mention("t3_a")], None))
        author = session.scalars(select(AuthorRecord)).one()
        author.link_checked_at = MENTION_T0
    profiled = dataclasses.replace(
        mention("t3_b"),
        author=Author(network="reddit", handle="erik", profile={"note": "erik@example.com"}),
    )
    with db.transaction() as session:
        store_batch(session, "reddit", "src", Batch([profiled], None))
    with db.transaction() as session:
        author = session.scalars(select(AuthorRecord)).one()
        assert author.profile == {"note": "erik@example.com"}
        assert author.link_checked_at is None


def test_classification_claims_read_the_backlog_through_its_index(tmp_path: Path) -> None:
    """The claim reads the mentions not finished with (ix_mentions_unescalated), not every
    mention ever stored: its cost follows the backlog, not the database's age."""
    db = Database(f"sqlite:///{tmp_path / 'crm.sqlite'}")
    db.upgrade()
    statements: list[str] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "sentiments" in statement:
            statements.append(statement)

    with db.transaction() as session:
        store_batch(session, "reddit", "src", Batch([mention("t3_a"), mention("t3_b")], "t3_b"))
        assert classify_pending(session, LexiconClassifier(), limit=10) == 2
    claim = statements[0]
    with db.engine.connect() as connection:
        plan = " ".join(
            str(row[-1])
            for row in connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + claim, (None,) * claim.count("?")
            )
        )
    assert "ix_mentions_unescalated" in plan, plan
    db.close()


@pytest.mark.postgres
def test_postgresql_statements_are_planned_for_the_tables_as_they_are(pg_url: str) -> None:
    """No server-side prepared statements: a plan made while the tables were empty (a new
    install) would be kept for the connection's life, and a work-queue claim planned for
    empty tables reads every stored row per batch once they are full."""
    db = Database(pg_url)
    db.upgrade()
    with db.engine.connect() as connection:
        for _ in range(10):
            connection.execute(select(func.count()).select_from(MentionRecord)).scalar_one()
        prepared = connection.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements")
        assert prepared.scalar_one() == 0
    db.close()
