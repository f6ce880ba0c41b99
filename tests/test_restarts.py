"""Stopping and restarting the daemon loses nothing: what was published, edited or deleted
on Reddit and Mastodon while it was stopped is stored, updated or emptied after the restart."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from connectors.base import Connector
from connectors.mastodon import MastodonConnector, MastodonSettings
from connectors.reddit import RedditConnector, RedditSettings
from social_crm.alerts import service
from social_crm.config import Brand, Settings
from social_crm.daemon import Daemon
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.jobs.classify import classify
from social_crm.jobs.escalate import escalate
from social_crm.jobs.poll import poll
from social_crm.jobs.refresh import refresh
from social_crm.mentions.models import MentionRecord

ACME = Brand(name="acme", hashtags=["acme"], subreddits=["acme"])
NEGATIVE = "terrible awful broken, the worst"
POSITIVE = "great, I love it, excellent"


@pytest.fixture(scope="module")
def _mastodon() -> Iterator[FakeMastodon]:
    with FakeMastodon(owner="brand") as server:
        yield server


@pytest.fixture(scope="module")
def _reddit() -> Iterator[FakeReddit]:
    with FakeReddit() as server:
        yield server


@pytest.fixture
def mastodon(_mastodon: FakeMastodon) -> FakeMastodon:
    _mastodon.reset()
    _mastodon.add_account("carl", display_name="Carl")
    _mastodon.add_account("dora", display_name="Dora")
    return _mastodon


@pytest.fixture
def reddit(_reddit: FakeReddit) -> FakeReddit:
    _reddit.reset()
    return _reddit


def _mastodon_connector(fake: FakeMastodon) -> MastodonConnector:
    settings = {"api_base_url": fake.url, "access_token": "demo-token", "page_size": 5}
    return MastodonConnector(MastodonSettings.model_validate(settings), watches=[ACME.watch()])


def _reddit_connector(fake: FakeReddit) -> RedditConnector:
    settings = RedditSettings(
        client_id=fake.client_id, client_secret=fake.client_secret, base_url=fake.url, page_size=5
    )
    return RedditConnector(settings, watches=[ACME.watch()])


Run = Callable[[str, Connector], Daemon]


@pytest.fixture
def run(make_settings: Callable[..., Settings]) -> Iterator[Run]:
    """Start a daemon (on the test's one database) with one connector; closed at the end."""
    started: list[Daemon] = []

    def start(name: str, connector: Connector) -> Daemon:
        daemon = Daemon(make_settings(), connectors={name: connector}, notifiers={})
        daemon.start()
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.close()


def _stored(daemon: Daemon) -> dict[str, tuple[str, bool]]:
    """Each stored mention's URL: (text, deleted)."""
    with daemon.db.transaction() as session:
        rows = session.execute(
            select(MentionRecord.url, MentionRecord.text, MentionRecord.deleted_at)
        ).all()
    return {url: (text, deleted is not None) for url, text, deleted in rows}


def _poll_until_quiet(daemon: Daemon, name: str) -> int:
    """Poll until nothing new comes; how many mentions were stored."""
    total = 0
    while stored := poll(daemon.context, name, paced=False):
        total += stored
    return total


# -- listening starts when the bot starts (point 2) ---------------------------------------


def test_mastodon_published_while_stopped_after_an_empty_start_is_all_stored_once(
    mastodon: FakeMastodon, run: Run
) -> None:
    first = run("mastodon", _mastodon_connector(mastodon))
    assert poll(first.context, "mastodon", paced=False) == 0  # an empty hashtag at start
    first.close()
    published = [mastodon.post("carl", f"while stopped {i} #acme") for i in range(12)]

    again = run("mastodon", _mastodon_connector(mastodon))
    assert _poll_until_quiet(again, "mastodon") == 12
    texts = sorted(text for text, _ in _stored(again).values())
    assert texts == sorted(f"while stopped {i} #acme" for i in range(12))
    later = mastodon.post("carl", "after the restart #acme")
    assert poll(again.context, "mastodon", paced=False) == 1
    assert len(_stored(again)) == len(published) + 1 and later


def test_reddit_published_while_stopped_after_an_empty_start_is_all_stored_once(
    reddit: FakeReddit, run: Run
) -> None:
    first = run("reddit", _reddit_connector(reddit))
    assert poll(first.context, "reddit", paced=False) == 0  # an empty subreddit at start
    first.close()
    published = reddit.submit_many("acme", 23)

    again = run("reddit", _reddit_connector(reddit))
    assert _poll_until_quiet(again, "reddit") == 23  # not only the newest page of 5
    with again.db.transaction() as session:
        stored = session.scalars(select(MentionRecord.native_id)).all()
    assert sorted(stored) == sorted(published)


# -- edits and deletions while stopped (point 3) ------------------------------------------


def test_mastodon_edits_and_deletions_while_stopped_apply_after_restart(
    mastodon: FakeMastodon, run: Run
) -> None:
    first = run("mastodon", _mastodon_connector(mastodon))
    poll(first.context, "mastodon", paced=False)
    edited = mastodon.post("carl", f"{NEGATIVE} #acme")
    deleted = mastodon.post("dora", f"{NEGATIVE} again #acme")
    assert poll(first.context, "mastodon", paced=False) == 2
    classify(first.context)
    assert escalate(first.context) >= 1
    first.close()
    mastodon.edit(edited, f"{POSITIVE} #acme")
    mastodon.delete(deleted)

    again = run("mastodon", _mastodon_connector(mastodon))  # remembers nothing of before
    assert refresh(again.context, "mastodon") == 2
    stored = _stored(again)
    assert stored[mastodon.status_json(edited)["url"]] == (f"{POSITIVE} #acme", False)
    assert ("", True) in stored.values()
    assert mastodon.api_requests("/api/v2/search") == []  # read back by id, not searched
    classify(again.context)
    with again.db.transaction() as session:
        changes = {
            alert.first_mention.text: alert.first_mention.change
            for alert in service.list_alerts(session)
            if alert.first_mention is not None
        }
    assert set(changes.values()) == {"deleted", "edited, now positive"}


def test_reddit_edits_and_deletions_while_stopped_apply_after_restart(
    reddit: FakeReddit, run: Run
) -> None:
    first = run("reddit", _reddit_connector(reddit))
    poll(first.context, "reddit", paced=False)
    edited = reddit.submit("acme", author="alice", title="Acme", selftext=NEGATIVE)
    deleted = reddit.submit("acme", author="bob", title="Acme", selftext=f"{NEGATIVE} again")
    assert poll(first.context, "reddit", paced=False) == 2
    classify(first.context)
    assert escalate(first.context) >= 1
    first.close()
    reddit.edit(edited, POSITIVE)
    reddit.delete(deleted)

    again = run("reddit", _reddit_connector(reddit))
    assert refresh(again.context, "reddit") == 2
    with again.db.transaction() as session:
        rows = dict(
            session.execute(
                select(MentionRecord.native_id, MentionRecord.deleted_at.is_not(None))
            ).all()
        )
    assert rows == {edited: False, deleted: True}
    classify(again.context)
    with again.db.transaction() as session:
        detail = [service.get_alert(session, a.id) for a in service.list_alerts(session)]
    assert {d.summary.first_mention.change for d in detail} == {  # type: ignore[union-attr]
        "deleted",
        "edited, now positive",
    }
