"""MastodonConnector against FakeMastodon's scenario controls, with the real Mastodon.py client.

Failures (429, 5xx, timeouts, broken JSON, a revoked token), edits and deletions, watched
accounts, search, a second federating instance, streaming with its polling fallback, and
the seeded fault injector.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from mastodon import Mastodon
from sqlalchemy import select

from connectors.base import Refreshable, Source
from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    RateLimitedError,
    TransientConnectorError,
)
from connectors.mastodon import MastodonConnector, MastodonSettings
from connectors.mastodon import stream as stream_module
from social_crm.config import Brand
from social_crm.daemon import Daemon
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.jobs import JobContext, poll
from social_crm.mentions import source_leases
from social_crm.mentions.models import MentionRecord

from .clock import Clock

ACME = Brand(
    name="acme",
    keywords=["espresso"],
    hashtags=["acme"],
    accounts={"mastodon": "brand"},
)

Connect = Callable[..., MastodonConnector]


@pytest.fixture(scope="module")
def _servers() -> Iterator[tuple[FakeMastodon, FakeMastodon]]:
    with FakeMastodon(owner="brand") as one, FakeMastodon(owner="watcher") as two:
        yield one, two


@pytest.fixture
def fake(_servers: tuple[FakeMastodon, FakeMastodon]) -> FakeMastodon:
    server = _servers[0]
    server.reset()
    server.rate_limit = 300
    server.add_account("anna", display_name="Anna", followers=12, remote_domain="remote.example")
    server.add_account("carl", display_name="Carl", followers=3)
    return server


@pytest.fixture
def other(_servers: tuple[FakeMastodon, FakeMastodon]) -> FakeMastodon:
    server = _servers[1]
    server.reset()
    server.rate_limit = 300
    return server


@pytest.fixture
def connect(fake: FakeMastodon) -> Iterator[Connect]:
    made: list[MastodonConnector] = []

    def build(*, brands: list[Brand] | None = None, **settings: Any) -> MastodonConnector:
        options: dict[str, Any] = {
            "api_base_url": fake.url,
            "access_token": "demo-token",
            "timeout_seconds": 5,
        }
        options.update(settings)
        connector = MastodonConnector(
            MastodonSettings.model_validate(options),
            watches=[brand.watch() for brand in brands or [ACME]],
        )
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()


@pytest.fixture(autouse=True)
def _fast_stream_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stream_module, "STREAM_RETRY_SECONDS", 0.05)


def _source(connector: MastodonConnector, key: str) -> Source:
    return next(s for s in connector.sources() if s.key == key)


def _texts(batch: Any) -> list[str]:
    return [m.text for m in batch.mentions]


def _buffered(buffer: Any, status_id: str) -> bool:
    return any(str(item["id"]) == status_id for _, item in list(buffer.items))


def _wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


# -- rate limits --------------------------------------------------------------------------


def test_429_gives_retry_after_until_reset_then_no_request_until_then(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect()
    source = _source(connector, "acme:tag:acme")
    fake.exhaust_ratelimit(reset_in=30)
    with pytest.raises(RateLimitedError, match="acme:tag:acme") as info:
        connector.fetch(source, None)
    assert 25 <= info.value.retry_after <= 31
    served = len(fake.requests)
    # The budget is known to be spent: the next fetch, of any source, asks nothing.
    with pytest.raises(RateLimitedError) as again:
        connector.fetch(_source(connector, "acme:mentions"), None)
    assert 25 <= again.value.retry_after <= 31
    assert len(fake.requests) == served


def test_spent_budget_is_respected_before_the_server_says_429(
    fake: FakeMastodon, connect: Connect
) -> None:
    # Mastodon.py's "throw" mode raises only on a 429; the connector itself stops at 0 left.
    fake.rate_limit = 3
    connector = connect()
    tag, mentions = _source(connector, "acme:tag:acme"), _source(connector, "acme:mentions")
    connector.fetch(tag, None)  # Mastodon.py reads /api/v2/instance once first: 2 requests
    connector.fetch(mentions, None)
    served = len(fake.requests)
    with pytest.raises(RateLimitedError, match="spent") as info:
        connector.fetch(mentions, None)
    assert 0 < info.value.retry_after <= 301
    assert len(fake.requests) == served  # no request was made to learn it


def test_a_lone_429_from_the_server(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect()
    source = _source(connector, "acme:tag:acme")
    fake.fail_next(429, reset_in=5, path="/api/v1/timelines")
    with pytest.raises(RateLimitedError) as info:
        connector.fetch(source, None)
    assert 1 <= info.value.retry_after <= 6


def test_a_proxys_bare_429_leaves_the_budget_alone(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect()
    source = _source(connector, "acme:tag:acme")
    connector.fetch(source, None)
    fake.fail_next(429, reset_in=None, path="/api/v1/timelines")
    with pytest.raises(RateLimitedError) as info:
        connector.fetch(source, None)
    assert info.value.retry_after == 60  # no reset to go by: the default wait
    served = len(fake.requests)
    connector.fetch(_source(connector, "acme:mentions"), None)  # others may still ask
    assert len(fake.requests) == served + 1
    assert fake.fault_counts == {"429": 1}


# -- server failures ----------------------------------------------------------------------


def test_500_once_is_transient_and_nothing_is_lost(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect()
    source = _source(connector, "acme:tag:acme")
    cursor = connector.fetch(source, None).cursor
    fake.post("carl", "one #acme")
    fake.fail_next(500, path="/api/v1/timelines")
    with pytest.raises(TransientConnectorError, match=r"HTTP 500"):
        connector.fetch(source, cursor)
    assert _texts(connector.fetch(source, cursor)) == ["one #acme"]


def test_500_n_times_then_recovery(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect()
    source = _source(connector, "acme:mentions")
    fake.post("carl", "hi @brand")
    fake.fail_next(503, count=3, path="/api/v1/notifications")
    for _ in range(3):
        with pytest.raises(TransientConnectorError):
            connector.fetch(source, None)
    assert _texts(connector.fetch(source, None)) == ["hi @brand"]
    assert [f.kind for f in fake.injected_faults] == ["503"] * 3


def test_failure_in_the_middle_of_paging_keeps_the_cursor(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect(page_size=3)
    source = _source(connector, "acme:tag:acme")
    cursor = fake.post("carl", "seen #acme")
    for i in range(7):
        fake.post("carl", f"s{i} #acme")
    path = "/api/v1/timelines/tag/acme"
    fake.slow_next(0, path=path)  # faults apply in order: the first page goes through,
    fake.fail_next(502, path=path)  # the second fails
    with pytest.raises(TransientConnectorError, match="HTTP 502"):
        connector.fetch(source, cursor)
    assert len(fake.api_requests(path)) == 2
    assert _texts(connector.fetch(source, cursor)) == [f"s{i} #acme" for i in range(7)]


def test_slow_answer_beyond_the_timeout_is_transient(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect(timeout_seconds=0.3)
    source = _source(connector, "acme:tag:acme")
    fake.post("carl", "one #acme")
    fake.slow_next(1.0, path="/api/v1/timelines")
    started = time.monotonic()
    with pytest.raises(TransientConnectorError, match="unreachable or too slow"):
        connector.fetch(source, None)
    assert time.monotonic() - started < 0.9
    assert _texts(connector.fetch(source, None)) == ["one #acme"]


def test_broken_json_is_a_warning_naming_the_source_and_transient(
    fake: FakeMastodon, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    connector = connect()
    source = _source(connector, "acme:tag:acme")
    fake.post("carl", "one #acme")
    fake.break_json_next(path="/api/v1/timelines")
    with caplog.at_level(logging.WARNING, logger="connectors.mastodon"):
        with pytest.raises(TransientConnectorError, match="malformed JSON"):
            connector.fetch(source, None)
    (record,) = [r for r in caplog.records if r.name.startswith("connectors.mastodon.")]
    assert "acme:tag:acme" in record.getMessage() and "not JSON" in record.getMessage()
    assert _texts(connector.fetch(source, None)) == ["one #acme"]


def test_revoked_token_is_one_clear_authentication_error(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect()
    source = _source(connector, "acme:tag:acme")
    connector.fetch(source, None)
    fake.revoke_token()
    with pytest.raises(AuthenticationError) as info:
        connector.fetch(source, None)
    assert str(info.value) == (
        f"mastodon acme:tag:acme: {fake.host} refused the access token "
        "(HTTP 401: revoked, expired or missing a read scope)"
    )


# -- paging with and without Link headers -------------------------------------------------


@pytest.mark.parametrize("links", [True, False])
def test_paging_with_and_without_link_headers(
    fake: FakeMastodon, connect: Connect, links: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    followed: list[Any] = []
    original = Mastodon.fetch_previous

    def spy(self: Mastodon, page: Any) -> Any:
        followed.append(page)
        return original(self, page)

    monkeypatch.setattr(Mastodon, "fetch_previous", spy)
    fake.link_headers = links
    connector = connect(page_size=4)
    source = _source(connector, "acme:mentions")
    cursor = connector.fetch(source, None).cursor
    fake.post("carl", "before", mention="brand")
    cursor = connector.fetch(source, cursor).cursor
    for i in range(10):
        fake.post("anna@remote.example", f"m{i}", mention="brand")
    batch = connector.fetch(source, cursor)
    assert _texts(batch) == [f"@brand m{i}" for i in range(10)]
    served = fake.api_requests("/api/v1/notifications")[-3:]
    assert [r.query["min_id"] for r in served] == [[cursor], ["5"], ["9"]]
    assert len(followed) == (2 if links else 0)
    response = requests.get(
        f"{fake.url}/api/v1/notifications",
        headers={"Authorization": "Bearer demo-token"},
        timeout=5,
    )
    assert ("Link" in response.headers) is links


# -- edits and deletions ------------------------------------------------------------------


def test_edit_shows_in_fetch_and_refresh(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect()
    assert isinstance(connector, Refreshable)
    source = _source(connector, "acme:tag:acme")
    first = fake.post("carl", "good #acme")
    second = fake.post("anna@remote.example", "fine #acme")
    batch = connector.fetch(source, None)
    assert [m.edited_at for m in batch.mentions] == [None, None]
    uris = [m.native_id for m in batch.mentions]

    when = datetime(2026, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)
    fake.edit(first, "actually bad #acme", edited_at=when)
    revisions = connector.refresh(uris)
    assert [(r.native_id, r.text, r.deleted, r.edited_at) for r in revisions] == [
        (uris[0], "actually bad #acme", False, when),
        (uris[1], "fine #acme", False, None),
    ]
    assert fake.status_json(first)["edited_at"] == "2026-05-06T07:08:09.123Z"
    fake.edit(second, "now #acme for real")
    (again,) = connector.fetch(source, None).mentions[1:]
    assert again.text == "now #acme for real" and again.edited_at is not None


def test_deleted_status_is_a_deleted_revision(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect()
    source = _source(connector, "acme:mentions")
    fake.post("carl", "hello", mention="brand")
    (mention,) = connector.fetch(source, None).mentions
    status_id = mention.url.rsplit("/", 1)[1]
    fake.delete(status_id)
    missing = requests.get(f"{fake.url}/api/v1/statuses/{status_id}", timeout=5)
    assert missing.status_code == 404
    (revision,) = connector.refresh([mention.native_id])
    assert revision.deleted and revision.text == "" and revision.native_id == mention.native_id
    assert connector.fetch(source, None).mentions == []  # its notification went with it


def test_refresh_after_restart_resolves_uris_by_search(
    fake: FakeMastodon, connect: Connect
) -> None:
    status_id = fake.post("anna@remote.example", "old #acme")
    uri = fake.status_json(status_id)["uri"]
    fake.edit(status_id, "new #acme")
    connector = connect()  # a fresh connector has not seen the status
    unknown = "https://elsewhere.example/users/x/statuses/1"
    revisions = connector.refresh([unknown, uri])
    assert [(r.native_id, r.text) for r in revisions] == [(uri, "new #acme")]
    searches = fake.api_requests("/api/v2/search")
    assert [r.query["q"] for r in searches] == [[unknown], [uri]]
    assert all(r.query["resolve"] == ["1"] for r in searches)
    connector.refresh([unknown, uri])
    assert len(fake.api_requests("/api/v2/search")) == 2  # both remembered, found or not


def test_refresh_leaves_budget_for_polling(fake: FakeMastodon, connect: Connect) -> None:
    fake.rate_limit = 10
    connector = connect()
    for i in range(12):
        fake.post("carl", f"s{i} #acme")
    uris = [
        m.native_id for m in connector.fetch(_source(connector, "acme:tag:acme"), None).mentions
    ]
    revisions = connector.refresh(uris)
    # 10 requests per window: the fetch took 3 (Mastodon.py reads /api/v2/instance once, so
    # does the connector, for the server's domain), refresh 5, and 2 (a fifth) are kept back.
    assert len(revisions) == 5
    with pytest.raises(RateLimitedError):
        connector.refresh(uris)


# -- watched accounts ---------------------------------------------------------------------


def test_account_statuses_with_lookup_once(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect(accounts=["@Anna@Remote.Example"], page_size=2)
    source = _source(connector, "acme:account:anna@remote.example")
    root = fake.post("carl", "a question")
    fake.post("anna@remote.example", "first")
    batch = connector.fetch(source, None)
    assert _texts(batch) == ["first"]
    fake.post("anna@remote.example", "a reply", in_reply_to=root)
    fake.reblog("anna@remote.example", root)  # boosts are left out
    fake.post("carl", "not anna")
    for i in range(3):
        fake.post("anna@remote.example", f"more {i}")
    later = connector.fetch(source, batch.cursor)
    assert _texts(later) == ["a reply", "more 0", "more 1", "more 2"]
    # The parent was never returned: its URI comes from the reply's context.
    assert later.mentions[0].parent_id == fake.status_json(root)["uri"]
    assert len(fake.api_requests("/api/v1/accounts/lookup")) == 1
    calls = fake.api_requests("/api/v1/accounts/")
    assert all(r.query.get("exclude_reblogs") == ["1"] for r in calls if "statuses" in r.path)


def test_reply_to_a_seen_status_points_at_its_uri(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect()
    source = _source(connector, "acme:tag:acme")
    root = fake.post("carl", "root #acme")
    cursor = connector.fetch(source, None).cursor
    fake.post("anna@remote.example", "reply #acme", in_reply_to=root)
    (reply,) = connector.fetch(source, cursor).mentions
    assert reply.parent_id == fake.status_json(root)["uri"]


def test_unknown_account_is_a_clear_error(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect(accounts=["nobody@nowhere.example"])
    with pytest.raises(ConnectorError, match="does not know the account nobody@nowhere.example"):
        connector.fetch(_source(connector, "acme:account:nobody@nowhere.example"), None)


def test_accounts_setting_is_validated() -> None:
    with pytest.raises(ValueError, match="not an account handle"):
        MastodonSettings(api_base_url="https://x", access_token="t", accounts=["a b"])


# -- search -------------------------------------------------------------------------------


def test_search_finds_opted_in_statuses_by_keyword(fake: FakeMastodon, connect: Connect) -> None:
    fake.add_account("shy", indexable=False)
    brand = ACME.model_copy(update={"keywords": ["espresso", "grinder"]})
    connector = connect(brands=[brand], search=True, page_size=2)
    source = _source(connector, "acme:search")
    fake.post("carl", "old espresso talk")
    cursor = connector.fetch(source, None).cursor
    fake.post("shy", "my espresso is private")  # not indexable: search cannot find it
    fake.post("carl", "Espresso machine broke")
    fake.post("anna@remote.example", "new grinder!")
    fake.post("carl", "unrelated")
    for i in range(3):
        fake.post("carl", f"espresso {i}")
    batch = connector.fetch(source, cursor)
    assert _texts(batch) == [
        "Espresso machine broke",
        "new grinder!",
        "espresso 0",
        "espresso 1",
        "espresso 2",
    ]
    assert connector.fetch(source, batch.cursor).mentions == []


def test_search_refused_logs_once_and_stays_quiet(
    fake: FakeMastodon, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    fake.search_enabled = False
    connector = connect(search=True)
    source = _source(connector, "acme:search")
    with caplog.at_level(logging.WARNING, logger="connectors.mastodon"):
        for _ in range(3):
            batch = connector.fetch(source, "7")
            assert batch.mentions == [] and batch.cursor == "7"
    assert len(fake.api_requests("/api/v2/search")) == 1
    (record,) = [r for r in caplog.records if r.name.startswith("connectors.mastodon.")]
    assert "refuses full-text search (HTTP 404)" in record.getMessage()


def test_no_search_source_without_the_setting_or_keywords(connect: Connect) -> None:
    keys = {s.key for s in connect().sources()}
    assert "acme:search" not in keys
    bare = Brand(name="bare", hashtags=["x"])
    assert {s.key for s in connect(brands=[bare], search=True).sources()} == {"bare:tag:x"}


# -- more than one instance ---------------------------------------------------------------


def test_the_same_status_through_two_instances_is_one_mention(
    fake: FakeMastodon, other: FakeMastodon, connect: Connect
) -> None:
    connector = connect(extra_instances=[{"api_base_url": other.url}])
    keys = [s.key for s in connector.sources()]
    assert keys == ["acme:tag:acme", f"acme:tag:acme@{other.host}", "acme:mentions"]
    local = fake.post("carl", "local #acme")
    remote = fake.post("anna@remote.example", "remote #acme")
    copies = [fake.federate(local, other), fake.federate(remote, other)]
    assert copies[0] not in {local, remote}
    here = connector.fetch(_source(connector, "acme:tag:acme"), None).mentions
    there = connector.fetch(_source(connector, f"acme:tag:acme@{other.host}"), None).mentions
    assert [(m.native_id, m.url, m.author.handle) for m in here] == [
        (m.native_id, m.url, m.author.handle) for m in there
    ]
    assert [m.author.handle for m in here] == [f"carl@{fake.host}", "anna@remote.example"]
    assert [m.source for m in there] == [f"acme:tag:acme@{other.host}"] * 2

    fake.edit(local, "edited #acme")  # reaches the copy too
    assert other.status_json(copies[0])["edited_at"] is not None
    fake.delete(local)
    (gone, kept) = connector.refresh([here[0].native_id, here[1].native_id])
    assert gone.deleted and not kept.deleted


def test_a_status_seen_through_two_instances_is_stored_once(
    fake: FakeMastodon, other: FakeMastodon, connect: Connect, make_settings: Any
) -> None:
    connector = connect(extra_instances=[{"api_base_url": other.url}])
    daemon = Daemon(make_settings(), connectors={"mastodon": connector}, notifiers={})
    daemon.start()
    poll(daemon.context, "mastodon")  # the first polls: empty timelines
    status = fake.post("anna@remote.example", "seen twice #acme")
    fake.federate(status, other)
    assert poll(daemon.context, "mastodon", paced=False) == 1
    assert poll(daemon.context, "mastodon", paced=False) == 0
    with daemon.db.transaction() as session:
        stored = session.execute(select(MentionRecord.native_id, MentionRecord.source)).all()
    daemon.close()
    assert stored == [(fake.status_json(status)["uri"], "acme:tag:acme")]
    served = [r.path for r in other.requests if r.path.startswith("/api/v1/timelines/tag/")]
    assert len(served) == 3  # every poll read the second instance too


def test_anonymous_instance_that_needs_a_token(
    other: FakeMastodon, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    from social_crm.demo.servers import mastodon as fake_module

    monkeypatch.setattr(fake_module, "_NEEDS_TOKEN", fake_module._NEEDS_TOKEN | {"tag_timeline"})
    connector = connect(extra_instances=[{"api_base_url": other.url}])
    source = _source(connector, f"acme:tag:acme@{other.host}")
    with pytest.raises(ConnectorError, match="requires an access token") as info:
        connector.fetch(source, None)
    assert not isinstance(info.value, AuthenticationError)  # the primary still works
    with_token = connect(
        extra_instances=[{"api_base_url": other.url, "access_token": "demo-token"}]
    )
    assert with_token.fetch(source, None).mentions == []


def test_extra_instances_are_validated(fake: FakeMastodon) -> None:
    for extra in ([{"api_base_url": fake.url}], [{"api_base_url": "x"}]):
        with pytest.raises(ValueError):
            MastodonSettings(api_base_url=fake.url, access_token="t", extra_instances=extra)


# -- streaming ----------------------------------------------------------------------------


def test_streaming_feeds_fetch_without_polling(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect(streaming=True)
    tag, mentions = _source(connector, "acme:tag:acme"), _source(connector, "acme:mentions")
    fake.post("carl", "before #acme")
    cursors = {tag.key: connector.fetch(tag, None).cursor, mentions.key: None}
    cursors[mentions.key] = connector.fetch(mentions, None).cursor
    _wait_for(lambda: set(connector.stream_status().values()) == {"connected"})
    for source in (tag, mentions):  # the catch-up poll: the stream was open before it began
        assert connector.fetch(source, cursors[source.key]).mentions == []

    served = len(fake.requests)
    ids = [fake.post("anna@remote.example", f"streamed {i} #acme") for i in range(3)]
    fake.post("carl", "hi @brand")
    tag_buffer = connector._streams[(fake.host, "acme")]._buffers[tag.key]
    mention_buffer = connector._streams[(fake.host, "")]._buffers[mentions.key]
    _wait_for(lambda: _buffered(tag_buffer, ids[-1]) and bool(mention_buffer.items))
    batch = connector.fetch(tag, cursors[tag.key])
    assert _texts(batch) == [f"streamed {i} #acme" for i in range(3)]
    assert batch.cursor == ids[-1]
    noted = connector.fetch(mentions, cursors[mentions.key])
    assert _texts(noted) == ["hi @brand"] and noted.cursor == "1"
    assert connector.fetch(tag, batch.cursor).mentions == []
    rest = [r.path for r in fake.requests[served:]]
    assert not [p for p in rest if p.startswith(("/api/v1/timelines", "/api/v1/notifications"))]


def test_stream_drop_falls_back_to_a_catch_up_poll(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect(streaming=True)
    tag = _source(connector, "acme:tag:acme")
    name = f"#acme@{fake.host}"
    fake.post("carl", "before #acme")
    first = connector.fetch(tag, None).cursor
    _wait_for(lambda: connector.stream_status() == {name: "connected"})
    cursor = connector.fetch(tag, first).cursor
    stream = connector._streams[(fake.host, "acme")]
    fake.disconnect_streams()
    _wait_for(lambda: stream._generation == 2)  # the client noticed, and reconnected
    missed = fake.post("carl", "while disconnected #acme")
    batch = connector.fetch(tag, cursor)
    assert _texts(batch) == ["while disconnected #acme"] and batch.cursor == missed
    assert connector.fetch(tag, batch.cursor).mentions == []  # drained: caught up again
    streamed = fake.post("carl", "streamed #acme")
    buffer = stream._buffers[tag.key]
    _wait_for(lambda: _buffered(buffer, streamed))
    # A cursor other than the last one returned (say, a batch that was not stored): poll.
    again = connector.fetch(tag, cursor)
    assert _texts(again) == ["while disconnected #acme", "streamed #acme"]
    last = fake.post("carl", "streamed later #acme")
    _wait_for(lambda: _buffered(buffer, last))
    served = len(fake.requests)
    latest = connector.fetch(tag, again.cursor)
    assert _texts(latest) == ["streamed later #acme"] and latest.cursor == last
    assert len(fake.requests) == served


def test_refused_streaming_logs_once_and_polls(
    fake: FakeMastodon, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    fake.streaming_enabled = False
    connector = connect(streaming=True)
    tag, mentions = _source(connector, "acme:tag:acme"), _source(connector, "acme:mentions")
    with caplog.at_level(logging.WARNING, logger="connectors.mastodon"):
        cursor = connector.fetch(tag, None).cursor
        connector.fetch(mentions, None)
        _wait_for(lambda: set(connector.stream_status().values()) == {"refused"})
        fake.post("carl", "polled #acme")
        assert _texts(connector.fetch(tag, cursor)) == ["polled #acme"]
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 2  # one per stream, once
    assert all("polling instead from now on" in m for m in refusals)
    assert len(fake.api_requests("/api/v1/streaming/health")) == 2


def test_streamed_sources_keep_the_fastest_pace_until_the_stream_is_refused(
    fake: FakeMastodon, connect: Connect
) -> None:
    fake.streaming_enabled = False
    connector = connect(streaming=True, accounts=["carl"], page_size=20)

    def page_sizes() -> dict[str, int | None]:
        return {s.key: s.page_size for s in connector.sources()}

    # A drained stream costs no request: no page size, so the daemon does not slow it down.
    assert page_sizes() == {"acme:tag:acme": None, "acme:mentions": None, "acme:account:carl": 20}
    connector.fetch(_source(connector, "acme:tag:acme"), None)
    _wait_for(lambda: connector.stream_status() == {f"#acme@{fake.host}": "refused"})
    assert page_sizes() == {"acme:tag:acme": 20, "acme:mentions": None, "acme:account:carl": 20}


def test_stream_refused_after_a_healthy_check(
    fake: FakeMastodon, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    from social_crm.demo.servers import mastodon as fake_module

    def refuse(self: FakeMastodon, request: Any, *, viewer: str | None) -> Any:
        return fake_module._json_response({"error": "Not Found"}, 404)

    monkeypatch.setattr(FakeMastodon, "_get_stream_hashtag", refuse)
    connector = connect(streaming=True)
    tag = _source(connector, "acme:tag:acme")
    connector.fetch(tag, None)
    _wait_for(lambda: connector.stream_status() == {f"#acme@{fake.host}": "refused"})
    assert len(fake.api_requests("/api/v1/streaming/hashtag")) == 1


def test_close_ends_stream_threads_promptly(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect(streaming=True)
    connector.fetch(_source(connector, "acme:tag:acme"), None)
    _wait_for(lambda: fake.stream_count == 1)
    threads = [s._thread for s in connector._streams.values()]
    started = time.monotonic()
    connector.close()
    assert time.monotonic() - started < 1.5
    assert not any(t.is_alive() for t in threads)


def test_a_lost_lease_closes_the_stream_and_a_regained_one_streams_on_from_the_stored_cursor(
    fake: FakeMastodon, connect: Connect, make_settings: Any
) -> None:
    clock = Clock()
    brands = [Brand(name="acme", hashtags=["acme"])]  # one source, one stream
    mine = connect(streaming=True, brands=brands)
    daemon = Daemon(make_settings(), connectors={"mastodon": mine}, notifiers={}, now=clock)
    daemon.start()
    here = daemon.context
    # Another daemon on the same database, polling without a stream.
    there = JobContext(
        settings=here.settings,
        db=here.db,
        routing=here.routing,
        connectors={"mastodon": connect(brands=brands)},
        now=clock,
        holder="elsewhere:1:ab",
    )
    lease = source_leases.lease_seconds(here.settings, "mastodon")
    tag, name = (fake.host, "acme"), f"#acme@{fake.host}"

    def stored() -> list[str]:
        with daemon.db.transaction() as session:
            return list(session.scalars(select(MentionRecord.text).order_by(MentionRecord.id)))

    def streamed(text: str) -> None:
        """Post ``text`` and wait until this daemon's stream holds it."""
        status = fake.post("carl", text)
        buffer = mine._streams[tag]._buffers["acme:tag:acme"]
        _wait_for(lambda: _buffered(buffer, status))

    assert poll(here, "mastodon") == 0  # the first poll starts the stream
    _wait_for(lambda: fake.stream_count == 1 and mine.stream_status() == {name: "connected"})
    assert poll(here, "mastodon", paced=False) == 0  # caught up with the open stream
    streamed("one #acme")
    assert poll(here, "mastodon", paced=False) == 1

    clock.now += lease + 1  # this daemon stalls; its lease runs out and the other takes over
    fake.post("carl", "two #acme")
    assert poll(there, "mastodon", paced=False) == 1
    assert poll(here, "mastodon", paced=False) == 0  # it finds the source is not its own
    _wait_for(lambda: fake.stream_count == 0)  # its stream is closed: nothing buffers any more
    assert mine.stream_status() == {}
    fake.post("carl", "three #acme")
    assert poll(there, "mastodon", paced=False) == 1

    clock.now += lease + 1  # now the other one stalls: this daemon takes the source back
    fake.post("carl", "four #acme")
    assert poll(here, "mastodon", paced=False) == 1  # from the other's cursor, a fresh stream
    _wait_for(lambda: mine.stream_status() == {name: "connected"})
    assert poll(here, "mastodon", paced=False) == 0
    streamed("five #acme")
    served = len(fake.requests)
    assert poll(here, "mastodon", paced=False) == 1
    assert not [r for r in fake.requests[served:] if r.path.startswith("/api/v1/timelines")]
    daemon.close()
    assert stored() == [f"{n} #acme" for n in ("one", "two", "three", "four", "five")]


def test_releasing_one_of_two_sources_on_a_stream_keeps_it_for_the_other(
    fake: FakeMastodon, connect: Connect
) -> None:
    brands = [Brand(name="acme", hashtags=["coffee"]), Brand(name="brew", hashtags=["coffee"])]
    connector = connect(streaming=True, brands=brands)
    acme, brew = _source(connector, "acme:tag:coffee"), _source(connector, "brew:tag:coffee")
    cursors = {s.key: connector.fetch(s, None).cursor for s in (acme, brew)}
    stream = connector._streams[(fake.host, "coffee")]
    _wait_for(lambda: stream.state == "connected")
    cursors = {s.key: connector.fetch(s, cursors[s.key]).cursor for s in (acme, brew)}
    connector.release(acme)
    status = fake.post("carl", "shared #coffee")
    _wait_for(lambda: _buffered(stream._buffers[brew.key], status))
    assert list(stream._buffers) == [brew.key] and fake.stream_count == 1
    assert _texts(connector.fetch(brew, cursors[brew.key])) == ["shared #coffee"]
    connector.release(brew)
    _wait_for(lambda: fake.stream_count == 0)
    assert connector.stream_status() == {}
    # Fetched again, the released source polls from the cursor it is given.
    assert _texts(connector.fetch(acme, cursors[acme.key])) == ["shared #coffee"]


# -- the seeded fault injector ------------------------------------------------------------


def test_fault_injector_is_seeded_and_never_loses_or_duplicates(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect(page_size=3, timeout_seconds=0.3)
    source = _source(connector, "acme:tag:acme")
    cursor = connector.fetch(source, fake.post("carl", "seen #acme")).cursor
    posted = [fake.post("carl", f"n{i} #acme") for i in range(10)]
    fake.inject_faults(0.4, seed=4, slow_seconds=0.5)
    got: list[str] = []
    failures = 0
    deadline = time.monotonic() + 15
    while cursor != posted[-1] and time.monotonic() < deadline:
        try:
            batch = connector.fetch(source, cursor)
        except RateLimitedError:
            failures += 1
            time.sleep(0.05)  # Mastodon.py rounds the reset up to the server's whole second
            continue
        except TransientConnectorError:
            failures += 1
            continue
        got.extend(m.url.rsplit("/", 1)[1] for m in batch.mentions)
        cursor = batch.cursor
    assert got == posted
    kinds = {f.kind for f in fake.injected_faults}
    assert kinds == {"429", "500", "json", "slow"} and failures >= 4
    fake.reset()
    assert fake.injected_faults == []


def test_same_seed_same_faults(fake: FakeMastodon) -> None:
    def run() -> list[tuple[int, int]]:
        fake.reset()
        fake.inject_faults(0.5, seed=3, kinds=["429", "500", "json"])
        answers = []
        for _ in range(40):
            response = requests.get(f"{fake.url}/api/v1/instance", timeout=5)
            answers.append((response.status_code, len(response.content)))
        return answers

    first = run()
    assert first == run()
    assert {status for status, _ in first} == {200, 429, 500}
    assert fake.injected_faults and fake.api_requests("/api/v1/instance")


def test_fault_injector_rejects_unknown_kinds(fake: FakeMastodon) -> None:
    with pytest.raises(ValueError, match="fault kinds"):
        fake.inject_faults(0.1, kinds=["teapot"])


# -- servers that are not quite Mastodon --------------------------------------------------


def test_a_server_that_closes_connections_silently_is_read_without_failures(
    fake: FakeMastodon, connect: Connect
) -> None:
    fake.close_silently = True
    connector = connect()
    tag = _source(connector, "acme:tag:acme")
    fake.post("carl", "first #acme")
    batch = connector.fetch(tag, None)  # several requests, each on a connection used before
    fake.post("carl", "second #acme")
    again = connector.fetch(tag, batch.cursor)
    assert _texts(batch) + _texts(again) == ["first #acme", "second #acme"]
    (revision,) = connector.refresh([again.mentions[0].native_id])
    assert revision.text == "second #acme"


def test_an_advertised_streaming_url_it_cannot_serve_is_given_up_once(
    fake: FakeMastodon, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    fake.streaming_url = f"wss://{fake.host}"  # TLS, on a server that speaks plain http
    connector = connect(streaming=True)
    tag = _source(connector, "acme:tag:acme")
    with caplog.at_level(logging.INFO, logger="connectors.mastodon"):
        cursor = connector.fetch(tag, None).cursor
        _wait_for(lambda: connector.stream_status() == {f"#acme@{fake.host}": "refused"})
        fake.post("carl", "polled #acme")
        assert _texts(connector.fetch(tag, cursor)) == ["polled #acme"]
    lines = [r.getMessage() for r in caplog.records if "stream" in r.getMessage()]
    assert len(lines) == 1 and "polling instead from now on" in lines[0]
    assert _source(connector, "acme:tag:acme").page_size is not None  # paced as polled


def test_search_that_finds_nothing_the_timelines_show_is_reported_once(
    fake: FakeMastodon, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    fake.add_account("shy", indexable=False)  # this server's search cannot find its posts
    connector = connect(search=True)
    tag, search = _source(connector, "acme:tag:acme"), _source(connector, "acme:search")
    cursors = {tag.key: connector.fetch(tag, None).cursor}
    cursors[search.key] = connector.fetch(search, None).cursor
    with caplog.at_level(logging.WARNING, logger="connectors.mastodon"):
        for i in range(4):
            fake.post("shy", f"espresso {i} #acme")
            for source in (tag, search):
                cursors[source.key] = connector.fetch(source, cursors[source.key]).cursor
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "acme:search" in lines[0] and "found nothing" in lines[0]
