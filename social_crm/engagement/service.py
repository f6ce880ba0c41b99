"""Replies as people read them: plain read models for the command line and the web app."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from social_crm.customers import timeline
from social_crm.engagement.enums import ReplyStatus
from social_crm.engagement.models import Reply
from social_crm.engagement.sending import visibility
from social_crm.errors import NotFound
from social_crm.mentions.models import AuthorRecord, MentionRecord


@dataclass(frozen=True, slots=True)
class ReplySummary:
    """One reply in a list: to whom, what it says, where it is, and what holds it."""

    id: int
    status: str
    brand: str
    network: str
    handle: str  # the author of the mention it answers
    customer: str | None  # their customer's name, when linked
    mention_id: int
    mention_at: datetime
    mention_text: str
    mention_url: str
    alert_id: int | None
    template: str | None  # None: a person's own text
    situation: str
    language: str
    private: bool
    text: str
    created_by: str
    created_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    reason: str | None  # why it waits, was skipped or failed
    next_attempt_at: datetime | None  # approved: not before then
    sent_at: datetime | None
    posted_url: str | None
    posted_id: str | None
    account: str | None  # posted (or being posted) as


@dataclass(frozen=True, slots=True)
class ReplyStep:
    """One step of a reply's history."""

    at: datetime
    by: str
    action: str
    note: str | None


@dataclass(frozen=True, slots=True)
class ReplyDetail:
    """Everything about one reply: its mention, every decision, its sending and history."""

    summary: ReplySummary
    mention_label: str | None
    visibility: str  # who will see it (or saw it)
    subject: str | None  # a private message's subject
    rule: str | None  # the rule that proposed it
    edited_by: str | None
    edited_at: datetime | None
    rejected_by: str | None
    rejected_at: datetime | None
    auto_send: bool
    resolve_alert: bool
    attempts: int
    idempotency_key: str
    outgoing_text: str | None  # exactly what was (or is being) posted, footer included
    history: tuple[ReplyStep, ...]


def _loaded() -> list[Any]:
    """Load options for everything the read models show, in the same query."""
    return [
        joinedload(Reply.mention).joinedload(MentionRecord.sentiment),
        joinedload(Reply.author).joinedload(AuthorRecord.customer),
        joinedload(Reply.mention).joinedload(MentionRecord.author),
    ]


def list_replies(
    session: Session,
    *,
    status: ReplyStatus | str | None = None,
    brand: str | None = None,
    limit: int | None = 50,
) -> list[ReplySummary]:
    """Replies, newest first, filtered by status and brand."""
    query = select(Reply).options(*_loaded()).order_by(Reply.id.desc())
    if status:
        query = query.where(Reply.status == status)
    if brand:
        query = query.where(Reply.brand == brand)
    if limit:
        query = query.limit(limit)
    return [summary(reply) for reply in session.scalars(query).unique()]


def get_reply(session: Session, reply_id: int) -> ReplyDetail:
    """One reply in full; NotFound when there is none."""
    reply = (
        session.scalars(select(Reply).where(Reply.id == reply_id).options(*_loaded()))
        .unique()
        .first()
    )
    if reply is None:
        raise NotFound(f"no reply with id {reply_id}")
    sentiment = reply.mention.sentiment
    return ReplyDetail(
        summary=summary(reply),
        mention_label=sentiment.label if sentiment else None,
        visibility=visibility(reply),
        subject=reply.subject if reply.private else None,
        rule=reply.rule,
        edited_by=reply.edited_by,
        edited_at=reply.edited_at,
        rejected_by=reply.rejected_by,
        rejected_at=reply.rejected_at,
        auto_send=reply.auto_send,
        resolve_alert=reply.resolve_alert,
        attempts=reply.attempts,
        idempotency_key=reply.idempotency_key,
        outgoing_text=reply.outgoing_text,
        history=tuple(ReplyStep(e.at, e.by, e.action, e.note) for e in reply.events),
    )


def alert_replies(session: Session, alert_id: int) -> tuple[ReplySummary, ...]:
    """The replies that answer an alert, oldest first."""
    query = select(Reply).where(Reply.alert_id == alert_id).options(*_loaded()).order_by(Reply.id)
    return tuple(summary(reply) for reply in session.scalars(query).unique())


def summary(reply: Reply) -> ReplySummary:
    """The list view of a loaded reply."""
    customer = reply.author.customer
    return ReplySummary(
        id=reply.id,
        status=reply.status,
        brand=reply.brand,
        network=reply.network,
        handle=reply.author.handle,
        customer=customer.name if customer is not None else None,
        mention_id=reply.mention_id,
        mention_at=reply.mention.created_at,
        mention_text="(deleted)" if reply.mention.deleted_at else reply.mention.text,
        mention_url=reply.mention.url,
        alert_id=reply.alert_id,
        template=reply.template,
        situation=reply.situation,
        language=reply.language,
        private=reply.private,
        text=reply.text,
        created_by=reply.created_by,
        created_at=reply.created_at,
        approved_by=reply.approved_by,
        approved_at=reply.approved_at,
        reason=reply.reason,
        next_attempt_at=reply.next_attempt_at,
        sent_at=reply.sent_at,
        posted_url=reply.posted_url,
        posted_id=reply.posted_id,
        account=reply.account,
    )


def reply_entries(session: Session, author_ids: Sequence[int]) -> Iterable[timeline.TimelineEntry]:
    """An entry per reply sent to one of the authors, for their customer's timeline."""
    if not author_ids:
        return
    for reply in session.scalars(
        select(Reply).where(Reply.author_id.in_(author_ids), Reply.status == ReplyStatus.SENT)
    ):
        assert reply.sent_at is not None
        yield timeline.TimelineEntry(
            "reply",
            reply.sent_at,
            reply.network,
            f"#{reply.id} sent by {reply.approved_by}",
            reply.outgoing_text or reply.text,
            reply.posted_url or "",
            native_id=reply.posted_id or "",
        )


def customer_timeline(
    session: Session, key: str, *, weeks: int = 8, now: datetime | None = None
) -> timeline.Timeline:
    """A customer's timeline with the replies sent to them among its entries."""
    return timeline.customer_timeline(
        session, key, weeks=weeks, now=now, contributions=(reply_entries,)
    )
