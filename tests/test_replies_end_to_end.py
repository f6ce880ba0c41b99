"""Replying for real: drafts approved in social-crm are posted by the daemon's send job with the
real praw and Mastodon.py clients to the fake Reddit and Mastodon, and read back from there."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from connectors.base import Outgoing
from social_crm.alerts.models import Alert
from social_crm.config import Brand
from social_crm.customers.importer import import_customers
from social_crm.daemon import Daemon
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.engagement import lifecycle, service
from social_crm.engagement.models import Reply
from social_crm.engagement.sending import DRY_RUN, outgoing, same_text
from social_crm.jobs.send_replies import send_replies
from social_crm.mentions.models import AuthorRecord

from .commands import COLUMNS, social_crm
from .reply_world import (
    FOOTER,
    REDDIT_ACCOUNT,
    REDDIT_PASSWORD,
    World,
    make_world,
    mention_id,
)

ANGRY = "Terrible, awful service. Broken after two weeks and nobody answers."


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeReddit, FakeMastodon]]:
    """One fake Reddit and one fake Mastodon for the module (stopping each costs 0.5 s)."""
    with (
        FakeReddit(users={REDDIT_ACCOUNT: REDDIT_PASSWORD}) as reddit,
        FakeMastodon(owner="brewly") as mastodon,
    ):
        yield reddit, mastodon


@pytest.fixture
def world(
    fakes: tuple[FakeReddit, FakeMastodon],
    write_config: Callable[..., Path],
    tmp_path: Path,
    db_url: str,
) -> World:
    return make_world(*fakes, write_config, tmp_path, db_url=db_url)


@pytest.fixture
def daemon(world: World) -> Iterator[Daemon]:
    """The daemon's process parts with the real connectors, the sample customers imported."""
    running = Daemon(world.settings())
    running.start()
    with running.db.transaction() as session:
        import_customers(session, world.customers)
    yield running
    running.close()


def drafts_for(daemon: Daemon, native_id: str) -> list[int]:
    """The replies drafted for the mention of ``native_id``, oldest first."""
    mention = mention_id(daemon.db, native_id)
    with daemon.db.transaction() as session:
        return list(
            session.scalars(select(Reply.id).where(Reply.mention_id == mention).order_by(Reply.id))
        )


def approve(daemon: Daemon, reply_id: int, *, resolve_alert: bool | None = None) -> None:
    with daemon.db.transaction() as session:
        lifecycle.approve(
            session,
            reply_id,
            by="maria",
            config=daemon.settings.engagement,
            resolve_alert=resolve_alert,
        )


def draft(daemon: Daemon, native_id: str, **how: object) -> int:
    """A draft reply to the mention of ``native_id``, as ``replies draft`` makes it."""
    mention = mention_id(daemon.db, native_id)
    with daemon.db.transaction() as session:
        return lifecycle.draft(
            session, mention, by="maria", config=daemon.settings.engagement, **how
        ).id


def detail(daemon: Daemon, reply_id: int) -> service.ReplyDetail:
    with daemon.db.transaction() as session:
        return service.get_reply(session, reply_id)


def thread_comments(world: World, submission: str) -> list[dict[str, object]]:
    """The comments of a Reddit thread as anyone reading it sees them (``/comments/<id>``)."""
    token = requests.post(
        f"{world.reddit.url}/api/v1/access_token",
        auth=(world.reddit.client_id, world.reddit.client_secret),
        data={"grant_type": "client_credentials"},
        timeout=5,
    ).json()["access_token"]
    _, comments = requests.get(
        f"{world.reddit.url}/comments/{submission.removeprefix('t3_')}/",
        headers={"Authorization": f"bearer {token}"},
        params={"raw_json": 1},
        timeout=5,
    ).json()
    return [child["data"] for child in comments["data"]["children"] if child["kind"] == "t1"]


def status_context(world: World, status_id: str) -> list[dict[str, object]]:
    """The replies under a Mastodon status, as anyone reading it sees them."""
    answer = requests.get(f"{world.mastodon.url}/api/v1/statuses/{status_id}/context", timeout=5)
    return answer.json()["descendants"] if answer.ok else []


# -- approve and send ---------------------------------------------------------------------------


def test_an_approved_reply_is_posted_on_each_network_and_recorded(
    world: World, daemon: Daemon
) -> None:
    gus = world.reddit.submit("brewly", author="Grumpy_Gus", title="Brewly broke", selftext=ANGRY)
    anna = world.mastodon.post("anna@mastodon.nl", f"My #Brewly grinder: {ANGRY}")
    daemon.run_cycle()  # listen, classify, link, escalate, and the rule proposes apologies
    (to_gus,) = drafts_for(daemon, gus)
    (to_anna,) = drafts_for(daemon, anna)
    assert world.posts() == (0, 0)  # nothing goes out without approval

    approve(daemon, to_gus, resolve_alert=True)
    approve(daemon, to_anna, resolve_alert=True)
    assert send_replies(daemon.context) == 2

    gus_reply, anna_reply = detail(daemon, to_gus), detail(daemon, to_anna)
    # Reddit: a comment under Gus's post, from the brand's account, in the approved words.
    (comment,) = thread_comments(world, gus)
    assert gus_reply.summary.status == "sent"
    assert gus_reply.summary.account == f"u/{REDDIT_ACCOUNT}"
    assert (comment["name"], comment["author"], comment["parent_id"]) == (
        gus_reply.summary.posted_id,
        REDDIT_ACCOUNT,
        gus,
    )
    assert comment["body"] == (
        "Sorry, Gus Grant! We are on it & will fix it: https://brewly.example/help\n\n" + FOOTER
    )
    assert gus_reply.summary.posted_url == (
        f"{world.reddit.url}/r/brewly/comments/{gus[3:]}/_/{comment['id']}/"
    )
    # Mastodon: a status answering Anna's, mentioning her, as visible as hers.
    (status,) = status_context(world, anna)
    assert anna_reply.summary.account == f"@brewly@{world.mastodon.host}"
    assert (status["uri"], status["url"]) == (
        anna_reply.summary.posted_id,
        anna_reply.summary.posted_url,
    )
    assert status["visibility"] == "public"
    assert [m["acct"] for m in status["mentions"]] == ["anna@mastodon.nl"]
    assert "Sorry, Anna de Vries! We are on it &amp; will fix it" in str(status["content"])
    assert world.posts() == (1, 1)

    # Each reply joins its alert (resolved, as approved) and the customer's timeline.
    with daemon.db.transaction() as session:
        for sent, key in ((gus_reply, "C-3"), (anna_reply, "C-1")):
            alert = session.get(Alert, sent.summary.alert_id)
            assert alert is not None and alert.status == "resolved", sent.summary
            assert alert.resolution == (
                f"answered by reply {sent.summary.id}: {sent.summary.posted_url}"
            )
            assert [r.id for r in service.alert_replies(session, alert.id)] == [sent.summary.id]
            timeline = service.customer_timeline(session, key)
            (entry,) = [e for e in timeline.entries if e.kind == "reply"]
            assert (entry.native_id, entry.url) == (
                sent.summary.posted_id,
                sent.summary.posted_url,
            )
    assert [step.action for step in gus_reply.history] == [
        "drafted",
        "approved",
        "sending",
        "sent",
        "alert resolved",
    ]

    # The next pass finds nothing to send; the brand's own reply, listed among the
    # subreddit's comments, is no mention: no alert, no ranking, no reply to it.
    daemon.run_cycle()
    assert world.posts() == (1, 1)
    with daemon.db.transaction() as session:
        authors = session.scalars(select(AuthorRecord.handle)).all()
        assert sorted(authors) == ["anna@mastodon.nl", "grumpy_gus"]
        assert len(session.scalars(select(Reply)).all()) == 2
        assert {a.status for a in session.scalars(select(Alert))} == {"resolved"}


# -- what a person sees before anything goes out -------------------------------------------------


def command(world: World, *args: str) -> str:
    """``social-crm ARGS`` on the world's configuration; its output, checked to fit 80 columns."""
    result = social_crm(*args, "--config", str(world.config))
    assert result.returncode == 0, result.stderr
    for line in result.stdout.splitlines():
        assert len(line.rstrip()) <= COLUMNS, line
    return result.stdout


def flat(output: str) -> str:
    """The output's words, however they were wrapped."""
    return " ".join(output.split())


def post_requests(world: World) -> int:
    """Posts the fakes were asked to make, answered or not."""
    reddit = world.reddit.api_requests("/api/comment") + world.reddit.api_requests("/api/compose")
    mastodon = [r for r in world.mastodon.api_requests("/api/v1/statuses") if r.method == "POST"]
    return len(reddit) + len(mastodon)


def test_a_dry_run_shows_what_where_and_as_whom_and_posts_nothing(
    world: World, daemon: Daemon, caplog: pytest.LogCaptureFixture
) -> None:
    gus = world.reddit.submit("brewly", author="Grumpy_Gus", title="Brewly broke", selftext=ANGRY)
    anna = world.mastodon.post("anna@mastodon.nl", f"My #Brewly grinder: {ANGRY}")
    daemon.run_cycle()
    (to_gus,), (to_anna,) = drafts_for(daemon, gus), drafts_for(daemon, anna)
    approve(daemon, to_gus)
    approve(daemon, to_anna)
    gus_url = detail(daemon, to_gus).summary.mention_url

    shown = flat(command(world, "replies", "send", str(to_gus), "--dry-run"))
    assert f"reply {to_gus} (approved), dry run: nothing is posted" in shown
    assert f"as: u/{REDDIT_ACCOUNT} on reddit" in shown
    assert f"where: {gus_url}" in shown
    assert "visibility: public, as the post" in shown
    assert "target: open, 0 replies from the account there" in shown
    assert "would go: yes" in shown
    assert (
        "text: Sorry, Gus Grant! We are on it & will fix it: https://brewly.example/help "
        f"{FOOTER}" in shown
    )
    shown = flat(command(world, "replies", "send", str(to_anna), "--dry-run"))
    assert f"as: @brewly@{world.mastodon.host} on mastodon" in shown
    assert "Sorry, Anna de Vries!" in shown

    # engagement.dry_run: the daemon's send job only says what it would post.
    engagement = daemon.settings.engagement.model_copy(update={"dry_run": True})
    daemon.context.settings = daemon.settings.model_copy(update={"engagement": engagement})
    with caplog.at_level("INFO", logger="social_crm.engagement.sending"):
        assert send_replies(daemon.context) == 0
    assert (
        f"dry run: reply {to_gus} would be posted as u/{REDDIT_ACCOUNT} on reddit to {gus_url} "
        "(public, as the post)" in caplog.text
    )
    assert detail(daemon, to_gus).summary.reason == DRY_RUN
    assert world.posts() == (0, 0) and post_requests(world) == 0


def test_a_limit_holds_a_reply_and_says_why_and_until_when(world: World, daemon: Daemon) -> None:
    first = world.reddit.submit("brewly", author="Grumpy_Gus", title="Brewly broke", selftext=ANGRY)
    second = world.reddit.submit(
        "brewly", author="Grumpy_Gus", title="Brewly again", selftext=ANGRY
    )
    daemon.run_cycle()
    (one,), (two,) = drafts_for(daemon, first), drafts_for(daemon, second)
    second_id = mention_id(daemon.db, second)
    approve(daemon, one)
    approve(daemon, two)

    assert send_replies(daemon.context) == 1
    assert world.posts() == (1, 0)
    held = detail(daemon, two).summary
    reason = "per-author limit: 1 reply per 60 min to grumpy_gus"
    assert (held.status, held.reason) == ("approved", reason)
    assert held.next_attempt_at is not None

    listed = [" ".join(line.split()) for line in command(world, "replies", "list").splitlines()]
    row = listed.index(f"{two} approved reddit:grumpy_gus (mention {second_id})")
    assert listed[row + 1].startswith("not before Sorry, Gus Grant!")
    assert re.fullmatch(rf"\d{{4}}-\d\d-\d\d \d\d:\d\d {reason}", listed[row + 2])
    shown = flat(command(world, "replies", "show", str(two)))
    assert f"reason: {reason}" in shown and "next try: not before" in shown
    assert send_replies(daemon.context) == 0 and world.posts() == (1, 0)


def test_opt_outs_and_closed_or_deleted_targets_are_skipped_with_the_reason(
    world: World, daemon: Daemon
) -> None:
    anna = world.mastodon.post("anna@mastodon.nl", f"My #Brewly grinder: {ANGRY}")
    deleted = world.reddit.submit("brewly", author="latte_lisa", title="Brewly?", selftext=ANGRY)
    locked = world.reddit.submit("brewly", author="neutral_ned", title="Brewly!", selftext=ANGRY)
    archived = world.reddit.submit("brewly", author="koffie_kees", title="Brewly.", selftext=ANGRY)
    toot = world.mastodon.post("bob@fosstodon.org", f"#Brewly {ANGRY}")
    closing = world.reddit.submit("brewly", author="espresso_erik", title="Brewly", selftext=ANGRY)
    daemon.run_cycle()
    (to_anna,) = drafts_for(daemon, anna)
    replies = {to_anna: anna}
    for native_id in (deleted, locked, archived, toot, closing):
        replies[draft(daemon, native_id, situation="apology")] = native_id
    for reply_id in replies:
        approve(daemon, reply_id)

    command(world, "customers", "do-not-contact", "C-1", "--by", "maria")
    world.reddit.delete(deleted)
    world.reddit.lock(locked)
    world.reddit.archive(archived)
    world.mastodon.delete(toot)
    # A moderator locks the last thread just as the reply is posted: Reddit refuses it.
    world.reddit.on_api_request(
        lambda path, _query: world.reddit.lock(closing) if path.startswith("/api/comment") else None
    )

    assert send_replies(daemon.context) == 0

    today = f"{daemon.context.now():%Y-%m-%d}"
    reasons = {
        replies[r]: (detail(daemon, r).summary.status, detail(daemon, r).summary.reason)
        for r in replies
    }
    assert reasons == {
        anna: ("skipped", f"customer Anna de Vries is not to be contacted (since {today})"),
        deleted: ("skipped", "the post was deleted by its author"),
        locked: ("skipped", "the thread is locked"),
        archived: ("skipped", "the thread is archived"),
        toot: ("skipped", "the post was deleted by its author"),
        closing: ("skipped", "the thread is locked"),
    }
    assert world.posts() == (0, 0)
    # Only the last one was tried: the others were settled before anything was posted.
    assert post_requests(world) == 1
    assert send_replies(daemon.context) == 0  # skipped for good, never retried


def test_a_direct_message_on_mastodon_is_answered_directly(world: World, daemon: Daemon) -> None:
    question = world.mastodon.post(
        "bob@fosstodon.org",
        "my Brewly order 1234 never arrived, what now?",
        mention="brewly",
        visibility="direct",
    )
    daemon.run_cycle()
    reply_id = draft(daemon, question, text="Sorry, Bob! It ships again today.")
    approve(daemon, reply_id)
    assert send_replies(daemon.context) == 1

    sent = detail(daemon, reply_id)
    (local_id,) = world.mastodon.posted
    status = world.mastodon.status_json(local_id)
    assert (status["uri"], status["visibility"]) == (sent.summary.posted_id, "direct")
    assert status["in_reply_to_id"] == question
    assert [m["acct"] for m in status["mentions"]] == ["bob@fosstodon.org"]
    assert sent.visibility == "direct, as the post"
    # Out of public view: anonymous readers get nothing.
    anonymous = requests.get(f"{world.mastodon.url}/api/v1/statuses/{local_id}", timeout=5)
    assert anonymous.status_code == 404


def test_the_move_to_private_template_sends_a_reddit_private_message(
    world: World, daemon: Daemon
) -> None:
    gus = world.reddit.submit("brewly", author="Grumpy_Gus", title="Brewly broke", selftext=ANGRY)
    daemon.run_cycle()
    (proposed,) = drafts_for(daemon, gus)
    with daemon.db.transaction() as session:
        lifecycle.reject(session, proposed, by="maria", note="better in private")
    reply_id = draft(daemon, gus, template="move-to-private")
    approve(daemon, reply_id)
    assert send_replies(daemon.context) == 1

    (message,) = world.reddit.messages
    sent = detail(daemon, reply_id)
    assert (message.author, message.dest.lower(), message.subject) == (
        REDDIT_ACCOUNT,
        "grumpy_gus",
        "Your Brewly order",
    )
    assert message.body == (
        "Hi Grumpy_Gus, could you send us your order number here? We'll sort it out.\n\n" + FOOTER
    )
    assert sent.summary.posted_id == message.fullname and sent.summary.private
    assert sent.summary.posted_url == (
        f"{world.reddit.url}/message/messages/{message.fullname.removeprefix('t4_')}"
    )
    assert len(world.reddit.api_requests("/api/compose")) == 1
    assert world.reddit.comments_by(REDDIT_ACCOUNT) == [] and thread_comments(world, gus) == []


def test_a_persons_own_answer_from_the_brand_account_skips_the_draft(
    world: World, daemon: Daemon
) -> None:
    gus = world.reddit.submit("brewly", author="Grumpy_Gus", title="Brewly broke", selftext=ANGRY)
    anna = world.mastodon.post("anna@mastodon.nl", f"My #Brewly grinder: {ANGRY}")
    daemon.run_cycle()
    (to_gus,), (to_anna,) = drafts_for(daemon, gus), drafts_for(daemon, anna)
    approve(daemon, to_gus)
    approve(daemon, to_anna)
    # Maria answers both by hand from the brand's accounts, outside social-crm.
    by_hand = world.reddit.comment(gus, author=REDDIT_ACCOUNT, body="Gus, I'll call you today.")
    toot = world.mastodon.post("brewly", "@anna@mastodon.nl I sent you a DM.", in_reply_to=anna)

    assert send_replies(daemon.context) == 0

    gus_reason = detail(daemon, to_gus).summary.reason
    anna_reason = detail(daemon, to_anna).summary.reason
    assert gus_reason == (
        f"a person already answered from u/{REDDIT_ACCOUNT}: "
        f"{world.reddit.url}/r/brewly/comments/{gus[3:]}/_/{by_hand[3:]}/"
    )
    assert anna_reason == (
        f"a person already answered from @brewly@{world.mastodon.host}: "
        f"{world.mastodon.status_json(toot)['url']}"
    )
    assert world.reddit.comments_by(REDDIT_ACCOUNT) == [by_hand] and world.mastodon.posted == []


def test_a_private_message_about_one_post_is_not_taken_for_a_persons_answer_to_another(
    fakes: tuple[FakeReddit, FakeMastodon],
    write_config: Callable[..., Path],
    tmp_path: Path,
    db_url: str,
) -> None:
    limits = {"per_author": {"count": 5, "minutes": 60}}
    world = make_world(*fakes, write_config, tmp_path, db_url=db_url, engagement={"limits": limits})
    first = world.reddit.submit("brewly", author="Grumpy_Gus", title="Brewly broke", selftext=ANGRY)
    second = world.reddit.submit(
        "brewly", author="Grumpy_Gus", title="Brewly again", selftext=ANGRY
    )
    daemon = Daemon(world.settings())
    try:
        daemon.start()
        with daemon.db.transaction() as session:
            import_customers(session, world.customers)
        daemon.run_cycle()
        in_private = draft(daemon, first, template="move-to-private")
        approve(daemon, in_private)
        assert send_replies(daemon.context) == 1
        # Reddit lists that message among the account's messages to Gus since his second
        # post was written; it is ours, so the reply to that post still goes.
        (to_second,) = drafts_for(daemon, second)
        approve(daemon, to_second)
        assert send_replies(daemon.context) == 1
        assert detail(daemon, to_second).summary.status == "sent"
        assert len(world.reddit.messages) == 1
        assert len(world.reddit.comments_by(REDDIT_ACCOUNT)) == 1
    finally:
        daemon.close()


# -- our words, as each network gives them back --------------------------------------------------

TEXTS = [
    "Sorry, Gus & co! <3 See https://brewly.example/help/a-very-long-path-to-the-answer?x=1 "
    "#Brewly\n\n" + FOOTER,
    "Thanks @anna@mastodon.nl, and @bob@fosstodon.org too!\nA second line.\n\n" + FOOTER,
    "Plain words,   spaced\n\n\n\nand far apart",
]


@pytest.mark.parametrize("text", TEXTS)
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # no storage involved
def test_the_networks_copy_of_a_reply_is_recognised_as_ours(
    world: World, daemon: Daemon, text: str
) -> None:
    """A retry after a crash finds its post by its words: the network's rendering of them
    (Reddit's entities, Mastodon's HTML, links, mentions) must read as the same words."""
    gus = world.reddit.submit("brewly", author="Grumpy_Gus", title="Brewly broke", selftext=ANGRY)
    anna = world.mastodon.post("anna@mastodon.nl", f"My #Brewly grinder: {ANGRY}")
    daemon.run_cycle()
    for native_id, network in ((gus, "reddit"), (anna, "mastodon")):
        reply_id = drafts_for(daemon, native_id)[0]
        with daemon.db.transaction() as session:
            target = outgoing(session.get(Reply, reply_id)).target
        connector = daemon.context.connectors[network]
        posted = connector.reply(Outgoing(target=target, text=text, idempotency_key=network))
        (found,) = connector.inspect(target).account_replies
        assert same_text(posted.text, text) and same_text(found.text, text), (network, found)
        assert not same_text(found.text, text.replace(",", ";", 1))


def test_a_reply_on_a_network_whose_connector_only_listens_says_why_it_waits(
    fakes: tuple[FakeReddit, FakeMastodon],
    write_config: Callable[..., Path],
    tmp_path: Path,
    db_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    world = make_world(*fakes, write_config, tmp_path, db_url=db_url, reddit_login=False)
    gus = world.reddit.submit("brewly", author="Grumpy_Gus", title="Brewly broke", selftext=ANGRY)
    daemon = Daemon(world.settings())
    try:
        daemon.run_cycle()
        reply_id = draft(daemon, gus, situation="apology")
        approve(daemon, reply_id)
        with caplog.at_level("WARNING", logger="social_crm.engagement.sending"):
            assert send_replies(daemon.context) == 0
            assert send_replies(daemon.context) == 0
        reason = (
            "the reddit connector cannot reply: reddit reply: replying needs the account's "
            "username and password (a script app) in the reddit connector's settings"
        )
        held = detail(daemon, reply_id).summary
        assert (held.status, held.reason) == ("approved", reason)
        assert caplog.messages == [f"reply {reply_id} waits: {reason}"]  # once, not every pass
        assert world.posts() == (0, 0)
    finally:
        daemon.close()


def test_a_reply_to_a_comment_in_a_thread_answers_that_comment(
    world: World, daemon: Daemon
) -> None:
    gus = world.reddit.submit("brewly", author="Grumpy_Gus", title="Brewly broke", selftext=ANGRY)
    lisa = world.reddit.comment(gus, author="latte_lisa", body="Same here, my Brewly leaks.")
    bobs = world.mastodon.post("bob@fosstodon.org", "Is the #Brewly grinder any good?")
    annas = world.mastodon.post(
        "anna@mastodon.nl", "@bob@fosstodon.org mine broke, #Brewly is awful", in_reply_to=bobs
    )
    daemon.run_cycle()
    to_lisa = draft(daemon, lisa, text="Sorry, Lisa! A new seal is on its way.")
    to_anna = draft(daemon, annas, text="Sorry, Anna! We will replace it.")
    approve(daemon, to_lisa)
    approve(daemon, to_anna)
    assert send_replies(daemon.context) == 2

    (under_gus,) = thread_comments(world, gus)  # Lisa's comment, with our answer below it
    (answer,) = [c["data"] for c in under_gus["replies"]["data"]["children"]]
    assert (answer["author"], answer["parent_id"], answer["name"]) == (
        REDDIT_ACCOUNT,
        lisa,
        detail(daemon, to_lisa).summary.posted_id,
    )
    (local_id,) = world.mastodon.posted
    status = world.mastodon.status_json(local_id)
    assert status["in_reply_to_id"] == annas
    assert [m["acct"] for m in status["mentions"]] == ["anna@mastodon.nl"]
    assert [s["id"] for s in status_context(world, bobs)] == [annas, local_id]


@pytest.mark.parametrize(
    ("accounts", "network", "handle", "own"),
    [
        ({"reddit": "u/Brewly_Official"}, "reddit", "brewly_official", True),
        ({"reddit": "brewly_official"}, "reddit", "brewly_fan", False),
        ({"reddit": "brewly"}, "mastodon", "brewly@mastodon.social", False),  # another network
        ({"mastodon": "brewly"}, "mastodon", "brewly@127.0.0.1:8702", True),
        ({"mastodon": "@Brewly@mastodon.social"}, "mastodon", "brewly@mastodon.social", True),
        ({"mastodon": "@brewly@mastodon.social"}, "mastodon", "brewly@fosstodon.org", False),
    ],
)
def test_the_brands_own_accounts_are_told_by_network_and_instance(
    accounts: dict[str, str], network: str, handle: str, own: bool
) -> None:
    brand = Brand.model_validate({"name": "Brewly", "accounts": accounts})
    assert brand.owns(network, handle) is own
