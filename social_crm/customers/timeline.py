"""A customer's timeline: who they are on each network, what they said, what it raised.

``customer_timeline`` returns a plain read model (no database records inside) that the
command line renders and the JSON API serialises.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from social_crm.alerts.escalation import thread_key
from social_crm.alerts.models import Alert
from social_crm.customers.models import Customer
from social_crm.db.base import utcnow
from social_crm.errors import NotFound
from social_crm.mentions.models import AuthorRecord, MentionRecord

SPARKS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One thing that happened: a mention, an alert (a reply, once replies exist)."""

    kind: str  # "mention", "alert"; the engagement workflow will add "reply"
    at: datetime
    network: str
    title: str  # e.g. the sentiment "positive 0.93", or the alert "#4 open"
    text: str
    url: str = ""
    alert_id: int | None = None  # the alert an "alert" entry stands for


@dataclass(frozen=True, slots=True)
class Week:
    """Sentiment of one week's mentions."""

    start: datetime
    positive: int
    neutral: int
    negative: int

    @property
    def total(self) -> int:
        """Mentions in the week."""
        return self.positive + self.neutral + self.negative

    @property
    def net(self) -> float | None:
        """(positive - negative) / total, -1 to 1; None for a week without mentions."""
        return (self.positive - self.negative) / self.total if self.total else None


@dataclass(frozen=True, slots=True)
class CustomerIdentity:
    """A handle the CRM gives for the customer on one network."""

    network: str
    handle: str
    source: str


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """Who the customer is in the CRM."""

    external_id: str
    name: str
    email: str | None
    tier: str | None
    status: str | None
    website: str | None
    opted_out_at: datetime | None
    identities: tuple[CustomerIdentity, ...]


@dataclass(frozen=True, slots=True)
class LinkedAuthor:
    """An author on a network linked to the customer, and why."""

    network: str
    handle: str
    linked_by: str | None
    linked_at: datetime | None
    evidence: tuple[str, ...]  # the kinds of evidence behind the link


@dataclass(frozen=True, slots=True)
class Timeline:
    """Everything known about one customer, newest first."""

    customer: CustomerProfile
    authors: tuple[LinkedAuthor, ...]
    entries: tuple[TimelineEntry, ...]
    weeks: tuple[Week, ...] = ()

    @property
    def sparkline(self) -> str:
        """The weekly net sentiment as one character per week, oldest first (· = silent)."""
        marks = []
        for week in self.weeks:
            if week.net is None:
                marks.append("·")
            else:
                marks.append(SPARKS[min(int((week.net + 1) / 2 * len(SPARKS)), len(SPARKS) - 1)])
        return "".join(marks)


def _mentions(mentions: list[MentionRecord]) -> Iterable[TimelineEntry]:
    """An entry per mention, titled with its sentiment."""
    for mention in mentions:
        sentiment = mention.sentiment
        title = f"{sentiment.label} {sentiment.confidence:.2f}" if sentiment else "unclassified"
        text = "(deleted)" if mention.deleted_at else mention.text
        yield TimelineEntry(
            "mention", mention.created_at, mention.network, title, text, mention.url
        )


def _alerts(
    session: Session, authors: list[AuthorRecord], mentions: list[MentionRecord]
) -> Iterable[TimelineEntry]:
    """An entry per alert on the customer's conversations or first raised by them."""
    keys = sorted({thread_key(m) for m in mentions})
    author_ids = [a.id for a in authors]
    if not keys and not author_ids:
        return
    conditions = []
    for start in range(0, len(keys), 500):
        conditions.append(Alert.thread_key.in_(keys[start : start + 500]))
    conditions.append(
        Alert.first_mention_id.in_(
            select(MentionRecord.id).where(MentionRecord.author_id.in_(author_ids))
        )
    )
    for alert in session.scalars(
        select(Alert).where(or_(*conditions)).options(joinedload(Alert.first_mention))
    ):
        network = alert.first_mention.network if alert.first_mention else alert.kind
        yield TimelineEntry(
            "alert",
            alert.opened_at,
            network,
            f"#{alert.id} {alert.status}",
            alert.reason,
            alert_id=alert.id,
        )


def _customer_mentions(session: Session, authors: list[AuthorRecord]) -> list[MentionRecord]:
    """The authors' mentions, newest first, with their sentiment."""
    if not authors:
        return []
    return list(
        session.scalars(
            select(MentionRecord)
            .where(MentionRecord.author_id.in_([a.id for a in authors]))
            .options(joinedload(MentionRecord.sentiment))
            .order_by(MentionRecord.created_at.desc(), MentionRecord.id.desc())
        )
    )


def find_customer(session: Session, key: str) -> Customer:
    """The customer with external id ``key`` (or internal id ``#N`` / ``N``)."""
    customer = session.scalar(
        select(Customer)
        .where(Customer.external_id == key)
        .options(selectinload(Customer.identities))
    )
    digits = key.removeprefix("#")
    if customer is None and digits.isdigit():
        customer = session.get(Customer, int(digits))
    if customer is None:
        raise NotFound(f"no customer with id {key!r}")
    return customer


def customer_timeline(
    session: Session, key: str, *, weeks: int = 8, now: datetime | None = None
) -> Timeline:
    """The customer's identities, linked authors, every entry newest first, and weekly trend."""
    now = now or utcnow()
    customer = find_customer(session, key)
    authors = list(
        session.scalars(
            select(AuthorRecord)
            .where(AuthorRecord.customer_id == customer.id)
            .order_by(AuthorRecord.network, AuthorRecord.handle)
        )
    )
    mentions = _customer_mentions(session, authors)
    entries = sorted(
        [*_mentions(mentions), *_alerts(session, authors, mentions)],
        key=lambda entry: entry.at,
        reverse=True,
    )
    return Timeline(
        customer=_profile(customer),
        authors=tuple(_linked(author) for author in authors),
        entries=tuple(entries),
        weeks=tuple(_weeks(entries, weeks, now)),
    )


def _profile(customer: Customer) -> CustomerProfile:
    """The read model of a customer with its identities loaded."""
    return CustomerProfile(
        external_id=customer.external_id,
        name=customer.name,
        email=customer.email,
        tier=customer.tier,
        status=customer.status,
        website=customer.website,
        opted_out_at=customer.opted_out_at,
        identities=tuple(
            CustomerIdentity(identity.network, identity.handle, identity.source)
            for identity in customer.identities
        ),
    )


def _linked(author: AuthorRecord) -> LinkedAuthor:
    """The read model of a linked author."""
    return LinkedAuthor(
        network=author.network,
        handle=author.handle,
        linked_by=author.linked_by,
        linked_at=author.linked_at,
        evidence=tuple(item.get("kind", "") for item in author.link_evidence or []),
    )


def _weeks(entries: list[TimelineEntry], count: int, now: datetime) -> list[Week]:
    """Labels of the last ``count`` weeks' mentions, oldest week first."""
    buckets = [[0, 0, 0] for _ in range(count)]
    for entry in entries:
        if entry.kind != "mention":
            continue
        index = int((now - entry.at).total_seconds() // (7 * 86400))
        if 0 <= index < count:
            label = entry.title.split(" ", 1)[0]
            slot = {"positive": 0, "neutral": 1, "negative": 2}.get(label)
            if slot is not None:
                buckets[index][slot] += 1
    return [
        Week(now - timedelta(days=7 * (index + 1)), *buckets[index])
        for index in reversed(range(count))
    ]
