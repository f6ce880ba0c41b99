"""The rules at ingest: what they exclude is never stored, is counted, and raises no alert."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import select, text

from connectors.base import Batch
from social_crm.alerts import service
from social_crm.daemon import Daemon
from social_crm.db import MIGRATIONS, Database
from social_crm.db.base import utcnow
from social_crm.listening import RuleSet
from social_crm.mentions.exclusions import exclusion_report
from social_crm.mentions.ingest import load_cursor, store_batch
from social_crm.mentions.models import AuthorRecord, MentionRecord

from .factories import BRAND, mention
from .scripted_connector import ScriptedConnector, ScriptedSettings

ANGRY = "Brewly broke after a week. Awful, terrible, horrible, I want a refund!"


class _Team:
    name = "team"

    def __init__(self) -> None:
        self.sent: list[object] = []

    def send(self, message: object) -> None:
        """Keep what was sent."""
        self.sent.append(message)


def stored_texts(db: Database) -> list[str]:
    with db.transaction() as session:
        return [m.text for m in session.query(MentionRecord).order_by(MentionRecord.id)]


def counts(db: Database) -> list[tuple[str, str, str, int]]:
    with db.transaction() as session:
        return [(r.connector, r.source_key, r.rule, r.count) for r in exclusion_report(session)]


def test_excluded_items_are_not_stored_are_counted_and_raise_no_alert(make_settings) -> None:
    settings = make_settings(brands=[{**BRAND, "rules": {"exclude": ["giveaway"]}}])
    connector = ScriptedConnector(
        ScriptedSettings(network="scripted"), watches=[b.watch() for b in settings.brands]
    )
    connector.post("anna", ANGRY)
    connector.post("spammer", "Brewly GIVEAWAY! Awful, terrible, horrible deal, hate it!")
    connector.post("automoderator", "Your Brewly post is awful, terrible and horrible.")
    team = _Team()
    daemon = Daemon(settings, connectors={"c0": connector}, notifiers={"team": team})
    daemon.run_cycle()

    assert stored_texts(daemon.db) == [ANGRY]
    with daemon.db.transaction() as session:
        alerts = service.list_alerts(session)
        assert load_cursor(session, "c0", "Brewly:all").cursor == "p000003"  # read past them
    assert [a.first_mention.handle for a in alerts if a.first_mention] == ["anna"]
    assert len(team.sent) == 1
    assert counts(daemon.db) == [
        ("c0", "Brewly:all", "exclude giveaway", 1),
        ("c0", "Brewly:all", "exclude_bots", 1),
    ]

    connector.post("spammer", "Another Brewly giveaway, awful and terrible")
    daemon.run_cycle()
    daemon.run_cycle()  # nothing new: nothing counted twice
    assert stored_texts(daemon.db) == [ANGRY]
    assert counts(daemon.db)[0] == ("c0", "Brewly:all", "exclude giveaway", 2)
    assert len(team.sent) == 1
    daemon.close()


def test_without_rules_every_item_is_stored(db: Database) -> None:
    batch = Batch([mention("t3_1", author="automoderator", text="giveaway")], "t3_1")
    with db.transaction() as session:
        assert store_batch(session, "reddit", "Brewly:search", batch) == 1
    assert counts(db) == []


def test_an_item_stored_before_is_not_judged_again(db: Database) -> None:
    first = mention("t3_1", text="Brewly giveaway")
    with db.transaction() as session:
        store_batch(session, "reddit", "Brewly:search", Batch([first], "t3_1"))
        strict = RuleSet.compile(brand="Brewly", exclude=["giveaway"])
        again = store_batch(
            session, "reddit", "Brewly:search", Batch([first], "t3_1"), rules=strict
        )
    assert again == 0 and stored_texts(db) == ["Brewly giveaway"] and counts(db) == []


def test_a_source_that_only_brings_noise_is_not_silent(db: Database) -> None:
    noise = Batch([mention("t3_1", text="giveaway")], "t3_1")
    strict = RuleSet.compile(brand="Brewly", exclude=["giveaway"])
    with db.transaction() as session:
        store_batch(session, "reddit", "Brewly:search", Batch([], None))
        first = load_cursor(session, "reddit", "Brewly:search").last_item_at
        store_batch(session, "reddit", "Brewly:search", noise, rules=strict)
        assert load_cursor(session, "reddit", "Brewly:search").last_item_at > first


def test_mentions_stored_before_get_their_subreddit_from_the_migration(db_url: str) -> None:
    database = Database(db_url)
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0012")
        connection.execute(
            text(
                "INSERT INTO authors (id, network, handle, display_name, url, followers) "
                "VALUES (1, 'reddit', 'erik', 'erik', '', 0), (2, 'mastodon', 'a@b.c', '', '', 0)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO mentions (network, native_id, brand, source, url, author_id, text, "
                "kind, thread_id, reach, created_at, ingested_at) VALUES "
                "('reddit', 't3_1', 'Brewly', 's', "
                "'https://www.reddit.com/r/Espresso/comments/1/x/', 1, 'hi', 'post', 't3_1', 0, "
                ":now, :now), "
                "('mastodon', 'https://b.c/1', 'Brewly', 's', 'https://b.c/r/x/', 2, 'hi', "
                "'status', 'https://b.c/1', 0, :now, :now)"
            ).bindparams(now=utcnow())
        )
    database.upgrade()
    with database.transaction() as session:
        rows = session.execute(
            select(MentionRecord.network, MentionRecord.community).order_by(MentionRecord.id)
        ).all()
        bots = session.scalars(select(AuthorRecord.bot)).all()
    assert [tuple(row) for row in rows] == [("reddit", "Espresso"), ("mastodon", None)]
    assert bots == [False, False]
    database.close()
