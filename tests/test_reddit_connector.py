"""The Reddit connector against the fake Reddit, through the real praw client."""

from __future__ import annotations

import html
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import praw
import prawcore
import pytest
import requests
from pydantic import ValidationError
from werkzeug.test import Client

from connectors.base import Connector, Refreshable, Source
from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    RateLimitedError,
    TransientConnectorError,
)
from connectors.reddit import (
    COMMENT_FIELDS,
    SUBMISSION_FIELDS,
    RedditConnector,
    RedditSettings,
    is_gone,
    mention_from_comment,
    mention_from_submission,
    translate_error,
)
from social_crm.config import Brand
from social_crm.demo.servers.reddit import FakeReddit

ACME = Brand(name="Acme", subreddits=["acme", "AcmeHelp"])

# Fields a listener may read beyond the conversion's own; each must be real and in the fake.
LISTENER_FIELDS = {
    "t3": {
        "id",
        "name",
        "title",
        "selftext",
        "selftext_html",
        "author",
        "subreddit",
        "subreddit_id",
        "created",
        "created_utc",
        "permalink",
        "url",
        "score",
        "ups",
        "downs",
        "num_comments",
        "edited",
        "is_self",
        "over_18",
        "stickied",
        "locked",
        "distinguished",
    },
    "t1": {
        "id",
        "name",
        "body",
        "body_html",
        "author",
        "subreddit",
        "subreddit_id",
        "created",
        "created_utc",
        "permalink",
        "score",
        "ups",
        "downs",
        "edited",
        "stickied",
        "distinguished",
        "link_id",
        "parent_id",
        "link_title",
        "link_permalink",
        "author_fullname",
        "subreddit_name_prefixed",
        "is_submitter",
    },
}


def fixtures_dir() -> Path:
    """Recorded real Reddit traffic: $SOCIAL_CRM_FIXTURES/reddit or ../shared/fixtures/reddit."""
    default = Path(__file__).parents[1].parent / "shared" / "fixtures"
    return Path(os.environ.get("SOCIAL_CRM_FIXTURES", default)) / "reddit"


def _walk_things(node: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every t1/t3 item in a parsed body, nested listings (replies) included."""
    if isinstance(node, dict):
        if node.get("kind") in ("t1", "t3") and isinstance(node.get("data"), dict):
            yield node["kind"], node["data"]
        for value in node.values():
            yield from _walk_things(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_things(value)


@pytest.fixture(scope="module")
def recorded_items() -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """(file name, item data) of every recorded real t3 and t1 item, by kind."""
    folder = fixtures_dir()
    if not folder.is_dir():
        pytest.skip(f"recorded Reddit traffic not found at {folder} (set SOCIAL_CRM_FIXTURES)")
    items: dict[str, list[tuple[str, dict[str, Any]]]] = {"t1": [], "t3": []}
    for path in sorted(folder.glob("*.json")):
        for interaction in json.loads(path.read_text(encoding="utf-8"))["interactions"]:
            text = interaction["response"]["body"].get("string") or ""
            try:
                body = json.loads(text)
            except ValueError:
                continue
            for kind, data in _walk_things(body):
                items[kind].append((path.name, data))
    assert items["t1"] and items["t3"], f"no t1/t3 items found under {folder}"
    return items


@pytest.fixture(scope="module")
def offline_reddit() -> praw.Reddit:
    """A praw client that is never asked to make a request."""
    return praw.Reddit(
        client_id="offline",
        client_secret="offline",
        user_agent="social-crm replay tests",
        check_for_updates=False,
        check_for_async=False,
    )


@pytest.fixture(scope="module")
def fake_reddit_server() -> Iterator[FakeReddit]:
    """One fake Reddit serving on a free local port for this module (stopping costs 0.5 s)."""
    with FakeReddit() as fake:
        yield fake


@pytest.fixture
def fake_reddit(fake_reddit_server: FakeReddit) -> FakeReddit:
    """The module's fake Reddit, emptied for this test."""
    fake_reddit_server.reset()
    return fake_reddit_server


def connect(fake: FakeReddit, *brands: Brand, **settings: Any) -> RedditConnector:
    """A connector pointed at ``fake`` (defaults: the fake's credentials, brand ACME)."""
    values: dict[str, Any] = {
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "base_url": fake.url,
        "timeout_seconds": 5,
    }
    values.update(settings)
    return RedditConnector(
        RedditSettings(**values), watches=[brand.watch() for brand in brands or [ACME]]
    )


def source_for(connector: RedditConnector, suffix: str) -> Source:
    """The connector's one source whose key ends with ``suffix``."""
    (source,) = [s for s in connector.sources() if s.key.endswith(suffix)]
    return source


@pytest.fixture
def connector(fake_reddit: FakeReddit) -> Iterator[RedditConnector]:
    """A connector for ACME pointed at the fake."""
    conn = connect(fake_reddit)
    yield conn
    conn.close()


# -- sources and settings -------------------------------------------------------------


def test_sources_are_one_multireddit_per_brand_for_posts_and_comments(
    connector: RedditConnector,
) -> None:
    assert isinstance(connector, Connector) and isinstance(connector, Refreshable)
    assert connector.network == "reddit"
    assert [(s.key, s.brand, s.page_size) for s in connector.sources()] == [
        ("Acme:r/acme+AcmeHelp:new", "Acme", 100),
        ("Acme:r/acme+AcmeHelp:comments", "Acme", 100),
    ]


def test_each_brand_gets_the_sources_its_config_asks_for(fake_reddit: FakeReddit) -> None:
    brands = [
        Brand(name="Quiet"),
        Brand(name="Searched", keywords=["quiet"]),
        Brand(name="Full", keywords=["full"], subreddits=["full"], accounts={"reddit": "u/Full"}),
    ]
    read_only = connect(fake_reddit, *brands, page_size=50)
    assert [s.key for s in read_only.sources()] == [
        "Searched:search",
        "Full:r/full:new",
        "Full:r/full:comments",
        "Full:search",
    ]
    assert {s.page_size for s in read_only.sources()} == {50}
    script = connect(fake_reddit, *brands, username="full", password="pw")
    assert [s.key for s in script.sources()][-1] == "Full:inbox"


def test_settings_are_validated() -> None:
    ok = RedditSettings(client_id="id", client_secret="hunter2-value")
    assert ok.page_size == 100 and ok.base_url is None and ok.timeout_seconds == 16
    assert ok.max_pages_per_fetch == 10
    assert "hunter2-value" not in repr(ok)
    for bad in (
        {"page_size": 0},
        {"page_size": 101},
        {"max_pages_per_fetch": 0},
        {"user_agent": "short"},
        {"nope": 1},
    ):
        with pytest.raises(ValidationError):
            RedditSettings(client_id="id", client_secret="secret", **bad)


# -- polling --------------------------------------------------------------------------


def test_polls_return_new_items_oldest_first_and_keep_the_cursor(
    fake_reddit: FakeReddit, connector: RedditConnector
) -> None:
    posts = source_for(connector, ":new")
    first = fake_reddit.submit("acme", author="Alice", title="First")
    second = fake_reddit.submit("AcmeHelp", author="bob", title="Second")
    fake_reddit.submit("elsewhere", author="carol", title="Not watched")
    third = fake_reddit.submit("ACME", author="dave", title="Third")

    batch = connector.fetch(posts, None)
    assert [m.native_id for m in batch.mentions] == [first, second, third]
    assert batch.cursor == third

    again = connector.fetch(posts, batch.cursor)
    assert again.mentions == [] and again.cursor == third

    fourth = fake_reddit.submit("acmehelp", author="erin", title="Fourth")
    fake_reddit.comment(fourth, author="frank", body="a comment is not a post")
    fifth = fake_reddit.submit("acme", author="gina", title="Fifth")
    newer = connector.fetch(posts, again.cursor)
    assert [m.native_id for m in newer.mentions] == [fourth, fifth]
    assert newer.cursor == fifth


def test_first_poll_of_an_empty_listing_listens_from_then(connector: RedditConnector) -> None:
    batch = connector.fetch(source_for(connector, ":comments"), None)
    assert batch.mentions == [] and batch.cursor is not None
    assert batch.cursor.startswith("since:")  # the time it started listening, not a fullname


def test_more_than_one_page_of_new_items_leaves_no_gap(fake_reddit: FakeReddit) -> None:
    conn = connect(fake_reddit, page_size=5)
    posts = source_for(conn, ":new")
    seed = fake_reddit.submit("acme", author="alice", title="seed")
    assert conn.fetch(posts, None).cursor == seed
    published = [
        fake_reddit.submit("acme" if i % 2 else "acmehelp", author="bob", title=f"post {i}")
        for i in range(12)
    ]
    before = len(fake_reddit.api_requests("/r/acme+AcmeHelp/new"))

    batch = conn.fetch(posts, seed)

    assert [m.native_id for m in batch.mentions] == published  # all 12, in order, once
    assert batch.cursor == published[-1]
    assert len(fake_reddit.api_requests("/r/acme+AcmeHelp/new")) - before == 3  # 5 + 5 + 2
    assert conn.fetch(posts, batch.cursor).mentions == []


def test_paging_stops_at_the_first_item_not_newer_than_the_cursor(
    fake_reddit: FakeReddit,
) -> None:
    conn = connect(fake_reddit, page_size=5)
    posts = source_for(conn, ":new")
    fake_reddit.submit_many("acme", 7, title="old {n}")
    seed = fake_reddit.submit("acme", author="alice", title="seed")
    published = fake_reddit.submit_many("acme", 10, title="p{n}")
    batch = conn.fetch(posts, seed)
    assert [m.native_id for m in batch.mentions] == published
    served = fake_reddit.api_requests("/r/acme+AcmeHelp/new")
    assert [r.query.get("after") for r in served] == [None, published[5], published[0]]


def test_first_poll_takes_only_the_newest_page(fake_reddit: FakeReddit) -> None:
    conn = connect(fake_reddit, page_size=5)
    published = [fake_reddit.submit("acme", author="bob", title=f"p{i}") for i in range(8)]
    batch = conn.fetch(source_for(conn, ":new"), None)
    assert [m.native_id for m in batch.mentions] == published[-5:]
    assert batch.cursor == published[-1]


def test_one_multireddit_request_per_page(fake_reddit: FakeReddit) -> None:
    conn = connect(fake_reddit, Brand(name="Duo", subreddits=["a1", "b2"]))
    fake_reddit.submit("a1", author="alice", title="in a")
    fake_reddit.submit("b2", author="bob", title="in b")
    batch = conn.fetch(source_for(conn, ":new"), None)
    assert len(batch.mentions) == 2
    served = fake_reddit.api_requests()
    assert [(r.method, r.path.rstrip("/")) for r in served] == [("GET", "/r/a1+b2/new")]
    assert served[0].query["limit"] == "100" and served[0].query["raw_json"] == "1"


def test_comments_carry_their_thread_and_parent(
    fake_reddit: FakeReddit, connector: RedditConnector
) -> None:
    post = fake_reddit.submit("acme", author="alice", title="Broken widget")
    top = fake_reddit.comment(post, author="Bob", body="Same here")
    reply = fake_reddit.comment(top, author="alice", body="Support fixed it")
    fake_reddit.comment(
        fake_reddit.submit("other", author="x", title="elsewhere"), author="y", body="no"
    )

    batch = connector.fetch(source_for(connector, ":comments"), None)

    assert [m.native_id for m in batch.mentions] == [top, reply]
    first, second = batch.mentions
    assert (first.kind, first.thread_id, first.parent_id) == ("comment", post, post)
    assert (second.thread_id, second.parent_id) == (post, top)
    assert first.text == "Same here" and first.author.handle == "bob"
    assert first.source == "Acme:r/acme+AcmeHelp:comments" and first.brand == "Acme"
    assert first.url == f"{fake_reddit.url}/r/acme/comments/{post[3:]}/broken_widget/{top[3:]}/"


def test_a_mentions_fields(fake_reddit: FakeReddit, connector: RedditConnector) -> None:
    when = datetime(2024, 5, 17, 9, 30, tzinfo=UTC)
    post = fake_reddit.submit(
        "AcmeHelp",
        author="Widget_Fan",
        title="Love the new widget",
        selftext="It just works.\n\nFive stars.",
        created_utc=when.timestamp(),
        score=42,
    )
    bare = fake_reddit.submit("acme", author="[deleted]", title="Title only")

    mention, deleted = connector.fetch(source_for(connector, ":new"), None).mentions

    assert mention.network == "reddit" and mention.native_id == post
    assert mention.kind == "post" and mention.thread_id == post and mention.parent_id is None
    assert mention.text == "Love the new widget\n\nIt just works.\n\nFive stars."
    assert mention.created_at == when and mention.created_at.utcoffset() is not None
    assert mention.created_at.tzinfo == UTC
    assert mention.reach == 42
    assert mention.url == f"{fake_reddit.url}/r/AcmeHelp/comments/{post[3:]}/love_the_new_widget/"
    assert mention.author.handle == "widget_fan"
    assert mention.author.display_name == "Widget_Fan"
    assert mention.author.url == f"{fake_reddit.url}/user/Widget_Fan"
    assert mention.author.network == "reddit" and mention.author.followers == 0
    assert deleted.native_id == bare and deleted.text == "Title only"
    assert deleted.author.handle == "[deleted]"


# -- errors -----------------------------------------------------------------------------


def test_wrong_client_secret_is_an_authentication_error(fake_reddit: FakeReddit) -> None:
    conn = connect(fake_reddit, client_secret="not-the-secret")
    with pytest.raises(AuthenticationError, match="Acme:r/acme") as caught:
        conn.fetch(source_for(conn, ":new"), None)
    assert isinstance(caught.value.__cause__, prawcore.exceptions.ResponseException)
    assert caught.value.__cause__.response.status_code == 401


def test_script_app_password_grant(fake_reddit: FakeReddit) -> None:
    fake_reddit.submit("acme", author="alice", title="hello")
    conn = connect(fake_reddit, username="listener", password="hunter2")
    assert len(conn.fetch(source_for(conn, ":new"), None).mentions) == 1
    token_requests = [r for r in fake_reddit.requests if r.path == "/api/v1/access_token"]
    assert [r.status for r in token_requests] == [200]


def test_refused_password_is_an_authentication_error(fake_reddit: FakeReddit) -> None:
    fake_reddit.users = {"listener": "right"}
    conn = connect(fake_reddit, username="listener", password="wrong")
    with pytest.raises(AuthenticationError) as caught:
        conn.fetch(source_for(conn, ":new"), None)
    assert isinstance(caught.value.__cause__, prawcore.exceptions.OAuthException)


def test_too_many_requests_is_rate_limited_with_retry_after(
    fake_reddit: FakeReddit, connector: RedditConnector
) -> None:
    fake_reddit.fail_next(429, retry_after=30)
    with pytest.raises(RateLimitedError) as caught:
        connector.fetch(source_for(connector, ":new"), None)
    assert caught.value.retry_after == 30
    assert isinstance(caught.value.__cause__, prawcore.exceptions.TooManyRequests)
    assert connector.fetch(source_for(connector, ":new"), None).mentions == []  # recovered


def test_not_found_is_a_plain_connector_error(
    fake_reddit: FakeReddit, connector: RedditConnector
) -> None:
    fake_reddit.fail_next(404)
    with pytest.raises(ConnectorError) as caught:
        connector.fetch(source_for(connector, ":new"), None)
    assert not isinstance(caught.value, TransientConnectorError | AuthenticationError)


def _response(status: int, headers: dict[str, str] | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    response._content = b'{"message": "x", "error": %d}' % status
    return response


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (prawcore.exceptions.ServerError(_response(503)), TransientConnectorError),
        (prawcore.exceptions.ServerError(_response(500)), TransientConnectorError),
        (prawcore.exceptions.BadJSON(_response(200)), TransientConnectorError),
        (
            prawcore.exceptions.RequestException(requests.ReadTimeout("slow"), (), {}),
            TransientConnectorError,
        ),
        (prawcore.exceptions.Forbidden(_response(403)), AuthenticationError),
        (prawcore.exceptions.InvalidToken(_response(401)), AuthenticationError),
        (prawcore.exceptions.OAuthException(_response(200), "invalid_grant"), AuthenticationError),
        (prawcore.exceptions.NotFound(_response(404)), ConnectorError),
    ],
)
def test_library_errors_are_translated(exc: Exception, expected: type[Exception]) -> None:
    translated = translate_error(exc, "Acme:r/acme:new")
    assert type(translated) is expected
    assert "Acme:r/acme:new" in str(translated)


def test_rate_limit_without_retry_after_uses_the_window_reset() -> None:
    exc = prawcore.exceptions.TooManyRequests(_response(429, {"x-ratelimit-reset": "120"}))
    translated = translate_error(exc, "s")
    assert isinstance(translated, RateLimitedError) and translated.retry_after == 120


# -- the fake's wire format ------------------------------------------------------------


def test_fake_speaks_reddits_wire_format() -> None:
    fake = FakeReddit()
    client = Client(fake.wsgi_app)
    post = fake.submit("acme", author="alice", title="Fish & <chips>")
    older = fake.submit("acme", author="alice", title="older?")  # ids increase: this is newer
    newest = fake.submit("acme", author="alice", title="newest")

    assert client.get("/r/acme/new").status_code == 401  # no token
    token = client.post(
        "/api/v1/access_token",
        data={"grant_type": "client_credentials"},
        auth=("demo-client", "demo-secret"),
    ).get_json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600
    refused = client.post(
        "/api/v1/access_token", data={"grant_type": "client_credentials"}, auth=("demo-client", "x")
    )
    assert refused.status_code == 401
    assert refused.get_json() == {"message": "Unauthorized", "error": 401}
    bearer = {"Authorization": f"bearer {token['access_token']}"}

    response = client.get("/r/ACME/new?limit=2&raw_json=1", headers=bearer)
    assert response.content_type == "application/json; charset=UTF-8"
    assert float(response.headers["x-ratelimit-remaining"]) > 0
    assert int(response.headers["x-ratelimit-used"]) >= 1
    assert int(response.headers["x-ratelimit-reset"]) >= 0
    listing = response.get_json()
    assert listing["kind"] == "Listing"
    data = listing["data"]
    assert [c["data"]["name"] for c in data["children"]] == [newest, older]
    assert (data["dist"], data["modhash"], data["before"], data["after"]) == (2, "", None, older)

    def names(query: str) -> list[str]:
        body = client.get(f"/r/acme/new/?raw_json=1&{query}", headers=bearer).get_json()
        return [c["data"]["name"] for c in body["data"]["children"]]

    assert names(f"before={post}&limit=1") == [older]  # the one nearest the anchor
    assert names(f"before={post}") == [newest, older]
    assert names(f"after={newest}") == [older, post]
    assert names("before=t3_zzzzzzz") == []
    escaped = client.get(f"/r/acme/new?after={older}", headers=bearer).get_json()
    assert escaped["data"]["children"][0]["data"]["title"] == "Fish &amp; &lt;chips&gt;"

    missing = client.get("/api/v1/nothing", headers=bearer)
    assert missing.status_code == 404
    assert missing.get_json() == {"message": "Not Found", "error": 404}
    served = [(r.method, r.path) for r in fake.requests]
    assert ("POST", "/api/v1/access_token") in served


def test_fake_refuses_unknown_parents_and_bad_names() -> None:
    fake = FakeReddit()
    with pytest.raises(KeyError):
        fake.comment("t3_zzzz", author="alice", body="orphan")
    with pytest.raises(ValueError):
        fake.submit("not a subreddit", author="alice", title="x")


# -- recorded real traffic ---------------------------------------------------------------


def test_every_recorded_item_converts_into_a_mention(
    recorded_items: dict[str, list[tuple[str, dict[str, Any]]]], offline_reddit: praw.Reddit
) -> None:
    site = "https://www.reddit.com"
    converted = 0
    for kind, items in recorded_items.items():
        for filename, data in items:
            if kind == "t3":
                thing = praw.models.Submission(offline_reddit, _data=dict(data))
                mention = mention_from_submission(thing, brand="b", source="s", site_url=site)
                assert mention.kind == "post" and mention.thread_id == data["name"], filename
                assert mention.text.startswith(data["title"]), filename
            else:
                thing = praw.models.Comment(offline_reddit, _data=dict(data))
                mention = mention_from_comment(thing, brand="b", source="s", site_url=site)
                assert mention.kind == "comment" and mention.parent_id == data["parent_id"]
                assert mention.thread_id.startswith("t3_"), filename
                if "link_id" in data:
                    assert mention.thread_id == data["link_id"], filename
                # As Reddit renders it: character references (``&#40;``) decoded.
                assert mention.text == html.unescape(data["body"]), filename
            assert mention.native_id == data["name"], filename
            edited = data.get("edited")
            if isinstance(edited, bool) or edited is None:
                assert mention.edited_at is None, filename
            else:
                assert mention.edited_at == datetime.fromtimestamp(edited, tz=UTC), filename
            assert mention.url.startswith(f"{site}/"), filename
            assert mention.created_at.tzinfo is UTC, filename
            assert mention.created_at.timestamp() == data["created_utc"], filename
            author = data["author"]
            expected = "[deleted]" if author == "[deleted]" else author.lower()
            assert mention.author.handle == expected, filename
            converted += 1
    assert converted == sum(len(items) for items in recorded_items.values())


def test_recorded_deleted_and_removed_items_count_as_gone(
    recorded_items: dict[str, list[tuple[str, dict[str, Any]]]], offline_reddit: praw.Reddit
) -> None:
    gone = {"t1": 0, "t3": 0}
    for kind, items in recorded_items.items():
        model = praw.models.Submission if kind == "t3" else praw.models.Comment
        for filename, data in items:
            text = data.get("selftext" if kind == "t3" else "body")
            expected = text in ("[deleted]", "[removed]") or bool(data.get("removed_by_category"))
            assert is_gone(model(offline_reddit, _data=dict(data))) is expected, filename
            gone[kind] += expected
    assert gone["t1"] and gone["t3"]  # TestComment.test_delete, TestSubmission.test_delete


def test_fake_inbox_mentions_carry_the_fields_real_ones_have(
    recorded_items: dict[str, list[tuple[str, dict[str, Any]]]], fake_reddit: FakeReddit
) -> None:
    real = [data for _, data in recorded_items["t1"] if "was_comment" in data]
    assert real, "no recorded inbox mentions"
    common = set.intersection(*(set(data) for data in real))
    post = fake_reddit.submit("acme", author="alice", title="t")
    fake_reddit.comment(post, author="bob", body="hello u/listener")
    reddit = praw.Reddit(
        client_id=fake_reddit.client_id,
        client_secret=fake_reddit.client_secret,
        username="listener",
        password="pw",
        user_agent="social-crm contract test",
        oauth_url=fake_reddit.url,
        reddit_url=fake_reddit.url,
        short_url=fake_reddit.url,
        check_for_updates=False,
        check_for_async=False,
    )
    body = reddit.request(method="GET", path="/message/mentions", params={"limit": 1})
    (fake_item,) = [data for _, data in _walk_things(body)]

    assert set(fake_item) == common
    for key in common:
        real_types = {type(data[key]) for data in real}
        assert type(fake_item[key]) in real_types, (key, fake_item[key], real_types)
    (mention,) = reddit.inbox.mentions(limit=1)
    assert isinstance(mention, praw.models.Comment) and mention.subject == "username mention"


@pytest.mark.parametrize("kind", ["t3", "t1"])
def test_fake_items_carry_the_fields_real_items_have(
    kind: str,
    recorded_items: dict[str, list[tuple[str, dict[str, Any]]]],
    fake_reddit: FakeReddit,
) -> None:
    real = [data for _, data in recorded_items[kind]]
    common = set.intersection(*(set(data) for data in real))
    conversion = set(SUBMISSION_FIELDS if kind == "t3" else COMMENT_FIELDS)
    seen_anywhere = set.union(*(set(data) for data in real))
    assert LISTENER_FIELDS[kind] <= seen_anywhere, "the listener list names unreal fields"

    post = fake_reddit.submit("acme", author="alice", title="t", selftext="s")
    fake_reddit.comment(post, author="bob", body="b")
    reddit = praw.Reddit(
        client_id=fake_reddit.client_id,
        client_secret=fake_reddit.client_secret,
        user_agent="social-crm contract test",
        oauth_url=fake_reddit.url,
        reddit_url=fake_reddit.url,
        short_url=fake_reddit.url,
        check_for_updates=False,
        check_for_async=False,
    )
    listing = "new" if kind == "t3" else "comments"
    body = reddit.request(method="GET", path=f"/r/acme/{listing}", params={"limit": 1})
    (fake_item,) = [data for k, data in _walk_things(body) if k == kind]

    missing = (common | conversion | LISTENER_FIELDS[kind]) - set(fake_item)
    assert not missing, f"fake {kind} items lack fields real ones have: {sorted(missing)}"
    for key in common | LISTENER_FIELDS[kind]:
        real_types = {type(data[key]) for data in real if key in data}
        assert type(fake_item[key]) in real_types, (key, fake_item[key], real_types)


# -- text as people read it, and profiles ------------------------------------------------


def test_posts_read_as_reddit_renders_them(
    fake_reddit: FakeReddit, connector: RedditConnector
) -> None:
    fake_reddit.submit(
        "acme",
        author="alice",
        title="Fish &amp; chips",
        selftext="Broken again &mdash; &#3232;_&#3232;\n\n&#x200B;\n\nno&nbsp;refund",
    )
    fake_reddit.submit("acme", author="bob", title="Look at this", link="https://news.example/a")
    fake_reddit.submit("acme", author="carl", title="My setup", gallery=["The grinder", ""])
    original = fake_reddit.submit("acme", author="dora", title="The recall notice")
    fake_reddit.submit("acme", author="erik", title="Thoughts?", crosspost_of=original)
    fake_reddit.submit("acme", author="fay", title="Which one?", poll=["Acme", "Other"])
    texts = [m.text for m in connector.fetch(source_for(connector, ":new"), None).mentions]
    assert texts == [
        "Fish & chips\n\nBroken again \u2014 \u0ca0_\u0ca0\n\n\n\nno\xa0refund",
        "Look at this\n\nhttps://news.example/a",
        "My setup\n\n[gallery of 2 images]\n\n[image: The grinder]",
        "The recall notice",
        "Thoughts?\n\nCrosspost from r/acme: The recall notice",
        "Which one?\n\nPoll: Acme / Other",
    ]


def test_a_new_authors_profile_is_read_once_and_gives_reach(
    fake_reddit: FakeReddit, connector: RedditConnector
) -> None:
    fake_reddit.submit("acme", author="alice", title="first")
    fake_reddit.set_profile(
        "alice", description="Barista. shop: alice@example.com", link_karma=40, comment_karma=2
    )
    (first,) = connector.fetch(source_for(connector, ":new"), None).mentions
    fake_reddit.submit("acme", author="alice", title="second")
    (second,) = connector.fetch(source_for(connector, ":new"), first.native_id).mentions
    for mention in (first, second):
        assert mention.author.followers == 42
        assert mention.author.profile == {"note": "Barista. shop: alice@example.com", "fields": []}
    assert [r.path for r in fake_reddit.profile_requests()] == ["/user/alice/about/"]


def test_profiles_wait_while_the_rate_budget_is_low() -> None:
    low = FakeReddit(ratelimit_limit=10)
    with low:
        conn = connect(low)
        low.submit("acme", author="alice", title="first")
        (mention,) = conn.fetch(source_for(conn, ":new"), None).mentions
        conn.close()
    assert mention.author.profile is None and low.profile_requests() == []
