"""Replies as people read them: plain read models for the command line and the web app."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from social_crm.alerts.models import Alert
from social_crm.config import EngagementConfig, ReplyTemplate
from social_crm.customers import timeline
from social_crm.engagement.enums import ReplyStatus
from social_crm.engagement.models import Reply
from social_crm.engagement.sending import visibility
from social_crm.engagement.templates import base_language
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
    customer_key: str | None = None  # their customer's CRM id, which finds their page
    outgoing_text: str | None = None  # exactly what was (or is being) posted, footer included


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
    status: ReplyStatus | str | Collection[str] | None = None,
    brand: str | None = None,
    network: str | None = None,
    before_id: int | None = None,
    limit: int | None = 50,
) -> list[ReplySummary]:
    """Replies, newest first, filtered by status (one or several), brand and network;
    ``before_id``: only those older than that reply (the next page of a list)."""
    query = select(Reply).options(*_loaded()).order_by(Reply.id.desc())
    if isinstance(status, str):
        query = query.where(Reply.status == status)
    elif status:
        query = query.where(Reply.status.in_(list(status)))
    if brand:
        query = query.where(Reply.brand == brand)
    if network:
        query = query.where(Reply.network == network)
    if before_id is not None:
        query = query.where(Reply.id < before_id)
    if limit:
        query = query.limit(limit)
    return [summary(reply) for reply in session.scalars(query).unique()]


@dataclass(frozen=True, slots=True)
class ReplyFacets:
    """What the replies can be filtered by, and how many there are in each status."""

    brands: tuple[str, ...]
    networks: tuple[str, ...]
    counts: dict[str, int]  # status -> replies in it


def reply_facets(
    session: Session, *, brand: str | None = None, network: str | None = None
) -> ReplyFacets:
    """The brands and networks replies exist for, and the count per status of those that
    match ``brand`` and ``network``."""
    counted = select(Reply.status, func.count()).group_by(Reply.status)
    if brand:
        counted = counted.where(Reply.brand == brand)
    if network:
        counted = counted.where(Reply.network == network)
    return ReplyFacets(
        brands=tuple(session.scalars(select(Reply.brand).distinct().order_by(Reply.brand))),
        networks=tuple(session.scalars(select(Reply.network).distinct().order_by(Reply.network))),
        counts={status: count for status, count in session.execute(counted).all()},
    )


@dataclass(frozen=True, slots=True)
class DraftOptions:
    """How a reply to an alert can start: the mention it answers and the templates that fit."""

    alert_id: int
    mention_id: int
    brand: str
    language: str | None  # the post's language, when known
    templates: tuple[ReplyTemplate, ...]  # the brand's, those in the post's language first


def draft_options(session: Session, alert_id: int, config: EngagementConfig) -> DraftOptions | None:
    """The templates a reply to the alert's first mention may start from; None when the
    alert is about no mention (a source's health, say). NotFound when there is no alert."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    mention = session.get(MentionRecord, alert.first_mention_id) if alert.first_mention_id else None
    if mention is None:
        return None
    language = base_language(mention.language)
    fitting = [t for t in config.templates if t.brand == mention.brand]
    fitting.sort(key=lambda t: (t.language != language, t.situation, t.name))
    return DraftOptions(
        alert_id=alert.id,
        mention_id=mention.id,
        brand=mention.brand,
        language=mention.language,
        templates=tuple(fitting),
    )


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
        customer_key=customer.external_id if customer is not None else None,
        outgoing_text=reply.outgoing_text,
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
