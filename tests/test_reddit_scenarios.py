"""Reddit scenarios through the real praw client: paging, search, inbox, edits, failures."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

import prawcore
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.test import Client

from connectors.base import Source
from connectors.errors import (
    AuthenticationError,
    RateLimitedError,
    TransientConnectorError,
)
from connectors.reddit import RedditConnector, RedditSettings, search_queries
from social_crm.config import Brand
from social_crm.demo.servers.reddit import FAULT_KINDS, FakeReddit, query_matcher

ACCOUNT = "acme_official"
PASSWORD = "hunter2"
ACME = Brand(
    name="Acme",
    keywords=["acme", "road runner"],
    subreddits=["acme", "AcmeHelp"],
    accounts={"reddit": ACCOUNT},
)


@pytest.fixture(scope="module")
def fake_reddit_server() -> Iterator[FakeReddit]:
    """One fake Reddit for this module (stopping costs 0.5 s); any password-grant user."""
    with FakeReddit() as fake:
        yield fake


@pytest.fixture
def fake(fake_reddit_server: FakeReddit) -> FakeReddit:
    """The module's fake Reddit, emptied for this test."""
    fake_reddit_server.reset()
    return fake_reddit_server


@pytest.fixture
def fast_token_retry(monkeypatch: pytest.MonkeyPatch) -> None:
    """prawcore sleeps 0-2 s before retrying with a renewed token; tests need not wait."""
    monkeypatch.setattr(prawcore.sessions.FiniteRetryStrategy, "_sleep_seconds", lambda _: None)


def connect(fake: FakeReddit, *brands: Brand, **settings: Any) -> RedditConnector:
    """A connector pointed at ``fake``, logged in as the brand account unless told otherwise."""
    values: dict[str, Any] = {
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "base_url": fake.url,
        "timeout_seconds": 5,
        "username": ACCOUNT,
        "password": PASSWORD,
    }
    values.update(settings)
    return RedditConnector(
        RedditSettings(**values), watches=[brand.watch() for brand in brands or [ACME]]
    )


def source(connector: RedditConnector, suffix: str) -> Source:
    """The connector's one source whose key ends with ``suffix``."""
    (found,) = [s for s in connector.sources() if s.key.endswith(suffix)]
    return found


def ids(batch: Any) -> list[str]:
    """The native ids of a batch's mentions, in order."""
    return [m.native_id for m in batch.mentions]


def bearer(client: Client, fake: FakeReddit) -> dict[str, str]:
    """An Authorization header with a fresh read-only token of ``fake``."""
    token = client.post(
        "/api/v1/access_token",
        data={"grant_type": "client_credentials"},
        auth=(fake.client_id, fake.client_secret),
    ).get_json()["access_token"]
    return {"Authorization": f"bearer {token}"}


def listed(client: Client, headers: dict[str, str], url: str) -> list[str]:
    """The fullnames a listing URL of the fake answers, in order."""
    body = client.get(url, headers=headers).get_json()
    return [child["data"]["name"] for child in body["data"]["children"]]


# -- paging -------------------------------------------------------------------------------


def test_more_than_a_page_between_polls_leaves_no_gap(fake: FakeReddit) -> None:
    conn = connect(fake, page_size=5)
    posts = source(conn, ":new")
    first = conn.fetch(posts, None)
    fake.submit("acme", author="alice", title="seed")
    seed = conn.fetch(posts, first.cursor)
    published = fake.submit_many("AcmeHelp", 23)
    before = len(fake.api_requests())

    batch = conn.fetch(posts, seed.cursor)

    assert ids(batch) == published and batch.cursor == published[-1]
    assert len(fake.api_requests()) - before == 5  # 5 + 5 + 5 + 5 + (3 and the cursor)
    steady = conn.fetch(posts, batch.cursor)
    assert steady.mentions == [] and steady.cursor == batch.cursor
    assert len(fake.api_requests()) - before == 6


def test_the_page_cap_skips_the_oldest_items_with_a_warning(
    fake: FakeReddit, caplog: pytest.LogCaptureFixture
) -> None:
    conn = connect(fake, page_size=5, max_pages_per_fetch=2)
    posts = source(conn, ":new")
    seed = fake.submit("acme", author="alice", title="seed")
    published = fake.submit_many("acme", 12)
    with caplog.at_level(logging.WARNING, logger="connectors.reddit"):
        batch = conn.fetch(posts, seed)
    assert ids(batch) == published[2:] and batch.cursor == published[-1]
    assert len(fake.api_requests()) == 2
    assert "Acme:r/acme+AcmeHelp:new: over 10 items (2 pages)" in caplog.text
    assert "older ones were skipped" in caplog.text


@pytest.mark.parametrize("gone", ["delete", "remove"])
def test_a_deleted_or_removed_cursor_does_not_stall_polling(fake: FakeReddit, gone: str) -> None:
    conn = connect(fake)
    comments = source(conn, ":comments")
    post = fake.submit("acme", author="alice", title="thread")
    last = fake.comment(post, author="bob", body="the cursor")
    assert conn.fetch(comments, None).cursor == last
    getattr(fake, gone)(last)
    newer = [fake.comment(post, author="carol", body=f"reply {n}") for n in range(3)]

    batch = conn.fetch(comments, last)

    assert ids(batch) == newer and batch.cursor == newer[-1]
    client = Client(fake.wsgi_app)
    headers = bearer(client, fake)
    assert listed(client, headers, f"/r/acme/comments?before={last}&raw_json=1") == []  # stalls


def test_items_published_or_deleted_while_paging_are_neither_lost_nor_repeated(
    fake: FakeReddit,
) -> None:
    conn = connect(fake, page_size=5)
    posts = source(conn, ":new")
    seed = fake.submit("acme", author="alice", title="seed")
    published = fake.submit_many("acme", 12)
    anchor = published[-5]  # the last item of the first page: the second page pages from it
    late: list[str] = []

    def meanwhile(path: str, query: dict[str, str]) -> None:
        if query.get("after") == anchor and not late:
            fake.delete(anchor)  # Reddit then answers after=<anchor> with an empty page
            late.append(fake.submit("acme", author="dave", title="arrived while paging"))

    fake.on_api_request(meanwhile)
    first = conn.fetch(posts, seed)
    fake.on_api_request(None)
    second = conn.fetch(posts, first.cursor)

    assert ids(first) == published and ids(second) == late  # the anchor was seen before
    after = [r.query.get("after") for r in fake.api_requests("/r/acme+AcmeHelp/new")]
    assert after == [None, anchor, published[-4], published[2], None]  # paged on from [-4]


@settings(max_examples=12, deadline=None)  # ~6 ms a request: keep the whole file fast
@given(
    page_size=st.integers(2, 4),
    rounds=st.lists(
        st.tuples(st.integers(0, 7), st.integers(0, 7), st.booleans()), min_size=1, max_size=4
    ),
)
def test_polling_never_loses_or_repeats_items(
    fake_reddit_server: FakeReddit, page_size: int, rounds: list[tuple[int, int, bool]]
) -> None:
    fake = fake_reddit_server
    fake.reset()
    conn = connect(fake, page_size=page_size, max_pages_per_fetch=100)
    sources = [source(conn, ":new"), source(conn, ":comments")]
    thread = fake.submit("acme", author="alice", title="seed")
    fake.comment(thread, author="bob", body="seed")
    cursors = {s.key: conn.fetch(s, None).cursor for s in sources}
    published: dict[str, list[str]] = {s.key: [] for s in sources}
    seen: dict[str, list[str]] = {s.key: [] for s in sources}
    for posts, comments, delete_cursors in rounds:
        for n in range(max(posts, comments)):  # interleaved: one id sequence for both kinds
            if n < posts:
                published[sources[0].key].append(fake.submit("AcmeHelp", author="c", title="p"))
            if n < comments:
                published[sources[1].key].append(fake.comment(thread, author="d", body="c"))
        if delete_cursors:
            for cursor in cursors.values():
                fake.delete(str(cursor))
        for src in sources:
            batch = conn.fetch(src, cursors[src.key])
            seen[src.key] += ids(batch)
            cursors[src.key] = batch.cursor
    assert seen == published


# -- search -------------------------------------------------------------------------------


def test_search_queries_quote_phrases_and_or_keywords_together() -> None:
    assert search_queries(["Acme", "acme", "road runner", 'say "meep"', "OR", "acme-co", " "]) == [
        'Acme OR "road runner" OR "say meep" OR "OR" OR "acme-co"'
    ]
    assert search_queries(["alpha", "beta", "gamma"], max_length=14) == ["alpha OR beta", "gamma"]
    assert search_queries([]) == []


def test_the_fakes_search_syntax() -> None:
    text = "Road Runner beat Wile E. Coyote with an ACME anvil"
    for query, expected in [
        ("acme", True),
        ("ACM", False),
        ('"road runner"', True),
        ('"runner road"', False),
        ("coyote anvil", True),
        ("coyote AND piano", False),
        ("piano OR anvil", True),
        ("anvil NOT piano", True),
        ("anvil -coyote", False),
        ("(piano OR coyote) AND road", True),
        ('"wile e coyote"', True),
        ("", False),
        ('""', False),
    ]:
        assert query_matcher(query)(text) is expected, query


def test_keyword_search_across_reddit_sorted_by_new(fake: FakeReddit) -> None:
    conn = connect(fake, page_size=2)
    search = source(conn, ":search")
    assert search.key == "Acme:search" and search.brand == "Acme"
    old = fake.submit("gadgets", author="alice", title="My ACME anvil")
    assert ids(conn.fetch(search, None)) == [old]
    hits = [
        fake.submit("cartoons", author="bob", title="Road Runner rewatch", selftext="meep"),
        fake.submit("acme", author="carol", title="anvils", selftext="acme, again"),
    ]
    fake.submit("cartoons", author="erin", title="a runner on the road")  # not the phrase
    fake.submit("acmes", author="frank", title="acmes and acmeco are other words")
    hits.append(fake.submit("news", author="dave", title="Acme Corp recalls rockets"))
    before = len(fake.api_requests())

    batch = conn.fetch(search, old)

    assert ids(batch) == hits and batch.cursor == hits[-1]
    mention = batch.mentions[0]
    assert (mention.kind, mention.source, mention.text) == (
        "post",
        "Acme:search",
        "Road Runner rewatch\n\nmeep",
    )
    served = fake.api_requests()[before:]
    assert [(r.path, r.query.get("after")) for r in served] == [
        ("/search/", None),
        ("/search/", hits[1]),  # a full page of new hits: the next one reaches the cursor
    ]
    assert served[0].query == {
        "q": 'acme OR "road runner"',
        "sort": "new",
        "type": "link",
        "limit": "2",
        "raw_json": "1",
    }


def test_long_keyword_lists_become_several_queries_sharing_one_cursor(fake: FakeReddit) -> None:
    words = [f"brandword{n:02d}" for n in range(60)]  # 60 x 15 characters: two queries
    conn = connect(fake, Brand(name="Many", keywords=words))
    search = source(conn, ":search")
    first = fake.submit("a1", author="alice", title="brandword00 is great")
    last = fake.submit("a1", author="bob", title="so is brandword59")
    assert ids(conn.fetch(search, None)) == [first, last]
    queries = [r.query["q"] for r in fake.api_requests("/search")]
    assert len(queries) == 2 and all(len(q) <= 512 for q in queries)
    assert " OR ".join(queries).split(" OR ") == words


def test_the_fakes_search_endpoints(fake: FakeReddit) -> None:
    client = Client(fake.wsgi_app)
    headers = bearer(client, fake)
    in_acme = fake.submit("acme", author="alice", title="acme here")
    elsewhere = fake.submit("other", author="bob", title="acme there")
    newest = fake.submit("acme", author="carol", title="ACME again")
    fake.remove(fake.submit("acme", author="dave", title="acme removed"))

    assert listed(client, headers, "/search?q=acme&sort=new") == [newest, elsewhere, in_acme]
    assert listed(client, headers, "/r/acme/search?q=acme&restrict_sr=1") == [newest, in_acme]
    assert listed(client, headers, "/r/acme/search?q=acme&restrict_sr=0") == [
        newest,
        elsewhere,
        in_acme,
    ]
    assert listed(client, headers, f"/search?q=acme&limit=1&after={newest}") == [elsewhere]
    assert listed(client, headers, f"/search?q=acme&before={in_acme}") == [newest, elsewhere]
    assert listed(client, headers, "/search?q=acme&type=sr") == []
    body = client.get("/search?q=acme&limit=1", headers=headers).get_json()["data"]
    assert body["after"] == newest and body["before"] is None and "facets" in body


# -- inbox ----------------------------------------------------------------------------------


def test_username_mentions_come_from_the_inbox(fake: FakeReddit) -> None:
    conn = connect(fake)
    inbox = source(conn, ":inbox")
    assert inbox.key == "Acme:inbox"
    post = fake.submit("anything", author="alice", title="who makes these?")
    plain = fake.comment(post, author="bob", body="ask u/acme_official")
    slashed = fake.comment(plain, author="Carol", body="/u/ACME_OFFICIAL please help")
    fake.comment(post, author="dave", body="u/acme_officials is someone else")
    fake.comment(post, author="erin", body="acme_official without the prefix")
    fake.comment(post, author=ACCOUNT, body="we are u/acme_official")  # one's own comment

    batch = conn.fetch(inbox, None)

    assert ids(batch) == [plain, slashed]
    first, second = batch.mentions
    assert (first.kind, first.thread_id, first.parent_id) == ("comment", post, post)
    assert (second.thread_id, second.parent_id, second.author.handle) == (post, plain, "carol")
    assert second.url == f"{fake.url}/r/anything/comments/{post[3:]}/who_makes_these/{slashed[3:]}/"
    assert second.source == "Acme:inbox" and second.brand == "Acme"
    later = fake.comment(post, author="frank", body="thanks u/acme_official!")
    assert ids(conn.fetch(inbox, batch.cursor)) == [later]


def test_the_inbox_is_polled_only_with_the_brand_accounts_password(
    fake: FakeReddit, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="connectors.reddit"):
        read_only = connect(fake, username=None, password=None)
        other = connect(fake, username="someone_else")
    for conn in (read_only, other):
        assert not [s for s in conn.sources() if s.key.endswith(":inbox")]
    assert "mentions of u/acme_official (Acme) are not polled" in caplog.text
    assert "logs in as u/someone_else" in caplog.text


def test_the_inbox_needs_a_user_token(fake: FakeReddit) -> None:
    client = Client(fake.wsgi_app)
    assert client.get("/message/mentions", headers=bearer(client, fake)).status_code == 403


# -- edits and deletions --------------------------------------------------------------------


def test_edits_show_in_listings_and_in_refresh(fake: FakeReddit) -> None:
    conn = connect(fake)
    post = fake.submit("acme", author="alice", title="Acme anvil", selftext="it broke")
    comment = fake.comment(post, author="bob", body="mine too")
    assert conn.fetch(source(conn, ":new"), None).mentions[0].edited_at is None
    fake.edit(post, "it broke, but support fixed it", edited_utc=1_700_000_000.5)
    fake.edit(comment, "mine too, fixed now")

    (listed_post,) = conn.fetch(source(conn, ":new"), None).mentions
    assert listed_post.text == "Acme anvil\n\nit broke, but support fixed it"
    assert (
        listed_post.edited_at is not None and listed_post.edited_at.timestamp() == 1_700_000_000.5
    )

    revisions = conn.refresh([post, comment])
    assert [(r.native_id, r.text, r.deleted) for r in revisions] == [
        (post, "Acme anvil\n\nit broke, but support fixed it", False),
        (comment, "mine too, fixed now", False),
    ]
    assert revisions[0].edited_at == listed_post.edited_at
    assert revisions[1].edited_at is not None


def test_refresh_flags_deleted_removed_and_vanished_items(fake: FakeReddit) -> None:
    conn = connect(fake)
    post = fake.submit("acme", author="alice", title="kept")
    deleted_post = fake.submit("acme", author="alice", title="deleted", selftext="soon gone")
    removed_post = fake.submit("acme", author="alice", title="removed", selftext="spam")
    deleted = fake.comment(post, author="bob", body="oops")
    removed = fake.comment(post, author="bob", body="rude")
    fake.delete(deleted_post)
    fake.remove(removed_post)
    fake.delete(deleted)
    fake.remove(removed)
    asked = [removed, post, "t3_zzzzzz", deleted_post, "not-a-fullname", removed_post, deleted]

    revisions = conn.refresh([*asked, post])

    assert [(r.native_id, r.text, r.deleted) for r in revisions] == [
        (removed, "", True),
        (post, "kept", False),
        ("t3_zzzzzz", "", True),  # no longer returned at all
        (deleted_post, "", True),
        (removed_post, "", True),
        (deleted, "", True),
    ]
    (served,) = fake.api_requests()
    assert served.path == "/api/info/" and served.query["id"].count(",") == 5
    assert conn.refresh([]) == [] and len(fake.api_requests()) == 1


def test_refresh_asks_for_at_most_100_ids_at_a_time(fake: FakeReddit) -> None:
    conn = connect(fake)
    posts = fake.submit_many("acme", 150)
    revisions = conn.refresh(posts)
    assert [r.native_id for r in revisions] == posts and not any(r.deleted for r in revisions)
    assert [r.query["id"].count(",") + 1 for r in fake.api_requests("/api/info")] == [100, 50]


def test_the_fakes_info_shows_what_deletion_and_removal_leave(fake: FakeReddit) -> None:
    client = Client(fake.wsgi_app)
    headers = bearer(client, fake)
    post = fake.submit("acme", author="alice", title="t", selftext="s")
    removed_post = fake.submit("acme", author="alice", title="t2", selftext="s2")
    comment = fake.comment(post, author="bob", body="b")
    fake.delete(post)
    fake.remove(removed_post)
    fake.remove(comment)
    url = f"/api/info?id={comment},{post},{removed_post},t3_zzzz&raw_json=1"
    items = [c["data"] for c in client.get(url, headers=headers).get_json()["data"]["children"]]
    assert [i["name"] for i in items] == [comment, post, removed_post]
    assert (items[0]["body"], items[0]["author"]) == ("[removed]", "[deleted]")
    assert (items[1]["selftext"], items[1]["author"], items[1]["removed_by_category"]) == (
        "[deleted]",
        "[deleted]",
        "deleted",
    )
    assert (items[2]["selftext"], items[2]["author"], items[2]["removed_by_category"]) == (
        "[removed]",
        "alice",
        "moderator",
    )
    assert listed(client, headers, "/r/acme/new") == []  # gone from listings
    too_many = ",".join(f"t3_{n}" for n in range(101))
    assert client.get(f"/api/info?id={too_many}", headers=headers).status_code == 400
    with pytest.raises(ValueError):
        fake.edit(post, "edit a deleted post")
    with pytest.raises(KeyError):
        fake.delete("t1_nope")


# -- failures ---------------------------------------------------------------------------------


def test_429_with_a_spent_window_waits_for_its_reset_without_sending_more(
    fake: FakeReddit,
) -> None:
    conn = connect(fake)
    fake.fail_next(429, reset=42)
    with pytest.raises(RateLimitedError) as caught:
        conn.fetch(source(conn, ":new"), None)
    assert caught.value.retry_after == 42
    sent = len(fake.requests)

    for key in (":new", ":comments", ":search", ":inbox"):  # one budget for every source
        with pytest.raises(RateLimitedError, match="budget spent") as again:
            conn.fetch(source(conn, key), None)
        assert 40 < again.value.retry_after <= 42
    with pytest.raises(RateLimitedError):
        conn.refresh(["t3_1000000"])
    assert len(fake.requests) == sent  # nothing sent, nothing slept: no hot loop


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_fail_fast_without_prawcore_retries(fake: FakeReddit, status: int) -> None:
    conn = connect(fake)
    post = fake.submit("acme", author="alice", title="hello")
    fake.fail_next(status)
    began = time.monotonic()
    with pytest.raises(TransientConnectorError, match=f"Acme:r/acme\\+AcmeHelp:new.*{status}"):
        conn.fetch(source(conn, ":new"), None)
    assert time.monotonic() - began < 0.5  # prawcore would sleep up to 6 s retrying twice
    assert [r.status for r in fake.api_requests()] == [status]
    assert ids(conn.fetch(source(conn, ":new"), None)) == [post]


def test_repeated_server_errors_fail_each_poll_once(fake: FakeReddit) -> None:
    conn = connect(fake)
    fake.fail_next(503, count=3)
    for _ in range(3):
        with pytest.raises(TransientConnectorError):
            conn.fetch(source(conn, ":comments"), None)
    assert conn.fetch(source(conn, ":comments"), None).mentions == []
    assert [r.status for r in fake.api_requests()] == [503, 503, 503, 200]


def test_an_answer_slower_than_the_timeout_is_transient(fake: FakeReddit) -> None:
    conn = connect(fake, timeout_seconds=0.2)
    post = fake.submit("acme", author="alice", title="hello")
    fake.delay_next(0.6)
    began = time.monotonic()
    with pytest.raises(TransientConnectorError, match="network error.*ReadTimeout") as caught:
        conn.fetch(source(conn, ":new"), None)
    assert time.monotonic() - began < 0.5  # one attempt: prawcore would try three times
    assert isinstance(caught.value.__cause__.original_exception, requests.ReadTimeout)  # type: ignore[union-attr]
    assert ids(conn.fetch(source(conn, ":new"), None)) == [post]


def test_broken_json_is_transient_logged_and_loses_nothing(
    fake: FakeReddit, caplog: pytest.LogCaptureFixture
) -> None:
    conn = connect(fake)
    posts = source(conn, ":new")
    cursor = conn.fetch(posts, None).cursor
    new = fake.submit_many("acme", 3)
    fake.break_json_next()
    with caplog.at_level(logging.WARNING, logger="connectors.reddit"):
        with pytest.raises(TransientConnectorError):
            conn.fetch(posts, cursor)
    assert "reddit Acme:r/acme+AcmeHelp:new: malformed JSON" in caplog.text
    assert ids(conn.fetch(posts, cursor)) == new


@pytest.mark.parametrize("password", [None, PASSWORD], ids=["read-only", "script"])
def test_an_expired_token_is_renewed_transparently(
    fake: FakeReddit, fast_token_retry: None, password: str | None
) -> None:
    conn = connect(fake, password=password)
    posts = source(conn, ":new")
    assert conn.fetch(posts, None).mentions == []
    fake.expire_tokens()
    post = fake.submit("acme", author="alice", title="after expiry")
    assert ids(conn.fetch(posts, None)) == [post]
    assert len(fake.token_requests()) == 2
    assert [r.status for r in fake.api_requests()] == [200, 401, 200]


def test_a_password_changed_since_the_token_was_issued_is_refused(
    fake: FakeReddit, fast_token_retry: None
) -> None:
    conn = connect(fake)
    conn.fetch(source(conn, ":new"), None)
    fake.users = {ACCOUNT: "changed"}
    fake.expire_tokens()
    with pytest.raises(AuthenticationError, match="credentials refused"):
        conn.fetch(source(conn, ":new"), None)


# -- the request budget -------------------------------------------------------------------------


def test_a_spent_budget_is_rate_limited_instead_of_sleeping_until_the_reset(
    fake: FakeReddit,
) -> None:
    conn = connect(fake)
    fake.set_rate_limit(remaining=1, reset_seconds=30)
    assert conn.fetch(source(conn, ":new"), None).mentions == []  # the last request allowed
    began = time.monotonic()
    with pytest.raises(RateLimitedError) as caught:
        conn.fetch(source(conn, ":search"), None)
    assert time.monotonic() - began < 0.5
    assert 25 < caught.value.retry_after <= 30
    assert len(fake.api_requests()) == 1


def test_a_low_budget_makes_praw_pace_requests(fake: FakeReddit) -> None:
    conn = connect(fake)
    fake.set_rate_limit(remaining=3, reset_seconds=1.5)
    conn.fetch(source(conn, ":new"), None)  # leaves 2 requests for the last 1 s of the window
    began = time.monotonic()
    conn.fetch(source(conn, ":comments"), None)
    assert 0.8 < time.monotonic() - began < 3  # prawcore spread the rest over the window
    assert [r.status for r in fake.api_requests()] == [200, 200]


# -- efficiency and soak ------------------------------------------------------------------------


def test_a_steady_state_poll_costs_one_request_per_source(fake: FakeReddit) -> None:
    subreddits = [f"sub{n:02d}" for n in range(20)]
    brand = Brand(
        name="Acme", keywords=["acme"], subreddits=subreddits, accounts={"reddit": ACCOUNT}
    )
    conn = connect(fake, brand)
    cursors: dict[str, str | None] = {s.key: None for s in conn.sources()}
    assert len(cursors) == 4

    def poll() -> int:
        found = 0
        for src in conn.sources():
            batch = conn.fetch(src, cursors[src.key])
            cursors[src.key] = batch.cursor
            found += len(batch.mentions)
        return found

    poll()
    for n in range(10):
        post = fake.submit(subreddits[n], author="alice", title=f"acme question {n}")
        fake.comment(post, author="bob", body=f"ask u/{ACCOUNT} {n}")
    before = len(fake.api_requests())
    assert poll() == 10 + 10 + 10 + 10  # posts, comments, search hits, inbox mentions
    assert poll() == 0
    assert len(fake.api_requests()) - before == 2 * 4
    assert len(fake.token_requests()) == 1  # one token for the hour, for every source


def test_random_faults_never_lose_or_repeat_items(fake: FakeReddit) -> None:
    conn = connect(fake, page_size=4, timeout_seconds=0.25)
    posts = source(conn, ":new")
    fake.inject_faults(0.3, seed=11, slow_seconds=0.5, retry_after=0)
    published: list[str] = []
    seen: list[str] = []
    cursor: str | None = None
    failures = 0
    for round_ in range(40):
        published += fake.submit_many("acme", round_ % 4, title=f"round {round_} post {{n}}")
        try:
            batch = conn.fetch(posts, cursor)
        except TransientConnectorError:
            failures += 1
            continue
        seen += ids(batch)
        cursor = batch.cursor
    fake.inject_faults(0)
    seen += ids(conn.fetch(posts, cursor))

    assert sorted(seen) == sorted(published) and len(set(seen)) == len(seen)
    counts = fake.fault_counts
    assert set(counts) == set(FAULT_KINDS) and failures >= sum(counts.values())


def test_random_faults_follow_their_seed() -> None:
    def draws(seed: int) -> list[int]:
        fake = FakeReddit()
        client = Client(fake.wsgi_app)
        headers = bearer(client, fake)
        fake.inject_faults(0.5, seed=seed, kinds=["429", "500"])
        return [client.get("/r/acme/new", headers=headers).status_code for _ in range(30)]

    assert draws(3) == draws(3) != draws(4)
    assert set(draws(3)) == {200, 429, 500}
    with pytest.raises(ValueError):
        FakeReddit().inject_faults(0.1, kinds=["teapot"])
