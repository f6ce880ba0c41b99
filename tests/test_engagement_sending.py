"""Sending replies: only approved ones, once, within limits, never to people who said no."""

from __future__ import annotations

import dataclasses
import logging
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from connectors.errors import AuthenticationError, RateLimitedError, TransientConnectorError
from social_crm.alerts.escalation import Routing
from social_crm.alerts.models import Alert
from social_crm.config import EngagementConfig
from social_crm.customers import contact
from social_crm.db import Database
from social_crm.engagement import lifecycle, service
from social_crm.engagement.models import Reply
from social_crm.engagement.sending import DRY_RUN, SendPass, preview, send_due
from social_crm.errors import InvalidTransition
from social_crm.jobs import JobContext
from social_crm.jobs.send_replies import send_replies
from social_crm.mentions.models import MentionRecord, SentimentRecord

from .escalation import escalate
from .factories import ANGRY, BRAND, ENGAGEMENT, HAPPY, POST_T0, link_customer, post, store
from .scripted_connector import ScriptedConnector, ScriptedSettings
from .scripted_replies import ProcessDied, ScriptedReplies

CONFIG = EngagementConfig.model_validate(ENGAGEMENT)
FOOTER = "Brewly support (replies are sent with social-crm)"
T = POST_T0 + timedelta(hours=1)


@pytest.fixture
def network() -> ScriptedReplies:
    return ScriptedReplies()


@pytest.fixture
def story(db: Database) -> None:
    """Anna, a customer, complains twice (one post followers-only); carl complains once."""
    store(
        db,
        (post("t3_a", author="anna", text="Broken again"), ANGRY),
        (
            dataclasses.replace(post("t3_b", author="anna", text="Still"), visibility="unlisted"),
            ANGRY,
        ),
        (post("t3_c", author="carl", text="Awful"), ANGRY),
        (post("t1_d", author="dirk", thread="t3_c", text="Same here"), ANGRY),
        (post("t3_e", author="emma", text="Love it"), HAPPY),
    )
    link_customer(db, "anna", name="Anna de Vries")
    escalate(db)


def approved(
    db: Database,
    native_id: str,
    *,
    situation: str = "apology",
    private: bool | None = None,
    resolve_alert: bool | None = None,
) -> int:
    """A reply to the mention ``native_id``, drafted and approved by maria; its id."""
    with db.transaction() as session:
        mention = session.scalar(
            select(MentionRecord.id).where(MentionRecord.native_id == native_id)
        )
        assert mention is not None
        reply = lifecycle.draft(
            session, mention, by="maria", config=CONFIG, situation=situation, private=private, now=T
        )
        lifecycle.approve(
            session, reply.id, by="maria", config=CONFIG, resolve_alert=resolve_alert, now=T
        )
        return reply.id


def reply(db: Database, reply_id: int) -> service.ReplyDetail:
    with db.transaction() as session:
        return service.get_reply(session, reply_id)


def send(db: Database, network: ScriptedReplies, at=T, config=CONFIG) -> SendPass:
    return send_due(db, {"reddit": network}, config, now=at)


def test_nothing_is_sent_without_approval(db: Database, story: None, network) -> None:
    with db.transaction() as session:
        mention = session.scalar(select(MentionRecord.id).where(MentionRecord.native_id == "t3_a"))
        draft = lifecycle.draft(session, mention, by="maria", config=CONFIG, situation="apology")
    assert send(db, network) == SendPass()
    assert network.posted == [] and network.inspected == []
    assert reply(db, draft.id).summary.status == "draft"


def test_an_approved_reply_is_posted_once_and_joins_the_alert_and_the_timeline(
    db: Database, story: None, network
) -> None:
    reply_id = approved(db, "t3_b", resolve_alert=True)
    assert send(db, network) == SendPass(sent=1)
    assert send(db, network, at=T + timedelta(hours=5)) == SendPass()  # never twice
    (outgoing,) = network.posted
    sent = reply(db, reply_id)
    assert outgoing.text == f"{sent.summary.text}\n\n{FOOTER}"
    assert outgoing.target.visibility == "unlisted"  # never more visible than the post
    assert (outgoing.target.native_id, outgoing.target.author_handle) == ("t3_b", "anna")
    assert outgoing.idempotency_key == sent.idempotency_key
    assert outgoing.idempotency_key.startswith(f"social-crm-reply-{reply_id}-")
    assert not outgoing.private
    assert sent.summary.status == "sent" and sent.summary.account == "u/brewly_support"
    assert sent.summary.posted_id == "t1_reply1"
    assert sent.outgoing_text == outgoing.text
    assert [step.action for step in sent.history] == [
        "drafted",
        "approved",
        "sending",
        "sent",
        "alert resolved",
    ]
    with db.transaction() as session:
        alert = session.get(Alert, sent.summary.alert_id)
        assert alert is not None
        assert (alert.status, alert.resolved_by) == ("resolved", "maria")
        assert alert.resolution == f"answered by reply {reply_id}: {sent.summary.posted_url}"
        answered = service.alert_replies(session, alert.id)
        assert [(r.id, r.status, r.posted_url) for r in answered] == [
            (reply_id, "sent", sent.summary.posted_url)
        ]
        timeline = service.customer_timeline(session, "C-1")
    (entry,) = [entry for entry in timeline.entries if entry.kind == "reply"]
    assert (entry.native_id, entry.url, entry.network) == (
        "t1_reply1",
        sent.summary.posted_url,
        "reddit",
    )
    assert entry.text == outgoing.text and entry.title == f"#{reply_id} sent by maria"


def test_moving_to_a_private_conversation_is_a_private_message_to_the_author(
    db: Database, story: None, network
) -> None:
    reply_id = approved(db, "t3_c", private=True)
    send(db, network)
    (outgoing,) = network.posted
    assert outgoing.private and outgoing.subject == "Your post about Brewly"
    assert outgoing.target.author_handle == "carl"
    assert reply(db, reply_id).visibility == "private, to carl only"


def test_a_dry_run_shows_what_where_and_as_whom_and_posts_nothing(
    db: Database, story: None, network, make_settings, caplog: pytest.LogCaptureFixture
) -> None:
    reply_id = approved(db, "t3_a")
    with db.transaction() as session:
        plan = preview(session, reply_id, CONFIG, account=network.reply_account(), now=T)
    assert plan.outgoing.text.endswith(f"\n\n{FOOTER}")
    assert plan.outgoing.text.startswith("Sorry, Anna de Vries!")
    assert (plan.target_url, plan.visibility) == (
        "https://www.reddit.com/t3_a",
        "public, as the post",
    )
    assert (plan.account, plan.holds) == ("u/brewly_support", None)
    # engagement.dry_run: the send job only logs.
    settings = make_settings(engagement={**ENGAGEMENT, "dry_run": True})
    ctx = JobContext(
        settings=settings,
        db=db,
        routing=Routing.single([]),
        connectors={"reddit": network},  # type: ignore[dict-item]
        now=lambda: T,
    )
    caplog.set_level(logging.INFO, logger="social_crm.engagement.sending")
    assert send_replies(ctx) == 0
    assert send_replies(ctx) == 0
    assert network.posted == [] and network.inspected == []
    logged = [r.getMessage() for r in caplog.records if "dry run" in r.getMessage()]
    assert len(logged) == 1  # once, not at every pass
    assert logged[0].startswith(
        f"dry run: reply {reply_id} would be posted as u/brewly_support on reddit "
        "to https://www.reddit.com/t3_a (public, as the post): 'Sorry, Anna de Vries!"
    )
    assert (reply(db, reply_id).summary.status, reply(db, reply_id).summary.reason) == (
        "approved",
        DRY_RUN,
    )
    # Without the switch, the same job posts it.
    ctx.settings = make_settings(engagement=ENGAGEMENT)
    assert send_replies(ctx) == 1 and len(network.posted) == 1


def test_a_limit_holds_a_reply_with_its_reason_and_the_time_it_can_go(
    db: Database, story: None, network
) -> None:
    first, second = approved(db, "t3_a"), approved(db, "t3_b")
    assert send(db, network) == SendPass(sent=1, waiting=1)
    held = reply(db, second).summary
    assert held.status == "approved"
    assert held.reason == "per-author limit: 1 reply per 60 min to anna"
    assert held.next_attempt_at == T + timedelta(minutes=60)
    assert reply(db, first).summary.status == "sent"
    assert send(db, network, at=T + timedelta(minutes=30)) == SendPass()
    assert send(db, network, at=T + timedelta(minutes=60)) == SendPass(sent=1)
    assert len(network.posted) == 2
    steps = [(s.action, s.note) for s in reply(db, second).history]
    assert (
        "waiting",
        f"per-author limit: 1 reply per 60 min to anna; can go at {T + timedelta(minutes=60):%Y-%m-%d %H:%M} UTC",
    ) in steps


def test_a_thread_gets_one_reply_per_ten_minutes(db: Database, story: None, network) -> None:
    approved(db, "t3_c")
    dirk = approved(db, "t1_d")
    assert send(db, network) == SendPass(sent=1, waiting=1)
    assert reply(db, dirk).summary.reason == "per-thread limit: 1 reply per 10 min in this thread"
    assert send(db, network, at=T + timedelta(minutes=10)) == SendPass(sent=1)


def opt_out(db: Database) -> None:
    from social_crm.ambassadors.review import review

    with db.transaction() as session:
        review(session, "reddit:anna", status="opted_out", by="maria")


def customer_says_no(db: Database) -> None:
    with db.transaction() as session:
        contact.set_customer(session, "C-1", do_not_contact=True, by="maria", now=T)


def author_says_no(db: Database) -> None:
    with db.transaction() as session:
        contact.set_author(session, "reddit:anna", do_not_contact=True, by="maria", now=T)


def deleted_here(db: Database) -> None:
    with db.transaction() as session:
        session.execute(
            update(MentionRecord).where(MentionRecord.native_id == "t3_a").values(deleted_at=T)
        )


@pytest.mark.parametrize(
    ("prepare", "reason"),
    [
        (opt_out, "reddit:anna opted out on "),
        (customer_says_no, "customer Anna de Vries is not to be contacted (since "),
        (author_says_no, "reddit:anna is not to be contacted (since "),
        (deleted_here, "the post was deleted by its author"),
    ],
)
def test_people_who_said_no_get_no_reply(
    db: Database, story: None, network, prepare, reason: str
) -> None:
    reply_id = approved(db, "t3_a")
    prepare(db)
    assert send(db, network) == SendPass(skipped=1)
    skipped = reply(db, reply_id).summary
    assert skipped.status == "skipped" and skipped.reason.startswith(reason), skipped.reason
    assert network.posted == [] and network.inspected == []  # decided without the network


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        ("deleted", "the post was deleted by its author"),
        ("removed", "the post was removed by moderators"),
        ("locked", "the thread is locked"),
        ("archived", "the thread is archived"),
    ],
)
def test_a_target_the_network_closed_is_skipped(
    db: Database, story: None, network, status: str, reason: str
) -> None:
    reply_id = approved(db, "t3_a")
    network.statuses["t3_a"] = status
    assert send(db, network) == SendPass(skipped=1)
    assert (reply(db, reply_id).summary.status, reply(db, reply_id).summary.reason) == (
        "skipped",
        reason,
    )
    assert network.posted == []


def test_a_thread_a_person_answered_by_hand_is_skipped(db: Database, story: None, network) -> None:
    first = approved(db, "t3_c")
    send(db, network)  # our own reply in the thread does not count as a person's
    by_hand = network.answer_by_hand("t3_c", "Hi Dirk, I'll call you. -- Maria")
    dirk = approved(db, "t1_d")
    assert send(db, network, at=T + timedelta(hours=1)) == SendPass(skipped=1)
    assert reply(db, first).summary.status == "sent"
    assert reply(db, dirk).summary.reason == (
        f"a person already answered from u/brewly_support: {by_hand.url}"
    )
    assert len(network.posted) == 1


def test_an_unknown_outcome_is_looked_up_before_any_retry_and_posted_once(
    db: Database, story: None, network
) -> None:
    reply_id = approved(db, "t3_a")
    network.after_posting.append(TransientConnectorError("connection reset"))
    assert send(db, network) == SendPass(failed=1)
    waiting = reply(db, reply_id).summary
    assert waiting.status == "approved" and "connection reset" in (waiting.reason or "")
    # Its words may be on the network: they cannot change before it is looked up.
    with db.transaction() as session, pytest.raises(InvalidTransition, match="may be on the"):
        lifecycle.edit(session, reply_id, text="Other words", by="maria")
    assert send(db, network, at=T + timedelta(hours=2)) == SendPass(sent=1)
    assert len(network.posted) == 1  # found, not posted again
    done = reply(db, reply_id)
    assert done.summary.status == "sent" and done.summary.posted_id == "t1_reply1"
    assert [s.action for s in done.history][-2:] == ["sending", "recorded"]


def test_a_process_that_dies_between_posting_and_recording_never_posts_again(
    db: Database, story: None, network
) -> None:
    reply_id = approved(db, "t3_a")
    network.after_posting.append(ProcessDied())
    with pytest.raises(ProcessDied):
        send(db, network)
    # What the dead process left: the reply marked sending, committed before it posted.
    left = reply(db, reply_id)
    assert left.summary.status == "sending" and left.attempts == 1
    assert send(db, network, at=T + timedelta(minutes=1)) == SendPass()  # its lease holds
    after_lease = T + timedelta(seconds=CONFIG.lease_seconds + 1)
    assert send(db, network, at=after_lease) == SendPass(sent=1)
    assert len(network.posted) == 1
    done = reply(db, reply_id)
    assert done.summary.status == "sent" and done.attempts == 2
    assert done.history[-1].action == "recorded"
    assert done.history[-1].note.startswith("found already posted: https://")


def test_a_reply_that_never_reached_the_network_is_posted_on_retry(
    db: Database, story: None, network
) -> None:
    reply_id = approved(db, "t3_a")
    network.failures.append(RateLimitedError("slow down", retry_after=120))
    assert send(db, network) == SendPass(failed=1)
    assert reply(db, reply_id).summary.next_attempt_at == T + timedelta(seconds=120)
    assert send(db, network, at=T + timedelta(seconds=121)) == SendPass(sent=1)
    assert len(network.posted) == 1


def test_refused_credentials_fail_at_once_and_a_person_can_send_it_again(
    db: Database, story: None, network
) -> None:
    reply_id = approved(db, "t3_a")
    network.failures.append(AuthenticationError("invalid_grant"))
    send(db, network)
    failed = reply(db, reply_id).summary
    assert failed.status == "failed"
    assert failed.reason == "the network refused the credentials: invalid_grant"
    with db.transaction() as session:
        lifecycle.queue(session, reply_id, by="maria", now=T + timedelta(hours=1))
    assert send(db, network, at=T + timedelta(hours=1)) == SendPass(sent=1)


def test_transient_failures_are_retried_then_given_up_on(
    db: Database, story: None, network
) -> None:
    config = CONFIG.model_copy(update={"max_attempts": 2})
    reply_id = approved(db, "t3_a")
    network.failures += [TransientConnectorError("503"), TransientConnectorError("503 again")]
    send(db, network, config=config)
    assert reply(db, reply_id).summary.status == "approved"
    send(db, network, at=T + timedelta(hours=1), config=config)
    given_up = reply(db, reply_id).summary
    assert (given_up.status, given_up.reason) == ("failed", "gave up after 2 attempts: 503 again")
    assert network.posted == []


def test_an_automatic_reply_to_a_mention_now_negative_waits_for_a_person(
    db: Database, story: None, network
) -> None:
    from social_crm.engagement.proposals import propose_pending

    with db.transaction() as session:
        (thanks,) = [r.id for r in propose_pending(session, CONFIG, [], now=T) if r.auto_send]
        emma = session.scalar(select(MentionRecord.id).where(MentionRecord.native_id == "t3_e"))
        session.execute(
            update(SentimentRecord)
            .where(SentimentRecord.mention_id == emma)
            .values(label="negative")
        )
    with db.transaction() as session:
        for other in session.scalars(select(Reply).where(Reply.id != thanks)):
            lifecycle.reject(session, other.id, by="maria")
    assert send(db, network) == SendPass()
    back = reply(db, thanks).summary
    assert back.status == "draft" and back.approved_by is None
    assert back.reason == "the mention is negative: automatic sending refused, a person approves it"
    assert network.posted == []


def test_two_send_jobs_at_once_post_each_reply_once_and_keep_the_limits(
    db: Database, db_url: str, story: None
) -> None:
    network = ScriptedReplies(delay=0.3)
    anna_first, anna_again, carl = approved(db, "t3_a"), approved(db, "t3_b"), approved(db, "t3_c")
    start = threading.Barrier(2)
    passes: list[SendPass] = []

    def daemon() -> None:
        # Each daemon has its own engine and connections, taking SQLite's write lock as a
        # transaction begins, as `social-crm run` does.
        own = Database(db_url, immediate=True)
        start.wait()
        passes.append(send_due(own, {"reddit": network}, CONFIG, now=T))
        own.close()

    workers = [threading.Thread(target=daemon) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sum(p.sent for p in passes) == 2 and sum(p.failed for p in passes) == 0
    assert sorted(o.target.native_id for o in network.posted) == ["t3_a", "t3_c"]
    assert [reply(db, i).summary.status for i in (anna_first, anna_again, carl)] == [
        "sent",
        "approved",  # the per-author limit held, though two jobs claimed at once
        "sent",
    ]


class ListeningAndReplying(ScriptedConnector):
    """A scripted network the daemon both reads mentions from and answers on."""

    def __init__(self, settings: ScriptedSettings, *, watches) -> None:
        super().__init__(settings, watches=watches)
        self.replies = ScriptedReplies(network=self.network, account="@brewly@scripted")

    def reply_account(self) -> str:
        return self.replies.reply_account()

    def inspect(self, target):
        return self.replies.inspect(target)

    def reply(self, outgoing):
        return self.replies.reply(outgoing)


def test_the_daemon_proposes_and_sends_only_what_may_go_without_a_person(make_settings) -> None:
    from sentiment.lexicon import LexiconClassifier
    from social_crm.config import Brand
    from social_crm.daemon import Daemon

    settings = make_settings(engagement=ENGAGEMENT)
    connector = ListeningAndReplying(
        ScriptedSettings(), watches=[Brand.model_validate(BRAND).watch()]
    )
    connector.post("fan", "I love my Brewly, it is wonderful!")
    connector.post("grumpy", "Why is my Brewly so awful? I hate it.")
    daemon = Daemon(
        settings, classifier=LexiconClassifier(), connectors={"scripted": connector}, notifiers={}
    )
    daemon.run_cycle()
    daemon.run_cycle()
    # The praise got its automatic thanks, once; the angry question waits for a person.
    (thanks,) = connector.replies.posted
    assert thanks.text.startswith("Thank you, fan, that made our day at Brewly!")
    assert thanks.target.author_handle == "fan"
    with daemon.db.transaction() as session:
        listed = {r.handle: r.status for r in service.list_replies(session)}
    assert listed == {"fan": "sent", "grumpy": "draft"}
    daemon.close()
