"""One bad object never stops a source, and never hides: the rest of the page is stored, the
cursor moves on, what cannot be stored is kept for inspection and counted in `status`."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from connectors.base import Batch, Source
from connectors.mastodon import MastodonConnector, MastodonSettings
from connectors.reddit import RedditConnector, RedditSettings
from social_crm.alerts import health
from social_crm.config import Brand, Settings
from social_crm.daemon import Daemon
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.jobs import poll
from social_crm.mentions.models import AuthorRecord, MentionRecord, SkippedItem, SourceCursor

from .scripted_connector import ScriptedConnector, ScriptedSettings

ACCOUNT, PASSWORD = "acme_official", "hunter2"
ACME = Brand(
    name="Acme",
    keywords=["acme"],
    hashtags=["acme"],
    subreddits=["acme"],
    accounts={"reddit": ACCOUNT, "mastodon": "brand"},
)
DISPLAY_NAME_LENGTH = AuthorRecord.__table__.c.display_name.type.length


@pytest.fixture(scope="module")
def reddit() -> Iterator[FakeReddit]:
    with FakeReddit() as fake:
        yield fake


@pytest.fixture(scope="module")
def mastodon() -> Iterator[FakeMastodon]:
    with FakeMastodon(owner="brand") as fake:
        yield fake


def _daemon(settings: Settings, name: str, connector: Any) -> Daemon:
    daemon = Daemon(settings, connectors={name: connector}, notifiers={})
    daemon.start()
    return daemon


def _stored(daemon: Daemon) -> dict[str, MentionRecord]:
    with daemon.db.transaction() as session:
        rows = session.scalars(select(MentionRecord)).all()
        for row in rows:
            _ = row.author
        return {row.native_id: row for row in rows}


def _sources(daemon: Daemon) -> dict[str, health.SourceHealth]:
    with daemon.db.transaction() as session:
        return {row.source: row for row in health.report(session)}


def test_reddit_items_without_score_or_with_unstorable_text_are_stored(
    reddit: FakeReddit, make_settings: Any
) -> None:
    reddit.reset()
    connector = RedditConnector(
        RedditSettings(
            client_id=reddit.client_id,
            client_secret=reddit.client_secret,
            base_url=reddit.url,
            timeout_seconds=5,
            username=ACCOUNT,
            password=PASSWORD,
        ),
        watches=[ACME.watch()],
    )
    daemon = _daemon(make_settings(), "reddit", connector)
    poll(daemon.context, "reddit")  # the first polls: nothing yet
    post = reddit.submit("acme", author="alice", title="broken \ud800 title", selftext="a\x00b")
    old = reddit.comment(post, author="bob", body="u/acme_official an old one", score=None)
    fine = reddit.submit("acme", author="carol", title="all fine")

    assert poll(daemon.context, "reddit", paced=False) == 3  # the comment is in the inbox too

    stored = _stored(daemon)
    assert stored[post].text == "broken \ufffd title\n\na\ufffdb"
    assert stored[old].reach == 0 and stored[old].author.handle == "bob"
    assert fine in stored
    states = {key: row.state for key, row in _sources(daemon).items()}
    assert set(states.values()) == {"ok"}, states
    # The cursors moved on: nothing is fetched again.
    assert poll(daemon.context, "reddit", paced=False) == 0
    daemon.close()
    connector.close()


def test_mastodon_statuses_with_lone_surrogates_nul_and_long_names_are_stored(
    mastodon: FakeMastodon, make_settings: Any
) -> None:
    mastodon.reset()
    mastodon.add_account("anna", display_name="A" * (DISPLAY_NAME_LENGTH + 100))
    connector = MastodonConnector(
        MastodonSettings(
            api_base_url=mastodon.url, access_token="demo-token", timeout_seconds=5, streaming=False
        ),
        watches=[ACME.watch()],
    )
    daemon = _daemon(make_settings(), "mastodon", connector)
    poll(daemon.context, "mastodon")  # the first polls: nothing yet
    odd = mastodon.post("anna", "broken \ud800 and nul \x00 #acme")
    fine = mastodon.post("anna", "all fine #acme")

    assert poll(daemon.context, "mastodon", paced=False) == 2

    by_text = {row.text: row for row in _stored(daemon).values()}
    assert set(by_text) == {"broken \ufffd and nul \ufffd #acme", "all fine #acme"}
    assert by_text["all fine #acme"].author.display_name == "A" * DISPLAY_NAME_LENGTH
    assert {row.state for row in _sources(daemon).values()} == {"ok"}
    assert odd and fine
    daemon.close()
    connector.close()


class _OneUnstorable(ScriptedConnector):
    """Serves its posts, one of them with a reach no integer column holds."""

    def fetch(self, source: Source, cursor: str | None) -> Batch:
        batch = super().fetch(source, cursor)
        batch.mentions = [
            dataclasses.replace(m, reach=2**70) if "unstorable" in m.text else m
            for m in batch.mentions
        ]
        return batch


def test_an_item_that_cannot_be_stored_is_skipped_kept_and_counted(
    make_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    connector = _OneUnstorable(
        ScriptedSettings(network="scripted"), watches=[b.watch() for b in settings.brands]
    )
    daemon = _daemon(settings, "c0", connector)
    first = connector.post("anna", "before")
    bad = connector.post("bob", "unstorable")
    last = connector.post("carl", "after")

    with caplog.at_level(logging.WARNING):
        assert poll(daemon.context, "c0") == 2

    assert set(_stored(daemon)) == {first, last}
    with daemon.db.transaction() as session:
        (kept,) = session.scalars(select(SkippedItem)).all()
        cursor = session.scalar(select(SourceCursor.cursor))
    assert (kept.connector, kept.native_id) == ("c0", bad)
    assert "unstorable" in kept.excerpt and kept.error
    assert cursor == last  # the cursor went on past it
    (source,) = _sources(daemon).values()
    assert source.state == "ok" and source.skipped == 1
    assert [r.message for r in caplog.records if bad in r.message]
    assert poll(daemon.context, "c0", paced=False) == 0
    daemon.close()


def test_any_exception_in_a_poll_is_that_sources_failure(
    make_settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings()
    connector = ScriptedConnector(
        ScriptedSettings(network="scripted"), watches=[b.watch() for b in settings.brands]
    )
    daemon = _daemon(settings, "c0", connector)
    connector.failures.append(KeyError("score"))
    connector.post("anna", "hello")

    assert poll(daemon.context, "c0") == 0

    (source,) = _sources(daemon).values()
    assert source.state == "failing"
    assert source.last_error and "score" in source.last_error
    assert poll(daemon.context, "c0", paced=False) == 0  # backing off
    daemon.close()
