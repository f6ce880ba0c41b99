"""Alerts as people read them: plain read models for the command line and the JSON API."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from social_crm.alerts.enums import AlertKind
from social_crm.alerts.models import Alert
from social_crm.delivery.models import Delivery
from social_crm.errors import NotFound
from social_crm.mentions.models import AuthorRecord, MentionRecord


@dataclass(frozen=True, slots=True)
class CustomerBrief:
    """The customer an author is linked to, as an alert shows it."""

    name: str
    tier: str | None
    external_id: str = ""  # the CRM's id, which finds the customer's timeline


@dataclass(frozen=True, slots=True)
class AlertMention:
    """A mention an alert points at, with its author and the author's customer."""

    id: int
    network: str
    handle: str
    text: str
    url: str
    created_at: datetime
    customer: CustomerBrief | None
    visibility: str = "public"  # who may see it: public, unlisted, private, direct
    # What became of it since the alert opened: "deleted", "edited, now positive", or None.
    change: str | None = None
    label: str | None = None  # its sentiment label, once classified
    deleted: bool = False  # the network says it was deleted
    display_name: str = ""  # the author's name as their profile shows it
    author_url: str = ""  # the author's profile


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    """One delivery of an alert to a channel at an escalation level."""

    channel: str
    level: int
    status: str
    attempts: int
    sent_at: datetime | None
    last_error: str | None
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Reopens:
    """The resolved alert of the same conversation that a new alert follows."""

    alert_id: int
    resolved_at: datetime | None
    resolved_by: str | None


@dataclass(frozen=True, slots=True)
class TopPost:
    """One of the most-read posts behind a crisis alert."""

    author: str
    reach: int | None
    url: str


@dataclass(frozen=True, slots=True)
class AlertNoteView:
    """A note a person left on an alert."""

    id: int
    author: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AlertSummary:
    """One alert in a list: what, how urgent, who said it, where it was sent."""

    id: int
    kind: str
    severity: str
    status: str
    brand: str
    reason: str
    mention_count: int
    level: int
    assignee: str | None
    opened_at: datetime
    first_mention: AlertMention | None
    deliveries: tuple[AlertDelivery, ...]


@dataclass(frozen=True, slots=True)
class AlertDetail:
    """Everything about one alert: rule, lifecycle, mentions, earlier alert and deliveries."""

    summary: AlertSummary
    rule: str | None
    escalated_at: datetime | None
    sla_due_at: datetime | None
    assigned_at: datetime | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    resolved_at: datetime | None
    resolved_by: str | None
    last_mention: AlertMention | None
    reopens: Reopens | None
    top_posts: tuple[TopPost, ...]
    # A mention alert's conversation, oldest first: its thread from the first mention until
    # the thread's next alert, and the mentions the alert points at (an author's other posts
    # that it gathered within the cooldown). Empty for crisis and health alerts.
    mentions: tuple[AlertMention, ...] = ()
    notes: tuple[AlertNoteView, ...] = ()  # oldest first
    reopened_at: datetime | None = None  # the last time a person reopened it
    reopened_by: str | None = None


@dataclass(frozen=True, slots=True)
class AlertFacets:
    """The values alerts can be filtered by."""

    brands: tuple[str, ...]
    networks: tuple[str, ...]
    assignees: tuple[str, ...]


# The assignee filter's value for alerts nobody is assigned to.
UNASSIGNED = "-"


def _loaded() -> list[Any]:
    """Load options for everything the read models show, in the same query."""
    return [
        joinedload(Alert.first_mention)
        .joinedload(MentionRecord.author)
        .joinedload(AuthorRecord.customer),
        joinedload(Alert.first_mention).joinedload(MentionRecord.sentiment),
        joinedload(Alert.last_mention)
        .joinedload(MentionRecord.author)
        .joinedload(AuthorRecord.customer),
        joinedload(Alert.last_mention).joinedload(MentionRecord.sentiment),
        joinedload(Alert.deliveries),
    ]


def list_alerts(
    session: Session,
    *,
    status: str | Collection[str] | None = None,
    severity: str | None = None,
    kind: str | None = None,
    brand: str | None = None,
    network: str | None = None,
    assignee: str | None = None,
    before_id: int | None = None,
    limit: int | None = None,
) -> list[AlertSummary]:
    """Alerts, newest first, filtered by status (one or several), severity, kind, brand,
    the network of their first mention and assignee (``UNASSIGNED`` for none); only those
    older than ``before_id`` when given, to page through them."""
    query = select(Alert).options(*_loaded()).order_by(Alert.id.desc())
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        query = query.where(Alert.status.in_(statuses))
    if severity:
        query = query.where(Alert.severity == severity)
    if kind:
        query = query.where(Alert.kind == kind)
    if brand:
        query = query.where(Alert.brand == brand)
    if network:
        query = query.where(
            Alert.first_mention_id.in_(
                select(MentionRecord.id).where(MentionRecord.network == network)
            )
        )
    if assignee == UNASSIGNED:
        query = query.where(Alert.assignee.is_(None))
    elif assignee:
        query = query.where(Alert.assignee == assignee)
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    if limit:
        query = query.limit(limit)
    return [_summary(alert) for alert in session.scalars(query).unique()]


def alert_facets(session: Session) -> AlertFacets:
    """The brands, networks and assignees that alerts have, to filter by."""
    brands = session.scalars(select(Alert.brand).distinct().order_by(Alert.brand))
    assignees = session.scalars(
        select(Alert.assignee)
        .where(Alert.assignee.is_not(None))
        .distinct()
        .order_by(Alert.assignee)
    )
    networks = session.scalars(
        select(MentionRecord.network)
        .where(MentionRecord.id.in_(select(Alert.first_mention_id)))
        .distinct()
        .order_by(MentionRecord.network)
    )
    return AlertFacets(tuple(brands), tuple(networks), tuple(a for a in assignees if a))


def get_alert(session: Session, alert_id: int) -> AlertDetail:
    """One alert in full; NotFound when there is none."""
    alert = (
        session.scalars(select(Alert).where(Alert.id == alert_id).options(*_loaded()))
        .unique()
        .first()
    )
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    details = alert.details or {}
    return AlertDetail(
        summary=_summary(alert),
        rule=alert.rule,
        escalated_at=alert.escalated_at,
        sla_due_at=alert.sla_due_at,
        assigned_at=alert.assigned_at,
        acknowledged_at=alert.acknowledged_at,
        acknowledged_by=alert.acknowledged_by,
        resolved_at=alert.resolved_at,
        resolved_by=alert.resolved_by,
        last_mention=_mention(alert.last_mention, opened_at=alert.opened_at),
        # Only mention alerts follow an earlier alert; crisis details are figures.
        reopens=_reopens(details) if alert.kind == "mention" else None,
        top_posts=tuple(
            TopPost(str(post.get("author")), post.get("reach"), str(post.get("url")))
            for post in details.get("top", [])
        ),
        mentions=_conversation(session, alert) if alert.kind == AlertKind.MENTION else (),
        notes=tuple(
            AlertNoteView(note.id, note.author, note.text, note.created_at) for note in alert.notes
        ),
        reopened_at=alert.reopened_at,
        reopened_by=alert.reopened_by,
    )


def _conversation(session: Session, alert: Alert) -> tuple[AlertMention, ...]:
    """The mentions of a mention alert's thread that belong to it, with first and last."""
    network, _, thread = alert.thread_key.partition(":")
    query = select(MentionRecord).where(
        MentionRecord.network == network, MentionRecord.thread_id == thread
    )
    if alert.first_mention is not None:
        query = query.where(MentionRecord.created_at >= alert.first_mention.created_at)
    following = session.scalar(
        select(Alert)
        .where(Alert.thread_key == alert.thread_key, Alert.id > alert.id)
        .order_by(Alert.id)
        .limit(1)
    )
    if following is not None and following.first_mention is not None:
        # From there on the thread's mentions are the next alert's.
        query = query.where(MentionRecord.created_at < following.first_mention.created_at)
    found = {
        mention.id: mention
        for mention in session.scalars(
            query.options(
                joinedload(MentionRecord.author).joinedload(AuthorRecord.customer),
                joinedload(MentionRecord.sentiment),
            )
        ).unique()
    }
    for mention in (alert.first_mention, alert.last_mention):
        if mention is not None:
            found.setdefault(mention.id, mention)
    ordered = sorted(found.values(), key=lambda mention: (mention.created_at, mention.id))
    return tuple(
        _mention(mention, opened_at=alert.opened_at) for mention in ordered if mention is not None
    )


def _summary(alert: Alert) -> AlertSummary:
    """The list view of a loaded alert."""
    return AlertSummary(
        id=alert.id,
        kind=alert.kind,
        severity=alert.severity,
        status=alert.status,
        brand=alert.brand,
        reason=alert.reason,
        mention_count=alert.mention_count,
        level=alert.level,
        assignee=alert.assignee,
        opened_at=alert.opened_at,
        first_mention=_mention(alert.first_mention, opened_at=alert.opened_at),
        deliveries=tuple(_delivery(delivery) for delivery in alert.deliveries),
    )


def _mention(mention: MentionRecord | None, *, opened_at: datetime) -> AlertMention | None:
    """The read model of a loaded mention, with its author's customer and what became of it."""
    if mention is None:
        return None
    customer = mention.author.customer
    return AlertMention(
        id=mention.id,
        network=mention.network,
        handle=mention.author.handle,
        text=mention.text,
        url=mention.url,
        created_at=mention.created_at,
        customer=CustomerBrief(customer.name, customer.tier, customer.external_id)
        if customer
        else None,
        visibility=mention.visibility,
        change=_change(mention, opened_at=opened_at),
        label=mention.sentiment.label if mention.sentiment else None,
        deleted=mention.deleted_at is not None,
        display_name=mention.author.display_name,
        author_url=mention.author.url,
    )


def _change(mention: MentionRecord, *, opened_at: datetime) -> str | None:
    """Whether the words an alert was raised for are gone or no longer negative."""
    if mention.deleted_at is not None:
        return "deleted"
    if mention.edited_at is None or mention.edited_at <= opened_at:
        return None
    label = mention.sentiment.label if mention.sentiment is not None else None
    if label is None:
        return "edited, not classified again yet"
    return None if label == "negative" else f"edited, now {label}"


def _delivery(delivery: Delivery) -> AlertDelivery:
    """The read model of one outbox row."""
    return AlertDelivery(
        channel=delivery.channel,
        level=delivery.level,
        status=delivery.status,
        attempts=delivery.attempts,
        sent_at=delivery.sent_at,
        last_error=delivery.last_error,
        idempotency_key=delivery.idempotency_key,
    )


def _reopens(details: dict[str, Any]) -> Reopens | None:
    """The earlier alert recorded in an alert's details, if it follows one."""
    if not details.get("reopens"):
        return None
    at = details.get("resolved_at")
    return Reopens(
        alert_id=details["reopens"],
        resolved_at=datetime.fromisoformat(at) if at else None,
        resolved_by=details.get("resolved_by"),
    )
