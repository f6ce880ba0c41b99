"""Replies on Reddit: the connector posts with the real praw client to the fake Reddit."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from connectors.base import Outgoing, Replyable, ReplyTarget
from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    RateLimitedError,
    TargetUnavailable,
    TransientConnectorError,
)
from connectors.reddit import RedditConnector, RedditSettings
from social_crm.config import Brand
from social_crm.demo.servers.reddit import FakeReddit

ACME = Brand(name="Acme", subreddits=["acme"], accounts={"reddit": "u/Brand"})


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeReddit]:
    """One fake Reddit for the module (stopping one costs half a second)."""
    with FakeReddit(users={"Brand": "pw"}) as fake:
        yield fake


@pytest.fixture
def fake(fake_server: FakeReddit) -> FakeReddit:
    """The module's fake Reddit, emptied for this test."""
    fake_server.reset()
    return fake_server


def connect(fake: FakeReddit, **settings: Any) -> RedditConnector:
    """A connector logged in as u/Brand (a script app) unless ``settings`` say otherwise."""
    values: dict[str, Any] = {
        "client_id": fake.client_id,
        "client_secret": fake.client_secret,
        "base_url": fake.url,
        "timeout_seconds": 5,
        "username": "Brand",
        "password": "pw",
    }
    values.update(settings)
    return RedditConnector(RedditSettings(**values), watches=[ACME.watch()])


@pytest.fixture
def connector(fake: FakeReddit) -> Iterator[RedditConnector]:
    conn = connect(fake)
    yield conn
    conn.close()


def target_of(fullname: str, *, thread: str | None = None, author: str = "alice") -> ReplyTarget:
    """A reply target as the app builds it from a stored mention."""
    return ReplyTarget(native_id=fullname, thread_id=thread or fullname, author_handle=author)


def outgoing(target: ReplyTarget, text: str, **options: Any) -> Outgoing:
    return Outgoing(target=target, text=text, idempotency_key="draft-1", **options)


def posts_made(fake: FakeReddit) -> int:
    """How many replies and messages the fake was asked to make (answered or not)."""
    return len(fake.api_requests("/api/comment")) + len(fake.api_requests("/api/compose"))


# -- posting --------------------------------------------------------------------------------


def test_the_connector_replies_as_the_account_it_logs_in_as(connector: RedditConnector) -> None:
    assert isinstance(connector, Replyable)
    assert connector.reply_account() == "u/Brand"


def test_a_reply_to_a_submission_is_a_comment_shown_in_its_thread(
    fake: FakeReddit, connector: RedditConnector
) -> None:
    post = fake.submit("acme", author="alice", title="Acme ate my order")
    target = target_of(post)

    posted = connector.reply(outgoing(target, "Sorry, Alice! We sent a new one & a refund."))

    assert posted.native_id.startswith("t1_") and not posted.private
    assert posted.text == "Sorry, Alice! We sent a new one & a refund."
    assert posted.url == f"{fake.url}/r/acme/comments/{post[3:]}/_/{posted.native_id[3:]}/"
    assert posted.posted_at is not None and abs(posted.posted_at.timestamp() - time.time()) < 5
    assert fake.comments_by("Brand") == [posted.native_id]
    # Everyone reading the subreddit's comments sees it, written by the brand's account.
    comments = next(s for s in connector.sources() if s.key.endswith(":comments"))
    (seen,) = connector.fetch(comments, None).mentions
    assert (seen.native_id, seen.author.display_name, seen.parent_id) == (
        posted.native_id,
        "Brand",
        post,
    )
    assert connector.inspect(target).account_replies == (posted,)


def test_a_reply_to_a_comment_answers_that_comment_only(
    fake: FakeReddit, connector: RedditConnector
) -> None:
    post = fake.submit("acme", author="alice", title="Acme?")
    comment = fake.comment(post, author="bob", body="mine broke too")
    target = target_of(comment, thread=post, author="bob")

    posted = connector.reply(outgoing(target, "Bob, we are on it."))

    assert f"/comments/{post[3:]}/" in posted.url
    state = connector.inspect(target)
    assert (state.status, state.account_replies) == ("open", (posted,))
    # Not an answer to the submission itself.
    assert connector.inspect(target_of(post)).account_replies == ()


def test_inspect_lists_the_accounts_replies_to_the_target_oldest_first(
    fake: FakeReddit, connector: RedditConnector
) -> None:
    post = fake.submit("acme", author="alice", title="Acme?")
    question = fake.comment(post, author="alice", body="anyone?")
    by_hand = fake.comment(question, author="Brand", body="Answered by a person from the brand")
    fake.comment(question, author="carol", body="not the brand")
    fake.comment(post, author="Brand", body="the brand, but under the submission")
    nested = fake.comment(by_hand, author="Brand", body="a reply to our own reply")
    target = target_of(question, thread=post)

    posted = connector.reply(outgoing(target, "And the bot's answer"))

    replies = connector.inspect(target).account_replies
    assert [r.native_id for r in replies] == [by_hand, posted.native_id]
    assert replies[0].text == "Answered by a person from the brand"
    assert nested not in {r.native_id for r in replies}


def test_a_private_message_goes_to_the_author_and_inspect_finds_it(
    fake: FakeReddit, connector: RedditConnector
) -> None:
    post = fake.submit("acme", author="Alice", title="my account number is...")
    target = target_of(post, author="alice")

    posted = connector.reply(
        outgoing(target, "Let's sort this out privately.", private=True, subject="Your order")
    )

    (message,) = fake.messages
    assert (message.author, message.dest, message.subject) == ("Brand", "alice", "Your order")
    assert (posted.native_id, posted.private) == (message.fullname, True)
    assert posted.url == f"{fake.url}/message/messages/{message.fullname[3:]}"
    assert posted.text == "Let's sort this out privately."
    assert fake.comments_by("Brand") == []  # nothing public
    assert connector.inspect(target).account_replies == (posted,)


def test_a_private_message_without_a_subject_gets_one(
    fake: FakeReddit, connector: RedditConnector
) -> None:
    comment = fake.comment(fake.submit("acme", author="x", title="t"), author="bob", body="hm")
    connector.reply(outgoing(target_of(comment, author="bob"), "Hello Bob", private=True))
    assert [m.subject for m in fake.messages] == ["About your comment"]


def test_inspect_lists_only_messages_to_that_author_since_the_target(
    fake: FakeReddit, connector: RedditConnector
) -> None:
    first = fake.submit("acme", author="alice", title="one", created_utc=time.time() - 3600)
    earlier = connector.reply(outgoing(target_of(first), "about the first", private=True))
    fake.submit("acme", author="bob", title="other")
    connector.reply(outgoing(target_of(first, author="bob"), "to bob", private=True))
    second = fake.submit("acme", author="alice", title="two", created_utc=time.time() + 5)

    assert connector.inspect(target_of(first)).account_replies == (earlier,)
    assert connector.inspect(target_of(second)).account_replies == ()


# -- the target's state -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "status"),
    [(None, "open"), ("delete", "deleted"), ("remove", "removed"), ("lock", "locked")]
    + [("archive", "archived")],
)
@pytest.mark.parametrize("kind", ["submission", "comment"])
def test_inspect_reports_the_targets_state(
    fake: FakeReddit, connector: RedditConnector, kind: str, change: str | None, status: str
) -> None:
    post = fake.submit("acme", author="alice", title="A post")
    target = target_of(post)
    if kind == "comment":
        comment = fake.comment(post, author="bob", body="a comment")
        target = target_of(comment, thread=post, author="bob")
    if change is not None:
        getattr(fake, change)(target.native_id)
    assert connector.inspect(target).status == status


@pytest.mark.parametrize(("change", "status"), [("lock", "locked"), ("archive", "archived")])
def test_a_comment_in_a_locked_or_archived_thread_takes_its_state(
    fake: FakeReddit, connector: RedditConnector, change: str, status: str
) -> None:
    post = fake.submit("acme", author="alice", title="A post")
    comment = fake.comment(post, author="bob", body="a comment")
    getattr(fake, change)(post)
    assert connector.inspect(target_of(comment, thread=post)).status == status


def test_a_comment_whose_submission_is_unknown_reads_as_deleted(
    connector: RedditConnector,
) -> None:
    assert connector.inspect(target_of("t1_zzzzzz", thread="t3_zzzzzz")).status == "deleted"


@pytest.mark.parametrize(
    ("change", "reason", "words"),
    [
        ("lock", "locked", "the thread is locked (THREAD_LOCKED"),
        ("archive", "archived", "the thread is archived (too old to reply to) (TOO_OLD"),
        ("delete", "deleted", "it was deleted"),
        ("remove", "deleted", "DELETED_COMMENT"),  # a removed comment cannot be answered either
    ],
)
def test_reddits_refusals_name_the_targets_state_and_nothing_is_posted(
    fake: FakeReddit, connector: RedditConnector, change: str, reason: str, words: str
) -> None:
    post = fake.submit("acme", author="alice", title="A post")
    comment = fake.comment(post, author="bob", body="a comment")
    getattr(fake, change)(comment)

    with pytest.raises(TargetUnavailable) as caught:
        connector.reply(outgoing(target_of(comment, thread=post), "hello"))

    assert caught.value.reason == reason
    assert words in str(caught.value) and "nothing was posted" in str(caught.value)
    assert str(caught.value).startswith(f"reddit reply to {comment}: ")
    assert fake.comments_by("Brand") == []


def test_a_message_to_an_unknown_or_deleted_author_is_refused(
    fake: FakeReddit, connector: RedditConnector
) -> None:
    post = fake.submit("acme", author="alice", title="A post")
    with pytest.raises(TargetUnavailable, match="USER_DOESNT_EXIST") as caught:
        connector.reply(outgoing(target_of(post, author="nobody"), "hi", private=True))
    assert caught.value.reason == "deleted"
    with pytest.raises(TargetUnavailable, match="account is deleted"):
        connector.reply(outgoing(target_of(post, author="[deleted]"), "hi", private=True))
    assert fake.messages == []


# -- failures ------------------------------------------------------------------------------


def test_a_ratelimit_refusal_is_raised_with_its_wait_not_slept_on(
    fake: FakeReddit, connector: RedditConnector
) -> None:
    post = fake.submit("acme", author="alice", title="A post")
    fake.ratelimit_next_posts(540)
    started = time.monotonic()

    with pytest.raises(RateLimitedError, match="Take a break for 9 minutes") as caught:
        connector.reply(outgoing(target_of(post), "hello"))

    assert caught.value.retry_after == 540
    assert time.monotonic() - started < 2
    assert posts_made(fake) == 1 and fake.comments_by("Brand") == []


def test_a_server_error_on_posting_is_transient_and_sent_once(
    fake: FakeReddit, connector: RedditConnector
) -> None:
    post = fake.submit("acme", author="alice", title="A post")
    fake.fail_next_posts(503)
    with pytest.raises(TransientConnectorError, match="server error"):
        connector.reply(outgoing(target_of(post), "hello"))
    assert posts_made(fake) == 1 and fake.comments_by("Brand") == []


def test_a_403_on_posting_is_no_credentials_problem(
    fake: FakeReddit, connector: RedditConnector
) -> None:
    post = fake.submit("acme", author="alice", title="A post")
    fake.fail_next_posts(403)
    with pytest.raises(ConnectorError, match="refused the post") as caught:
        connector.reply(outgoing(target_of(post), "hello"))
    assert not isinstance(caught.value, AuthenticationError)


def test_a_connection_lost_after_posting_is_transient_and_inspect_finds_the_reply(
    fake: FakeReddit, connector: RedditConnector
) -> None:
    post = fake.submit("acme", author="alice", title="A post")
    target = target_of(post)
    fake.drop_next_posts()

    with pytest.raises(TransientConnectorError, match="network error"):
        connector.reply(outgoing(target, "Sorry about that"))

    assert posts_made(fake) == 1  # never sent a second time
    (found,) = connector.inspect(target).account_replies
    assert (found.native_id, found.text) == (fake.comments_by("Brand")[0], "Sorry about that")


def test_a_connection_lost_after_a_message_leaves_it_findable(
    fake: FakeReddit, connector: RedditConnector
) -> None:
    post = fake.submit("acme", author="alice", title="A post")
    fake.drop_next_posts()
    with pytest.raises(TransientConnectorError):
        connector.reply(outgoing(target_of(post), "In private", private=True))
    (found,) = connector.inspect(target_of(post)).account_replies
    assert (found.text, found.private, len(fake.messages)) == ("In private", True, 1)


def test_replying_needs_the_accounts_password(fake: FakeReddit) -> None:
    read_only = connect(fake, username=None, password=None)
    post = fake.submit("acme", author="alice", title="A post")
    calls = [
        read_only.reply_account,
        lambda: read_only.inspect(target_of(post)),
        lambda: read_only.reply(outgoing(target_of(post), "hi")),
    ]
    for call in calls:
        with pytest.raises(AuthenticationError, match="username and password"):
            call()
    assert fake.api_requests() == []


def test_a_target_that_is_no_reddit_fullname_is_refused(connector: RedditConnector) -> None:
    with pytest.raises(ConnectorError, match="not a submission or comment fullname"):
        connector.reply(outgoing(target_of("https://example.com/x"), "hi"))


# -- the fake's answers against recorded real ones ---------------------------------------------


def recorded(name: str) -> list[dict[str, Any]]:
    """The interactions of one of praw's recorded cassettes, or a skip naming the folder."""
    default = Path(__file__).parents[1].parent / "shared" / "fixtures"
    path = Path(os.environ.get("SOCIAL_CRM_FIXTURES", default)) / "reddit" / name
    if not path.is_file():
        pytest.skip(f"recorded Reddit traffic not found at {path} (set SOCIAL_CRM_FIXTURES)")
    return json.loads(path.read_text(encoding="utf-8"))["interactions"]


def recorded_answer(name: str, method: str, path: str) -> Any:
    for interaction in recorded(name):
        request = interaction["request"]
        if request["method"] == method and path in request["uri"]:
            return json.loads(interaction["response"]["body"]["string"])
    raise AssertionError(f"{name} records no {method} {path}")


def user_client(fake: FakeReddit) -> tuple[Client, dict[str, str]]:
    client = Client(fake.wsgi_app)
    token = client.post(
        "/api/v1/access_token",
        data={"grant_type": "password", "username": "Brand", "password": "pw"},
        auth=(fake.client_id, fake.client_secret),
    ).get_json()["access_token"]
    return client, {"Authorization": f"bearer {token}"}


@pytest.mark.parametrize("case", ["TestSubmission.test_reply", "TestComment.test_reply"])
def test_the_fakes_reply_answer_has_the_recorded_shape(case: str) -> None:
    real = recorded_answer(f"{case}.json", "POST", "/api/comment/")
    fake = FakeReddit(users={"Brand": "pw"})
    post = fake.submit("acme", author="alice", title="A post")
    parent = post if "Submission" in case else fake.comment(post, author="bob", body="b")
    client, bearer = user_client(fake)

    answer = client.post(
        "/api/comment/?raw_json=1",
        data={"thing_id": parent, "text": "Test reply", "api_type": "json"},
        headers=bearer,
    ).get_json()

    assert answer.keys() == real.keys() and answer["json"].keys() == real["json"].keys()
    ((ours,),) = [answer["json"]["data"]["things"]]
    (theirs,) = real["json"]["data"]["things"]
    assert ours["kind"] == theirs["kind"] == "t1"
    assert ours["data"].keys() == theirs["data"].keys()
    assert (ours["data"]["parent_id"], ours["data"]["author"]) == (parent, "Brand")


def test_the_fakes_thread_answer_has_the_recorded_shape() -> None:
    real = recorded_answer("TestSubmission.test_comments.json", "GET", "/comments/")
    fake = FakeReddit(users={"Brand": "pw"})
    post = fake.submit("acme", author="alice", title="A post")
    fake.comment(fake.comment(post, author="bob", body="top"), author="carol", body="nested")
    client, bearer = user_client(fake)

    answer = client.get(f"/comments/{post[3:]}/?raw_json=1", headers=bearer).get_json()

    def shape(body: Any) -> list[Any]:
        submission, comments = body
        top = comments["data"]["children"][0]
        return [
            [child["kind"] for child in submission["data"]["children"]],
            top["kind"],
            top["data"]["replies"]["kind"],
            top["data"]["replies"]["data"]["children"][0]["kind"],
        ]

    assert shape(answer) == shape(real) == [["t3"], "t1", "Listing", "t1"]
    recorded_post = real[0]["data"]["children"][0]["data"]
    fake_post = answer[0]["data"]["children"][0]["data"]
    # What inspect reads of a submission is there in both.
    assert {"locked", "archived", "selftext", "author"} <= recorded_post.keys() & fake_post.keys()
