"""Replies on Mastodon: the connector posts with the real Mastodon.py client to FakeMastodon."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from connectors.base import Mention, Outgoing, Replyable, ReplyTarget, TargetState
from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    RateLimitedError,
    TargetUnavailable,
    TransientConnectorError,
)
from connectors.mastodon import InstanceSettings, MastodonConnector, MastodonSettings
from social_crm.config import Brand
from social_crm.demo.servers.mastodon import FakeMastodon

ACME = Brand(name="acme", hashtags=["acme"], accounts={"mastodon": "brand"})

Connect = Callable[..., MastodonConnector]


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[FakeMastodon, FakeMastodon]]:
    """The brand's own instance and another one, for the module (stopping costs 0.5 s each)."""
    with FakeMastodon(owner="brand") as own, FakeMastodon(owner="other_admin") as other:
        yield own, other


@pytest.fixture
def fake(servers: tuple[FakeMastodon, FakeMastodon]) -> FakeMastodon:
    """The brand's instance, emptied, with a local customer (carl)."""
    own, other = servers
    for server in (own, other):
        server.reset()
        server.idempotency_seconds = 3600
    own.add_account("carl", display_name="Carl")
    return own


@pytest.fixture
def other(servers: tuple[FakeMastodon, FakeMastodon], fake: FakeMastodon) -> FakeMastodon:
    """Another instance, with a local customer (dana)."""
    servers[1].add_account("dana", display_name="Dana")
    return servers[1]


@pytest.fixture
def connect(fake: FakeMastodon) -> Iterator[Connect]:
    made: list[MastodonConnector] = []

    def build(
        *, token: str = "demo-token", extra: tuple[FakeMastodon, ...] = ()
    ) -> MastodonConnector:
        settings = MastodonSettings(
            api_base_url=fake.url,
            access_token=token,
            timeout_seconds=5,
            extra_instances=[
                InstanceSettings(api_base_url=server.url, access_token="demo-token")
                for server in extra
            ],
        )
        connector = MastodonConnector(settings, watches=[ACME.watch()])
        made.append(connector)
        return connector

    yield build
    for connector in made:
        connector.close()


def fetched(connector: MastodonConnector, key: str) -> list[Mention]:
    """What one of the connector's sources returns on its first poll."""
    source = next(s for s in connector.sources() if s.key == key)
    return connector.fetch(source, None).mentions


def target_of(mention: Mention) -> ReplyTarget:
    """The reply target the app builds from a stored mention."""
    return ReplyTarget(
        native_id=mention.native_id,
        thread_id=mention.thread_id,
        author_handle=mention.author.handle,
        locator=mention.locator,
        visibility=mention.visibility,
    )


def mentioned(
    connector: MastodonConnector, fake: FakeMastodon, text: str, **post: Any
) -> ReplyTarget:
    """carl posts ``text`` (mentioning @brand); the target the app would reply to."""
    fake.post("carl", f"@brand {text}", **post)
    (mention,) = fetched(connector, "acme:mentions")
    return target_of(mention)


def outgoing(target: ReplyTarget, text: str, *, key: str = "draft-1", **options: Any) -> Outgoing:
    return Outgoing(target=target, text=text, idempotency_key=key, **options)


def post_requests(fake: FakeMastodon) -> int:
    return sum(1 for r in fake.requests if r.method == "POST" and r.path == "/api/v1/statuses")


def local_id(target: ReplyTarget) -> str:
    """The target's id on the instance it was read from."""
    return (target.locator or "").rpartition("/")[2]


def posted_json(fake: FakeMastodon, index: int = -1) -> dict[str, Any]:
    """The JSON of a status posted through the API (the last one by default)."""
    return fake.status_json(fake.posted[index])


# -- posting ----------------------------------------------------------------------------------


def test_the_connector_replies_as_the_tokens_owner(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect()
    assert isinstance(connector, Replyable)
    assert connector.reply_account() == f"@brand@{fake.host}"
    connector.reply_account()
    assert len(fake.api_requests("/api/v1/accounts/verify_credentials")) == 1  # read once


def test_a_reply_mentions_the_author_and_joins_the_thread(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect()
    target = mentioned(connector, fake, "my order is late")

    posted = connector.reply(outgoing(target, "Sorry, Carl! It ships today."))

    body = posted_json(fake)
    carls = fake.status_json(local_id(target))
    assert body["in_reply_to_id"] == carls["id"] and body["visibility"] == "public"
    assert [m["acct"] for m in body["mentions"]] == ["carl"]
    assert (posted.native_id, posted.url) == (body["uri"], body["url"])
    assert posted.text == "@carl Sorry, Carl! It ships today." and not posted.private
    assert posted.posted_at is not None and abs(posted.posted_at.timestamp() - time.time()) < 5
    # In the thread, as anyone reading it sees it.
    context = requests.get(f"{fake.url}/api/v1/statuses/{carls['id']}/context", timeout=5).json()
    assert [s["uri"] for s in context["descendants"]] == [posted.native_id]
    assert connector.inspect(target).account_replies == (posted,)


def test_text_already_mentioning_the_author_is_left_as_it_is(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect()
    target = mentioned(connector, fake, "hello")
    posted = connector.reply(outgoing(target, f"Thanks @carl@{fake.host.upper()}!"))
    assert posted.text == "Thanks @carl!"


def test_a_reply_with_a_watched_hashtag_shows_in_its_timeline_unless_direct(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect()
    target = mentioned(connector, fake, "question")
    public = connector.reply(outgoing(target, "See the #acme FAQ", key="a"))
    connector.reply(outgoing(target, "In private: #acme", key="b", private=True))
    assert [m.native_id for m in fetched(connector, "acme:tag:acme")] == [public.native_id]


@pytest.mark.parametrize(
    ("original", "private", "expected"),
    [
        ("public", False, "public"),
        ("unlisted", False, "unlisted"),
        ("private", False, "private"),
        ("direct", False, "direct"),
        ("public", True, "direct"),
        ("unlisted", True, "direct"),
        ("private", True, "direct"),
        ("direct", True, "direct"),
    ],
)
def test_a_reply_is_never_more_visible_than_its_target(
    fake: FakeMastodon, connect: Connect, original: str, private: bool, expected: str
) -> None:
    connector = connect()
    target = mentioned(connector, fake, "hi", visibility=original)
    assert target.visibility == original

    posted = connector.reply(outgoing(target, "Hello Carl", private=private))

    assert posted_json(fake)["visibility"] == expected
    assert posted.private is (expected == "direct")
    assert connector.inspect(target).account_replies == (posted,)


def test_an_unknown_visibility_is_answered_directly(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect()
    target = mentioned(connector, fake, "hi")
    connector.reply(outgoing(replace(target, visibility="limited"), "Hello"))
    assert posted_json(fake)["visibility"] == "direct"


def test_a_direct_reply_is_out_of_public_view(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect()
    target = mentioned(connector, fake, "secret", visibility="direct")
    connector.reply(outgoing(target, "Sent you the details"))
    local_id = fake.posted[-1]
    anonymous = requests.get(f"{fake.url}/api/v1/statuses/{local_id}", timeout=5)
    assert anonymous.status_code == 404


# -- the Idempotency-Key and the thread check -------------------------------------------------


def test_the_same_idempotency_key_posts_once_even_from_a_fresh_client(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect()
    target = mentioned(connector, fake, "help")
    first = connector.reply(outgoing(target, "On it"))

    again = connector.reply(outgoing(target, "On it"))
    after_restart = connect().reply(outgoing(target, "On it"))

    assert first == again == after_restart
    assert len(fake.posted) == 1 and post_requests(fake) == 3
    other_draft = connector.reply(outgoing(target, "On it", key="draft-2"))
    assert other_draft.native_id != first.native_id and len(fake.posted) == 2


def test_a_key_reused_after_it_expired_posts_again_and_inspect_shows_both(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect()
    target = mentioned(connector, fake, "help")
    fake.idempotency_seconds = 0.2
    first = connector.reply(outgoing(target, "On it"))
    time.sleep(0.3)

    second = connector.reply(outgoing(target, "On it"))

    assert first.native_id != second.native_id and len(fake.posted) == 2
    assert connector.inspect(target).account_replies == (first, second)


def test_inspect_lists_only_the_accounts_direct_replies_to_the_target(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect()
    target = mentioned(connector, fake, "help")
    carls = local_id(target)
    by_hand = fake.post("brand", "@carl answered by a person", in_reply_to=carls)
    thanks = fake.post("carl", "@brand thanks!", in_reply_to=by_hand)
    fake.post("brand", "@carl you are welcome", in_reply_to=thanks)
    fake.add_account("erin")
    fake.post("erin", "@carl me too", in_reply_to=carls)

    replies = connector.inspect(target).account_replies

    assert [r.text for r in replies] == ["@carl answered by a person"]


# -- a target read through another instance ---------------------------------------------------


def test_a_target_on_another_instance_is_answered_on_the_own_one(
    fake: FakeMastodon, other: FakeMastodon, connect: Connect
) -> None:
    connector = connect(extra=(other,))
    dana_id = other.post("dana", "Is #acme any good?")
    copy_id = other.federate(dana_id, fake)
    (mention,) = fetched(connector, f"acme:tag:acme@{other.host}")
    target = target_of(mention)
    assert target.locator == f"{other.host}/{dana_id}"

    posted = connector.reply(outgoing(target, "It is!"))

    body = posted_json(fake)
    assert body["in_reply_to_id"] == copy_id
    assert [m["acct"] for m in body["mentions"]] == [f"dana@{other.host}"]
    assert other.posted == []  # nothing posted on the other instance
    searches = fake.api_requests("/api/v2/search")
    assert [(r.query["q"], r.query["resolve"]) for r in searches] == [([target.native_id], ["1"])]
    state = connector.inspect(target)
    assert (state.status, state.account_replies) == ("open", (posted,))
    assert len(fake.api_requests("/api/v2/search")) == 1  # the local id is remembered


def test_a_target_the_own_instance_cannot_resolve_is_gone(
    fake: FakeMastodon, other: FakeMastodon, connect: Connect
) -> None:
    connector = connect(extra=(other,))
    other.post("dana", "never federated #acme")
    (mention,) = fetched(connector, f"acme:tag:acme@{other.host}")
    assert connector.inspect(target_of(mention)).status == "deleted"
    with pytest.raises(TargetUnavailable, match="not found from") as caught:
        connector.reply(outgoing(target_of(mention), "hello"))
    assert caught.value.reason == "deleted" and fake.posted == []


# -- a target that is gone, and failures ------------------------------------------------------


def test_a_deleted_target_is_reported_and_not_answered(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect()
    target = mentioned(connector, fake, "oops")
    assert connector.inspect(target).status == "open"
    fake.delete(local_id(target))

    assert connector.inspect(target) == TargetState(status="deleted")
    with pytest.raises(TargetUnavailable, match="does not appear to exist") as caught:
        connector.reply(outgoing(target, "hello"))
    assert caught.value.reason == "deleted"
    assert str(caught.value).startswith(f"mastodon reply to {target.native_id}: ")
    assert fake.posted == []


def test_a_server_error_on_posting_is_transient_and_sent_once(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect()
    target = mentioned(connector, fake, "help")
    fake.fail_next_posts(503)
    with pytest.raises(TransientConnectorError, match="HTTP 503"):
        connector.reply(outgoing(target, "hello"))
    assert post_requests(fake) == 1 and fake.posted == []


def test_a_connection_lost_after_posting_leaves_the_reply_findable_and_the_key_holds(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect()
    target = mentioned(connector, fake, "help")
    fake.drop_next_posts()

    with pytest.raises(TransientConnectorError, match="unreachable"):
        connector.reply(outgoing(target, "On it"))

    assert post_requests(fake) == 1  # never sent twice by the client
    (found,) = connector.inspect(target).account_replies
    assert found.text == "@carl On it"
    assert connector.reply(outgoing(target, "On it")) == found  # same key: the same status
    assert len(fake.posted) == 1


def test_a_refused_text_says_why(fake: FakeMastodon, connect: Connect) -> None:
    connector = connect()
    target = mentioned(connector, fake, "help")
    with pytest.raises(ConnectorError, match="HTTP 422: .*character limit of 500") as caught:
        connector.reply(outgoing(target, "x" * 501))
    assert not isinstance(caught.value, TransientConnectorError)
    assert fake.posted == []


def test_a_revoked_token_or_a_spent_rate_limit_are_the_usual_errors(
    fake: FakeMastodon, connect: Connect
) -> None:
    connector = connect()
    target = mentioned(connector, fake, "help")
    fake.fail_next_posts(429)
    with pytest.raises(RateLimitedError):
        connector.reply(outgoing(target, "hello"))
    fake.revoke_token()
    with pytest.raises(AuthenticationError):
        connect().reply(outgoing(target, "hello"))
    assert fake.posted == []


# -- the fake's answers against recorded real ones ---------------------------------------------


def recorded_posts(name: str) -> list[tuple[str, dict[str, Any]]]:
    """(form body, answer) of each POST of one of Mastodon.py's cassettes, or a skip."""
    default = Path(__file__).parents[1].parent / "shared" / "fixtures"
    path = Path(os.environ.get("SOCIAL_CRM_FIXTURES", default)) / "mastodon" / f"{name}.yaml"
    if not path.is_file():
        pytest.skip(f"recorded Mastodon traffic not found at {path} (set SOCIAL_CRM_FIXTURES)")
    interactions = yaml.safe_load(path.read_text(encoding="utf-8"))["interactions"]
    return [
        (i["request"]["body"] or "", json.loads(i["response"]["body"]["string"]))
        for i in interactions
        if i["request"]["method"] == "POST"
    ]


@pytest.mark.parametrize(
    ("cassette", "reply"), [("test_status_post[None-public]", False), ("test_status_reply", True)]
)
def test_the_fakes_post_answer_has_the_recorded_shape(
    fake: FakeMastodon, cassette: str, reply: bool
) -> None:
    (real,) = [
        answer for body, answer in recorded_posts(cassette) if reply == ("in_reply_to_id" in body)
    ]
    parent = fake.post("carl", "a status to answer")
    form = {"status": "@carl Toot!", "visibility": "public"}
    if reply:
        form["in_reply_to_id"] = parent
    answer = requests.post(
        f"{fake.url}/api/v1/statuses",
        data=form,
        headers={"Authorization": "Bearer demo-token", "Idempotency-Key": "shape"},
        timeout=5,
    ).json()

    assert answer.keys() == real.keys()
    assert answer["account"].keys() == real["account"].keys()
    assert (answer["in_reply_to_id"] is not None) is (real["in_reply_to_id"] is not None) is reply
