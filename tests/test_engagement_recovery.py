"""Did replying help? Answered negative conversations whose author later spoke well of us."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from social_crm.config import EngagementConfig
from social_crm.db import Database
from social_crm.engagement import lifecycle
from social_crm.engagement.recovery import Outcome, recovery_report
from social_crm.engagement.sending import send_due
from social_crm.mentions.models import MentionRecord

from .escalation import escalate
from .factories import ANGRY, ENGAGEMENT, HAPPY, POST_T0, link_customer, post, store
from .scripted_replies import ScriptedReplies

CONFIG = EngagementConfig.model_validate(ENGAGEMENT)
T = POST_T0 + timedelta(hours=1)
NEUTRAL = {"label": "neutral", "negative": 0.1, "neutral": 0.8, "positive": 0.1}


def answer(db: Database, native_id: str, *, by: str, situation: str = "apology") -> None:
    """Draft, approve (as ``by``) and send a reply to the mention ``native_id``."""
    with db.transaction() as session:
        mention = session.scalar(
            select(MentionRecord.id).where(MentionRecord.native_id == native_id)
        )
        assert mention is not None
        reply = lifecycle.draft(session, mention, by=by, config=CONFIG, situation=situation)
        lifecycle.approve(session, reply.id, by=by, config=CONFIG, now=T)
    assert send_due(db, {"reddit": ScriptedReplies()}, CONFIG, now=T).sent == 1


def test_the_recovery_rate_of_answered_negative_conversations(db: Database) -> None:
    store(
        db,
        (post("t3_a", author="anna", text="Broken"), ANGRY),
        (post("t3_c", author="carl", text="Awful"), ANGRY),
        (post("t3_e", author="emma", text="Love it"), HAPPY),
        (post("t3_z", author="zoe", text="Terrible"), ANGRY),  # never answered
    )
    link_customer(db, "anna", name="Anna de Vries")
    escalate(db)
    answer(db, "t3_a", by="maria")
    answer(db, "t3_c", by="joost", situation="answer")
    answer(db, "t3_e", by="maria", situation="thanks")
    # Three days later Anna speaks well of Brewly; carl says nothing more.
    store(
        db,
        (post("t3_a2", author="anna", text="Works now", created_at=T + timedelta(days=3)), HAPPY),
        (post("t3_z2", author="zoe", text="Fine", created_at=T + timedelta(days=3)), NEUTRAL),
    )
    with db.transaction() as session:
        open_window = recovery_report(session, window_days=14, now=T + timedelta(days=5))
        closed = recovery_report(session, window_days=14, now=T + timedelta(days=15))
    assert open_window.answered == 3  # praise answered too, but only complaints can recover
    total = open_window.total
    assert (total.answered, total.recovered, total.not_recovered, total.pending) == (2, 1, 0, 1)
    assert total.rate == 1.0  # pending is not a failure
    by_outcome = {c.handle: c.outcome for c in open_window.conversations}
    assert by_outcome == {"anna": Outcome.RECOVERED, "carl": Outcome.PENDING}
    total = closed.total
    assert (total.recovered, total.not_recovered, total.pending) == (1, 1, 0)
    assert total.rate == 0.5
    assert [(r.group, r.recovered, r.not_recovered) for r in closed.by_responder] == [
        ("joost", 0, 1),
        ("maria", 1, 0),
    ]
    assert [(r.group, r.rate) for r in closed.by_template] == [
        ("answer-en", 0.0),
        ("apology-en", 1.0),
    ]
    assert [(r.group, r.answered, r.rate) for r in closed.by_brand] == [("Brewly", 2, 0.5)]


def test_a_positive_mention_after_the_window_does_not_count(db: Database) -> None:
    store(db, (post("t3_a", author="anna", text="Broken"), ANGRY))
    escalate(db)
    answer(db, "t3_a", by="maria")
    store(db, (post("t3_b", author="anna", text="OK", created_at=T + timedelta(days=20)), HAPPY))
    with db.transaction() as session:
        report = recovery_report(session, window_days=14, now=T + timedelta(days=30))
    assert report.total.not_recovered == 1 and report.total.rate == 0.0
