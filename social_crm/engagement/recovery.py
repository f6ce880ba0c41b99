"""Did replying help? The recovery rate of answered negative conversations.

A conversation is one author in one thread. Once the brand answered it (its first reply
sent), the author's next mentions of the brand are watched for
``engagement.recovery_window_days`` (any of their accounts, when they are a customer): a
negative conversation whose author posts something neutral or positive in that window has
**recovered**; one whose window closed without has not; one whose window is still open
is **pending**, counted apart and never as a failure. The rate is recovered / (recovered +
not recovered), per brand, per template and per responder (whoever approved the reply).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import computed_field
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from social_crm.db.base import utcnow
from social_crm.engagement.enums import ReplyStatus
from social_crm.engagement.models import Reply
from social_crm.mentions.models import AuthorRecord, MentionRecord, SentimentRecord

LOGGER = logging.getLogger(__name__)

# How a template-less reply is grouped.
OWN_TEXT = "(own text)"
# A conversation: one author in one thread of a network.
ConversationKey = tuple[str, str, int]  # network, thread id, author id


class Outcome(StrEnum):
    """What became of an answered negative conversation."""

    RECOVERED = "recovered"
    NOT_RECOVERED = "not recovered"
    PENDING = "pending"  # its window is still open


@dataclass(frozen=True, slots=True)
class Conversation:
    """An answered negative conversation and what became of it."""

    reply_id: int  # the first reply sent in it
    brand: str
    network: str
    handle: str
    template: str
    responder: str
    answered_at: datetime
    watched_until: datetime
    outcome: Outcome
    recovered_by: int | None  # the mention that showed it


@dataclass(frozen=True, slots=True)
class RecoveryRow:
    """The figures of one group: a brand, a template, a responder, or all."""

    group: str
    answered: int  # negative conversations answered
    recovered: int
    not_recovered: int
    pending: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rate(self) -> float | None:
        """Recovered among the conversations whose outcome is known; None when none is."""
        known = self.recovered + self.not_recovered
        return self.recovered / known if known else None


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """The recovery rate overall, per brand, per template and per responder."""

    window_days: float
    answered: int  # conversations answered, whatever their sentiment
    total: RecoveryRow
    by_brand: tuple[RecoveryRow, ...]
    by_template: tuple[RecoveryRow, ...]
    by_responder: tuple[RecoveryRow, ...]
    conversations: tuple[Conversation, ...]


def recovery_report(
    session: Session,
    *,
    window_days: float,
    brand: str | None = None,
    now: datetime | None = None,
) -> RecoveryReport:
    """Every conversation the brand answered, and which negative ones recovered."""
    now = now or utcnow()
    window = timedelta(days=window_days)
    first, negative = _answered(session, brand=brand)
    conversations = tuple(
        _follow(session, first[key], window=window, now=now) for key in first if key in negative
    )
    return RecoveryReport(
        window_days=window_days,
        answered=len(first),
        total=_row("all", conversations),
        by_brand=_grouped(conversations, lambda c: c.brand),
        by_template=_grouped(conversations, lambda c: c.template),
        by_responder=_grouped(conversations, lambda c: c.responder),
        conversations=conversations,
    )


def reply_outcomes(
    session: Session,
    reply_ids: Collection[int],
    *,
    window_days: float,
    now: datetime | None = None,
) -> dict[int, Conversation]:
    """What became of the negative conversation each sent reply of ``reply_ids`` answered,
    by reply id; a reply to a conversation that was not negative has no entry."""
    if not reply_ids:
        return {}
    now = now or utcnow()
    rows = session.execute(
        select(Reply.id, Reply.network, Reply.thread_id, Reply.author_id).where(
            Reply.id.in_(list(reply_ids)), Reply.status == ReplyStatus.SENT
        )
    ).all()
    keys = {reply_id: (network, thread, author) for reply_id, network, thread, author in rows}
    if not keys:
        return {}
    first, negative = _answered(session, keys=set(keys.values()))
    followed = {
        key: _follow(session, first[key], window=timedelta(days=window_days), now=now)
        for key in set(keys.values()) & negative
    }
    return {reply_id: followed[key] for reply_id, key in keys.items() if key in followed}


def _answered(
    session: Session,
    *,
    brand: str | None = None,
    keys: Collection[ConversationKey] | None = None,
) -> tuple[dict[ConversationKey, Reply], set[ConversationKey]]:
    """The first reply sent in each answered conversation (of ``brand``, or among ``keys``),
    and which of those conversations were negative."""
    query = (
        select(Reply)
        .where(Reply.status == ReplyStatus.SENT, Reply.sent_at.is_not(None))
        .options(
            joinedload(Reply.mention).joinedload(MentionRecord.sentiment),
            joinedload(Reply.author).joinedload(AuthorRecord.customer),
        )
        .order_by(Reply.sent_at, Reply.id)
    )
    if brand:
        query = query.where(Reply.brand == brand)
    if keys is not None:
        query = query.where(Reply.author_id.in_({author for _, _, author in keys}))
    first: dict[ConversationKey, Reply] = {}
    negative: set[ConversationKey] = set()
    for reply in session.scalars(query).unique():
        key = (reply.network, reply.thread_id, reply.author_id)
        if keys is not None and key not in keys:
            continue
        first.setdefault(key, reply)
        sentiment = reply.mention.sentiment
        if sentiment is not None and sentiment.label == "negative":
            negative.add(key)
    return first, negative


def _follow(session: Session, reply: Reply, *, window: timedelta, now: datetime) -> Conversation:
    """What the author of an answered negative conversation said next, within the window."""
    assert reply.sent_at is not None
    author = reply.author
    authors = [author.id]
    if author.customer_id is not None:
        authors = list(
            session.scalars(
                select(AuthorRecord.id).where(AuthorRecord.customer_id == author.customer_id)
            )
        )
    until = reply.sent_at + window
    later = session.scalar(
        select(MentionRecord.id)
        .join(SentimentRecord)
        .where(
            MentionRecord.author_id.in_(authors),
            MentionRecord.brand == reply.brand,
            MentionRecord.created_at > reply.sent_at,
            MentionRecord.created_at <= until,
            MentionRecord.deleted_at.is_(None),
            SentimentRecord.label.in_(("neutral", "positive")),
        )
        .order_by(MentionRecord.created_at)
        .limit(1)
    )
    if later is not None:
        outcome = Outcome.RECOVERED
    elif now < until:
        outcome = Outcome.PENDING
    else:
        outcome = Outcome.NOT_RECOVERED
    return Conversation(
        reply_id=reply.id,
        brand=reply.brand,
        network=reply.network,
        handle=author.handle,
        template=reply.template or OWN_TEXT,
        responder=reply.approved_by or "?",
        answered_at=reply.sent_at,
        watched_until=until,
        outcome=outcome,
        recovered_by=later,
    )


def _row(group: str, conversations: Iterable[Conversation]) -> RecoveryRow:
    """The figures of ``conversations`` as one group."""
    outcomes = [c.outcome for c in conversations]
    return RecoveryRow(
        group=group,
        answered=len(outcomes),
        recovered=outcomes.count(Outcome.RECOVERED),
        not_recovered=outcomes.count(Outcome.NOT_RECOVERED),
        pending=outcomes.count(Outcome.PENDING),
    )


def _grouped(
    conversations: tuple[Conversation, ...], key: Callable[[Conversation], str]
) -> tuple[RecoveryRow, ...]:
    """One row per value of ``key``, in name order."""
    names = sorted({key(c) for c in conversations})
    return tuple(_row(name, [c for c in conversations if key(c) == name]) for name in names)
