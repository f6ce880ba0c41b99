"""Erasing a person: everything that names or quotes them goes, the counts stay.

In one transaction:

- their mentions become tombstones: still counted by day, brand and sentiment (the
  overview's figures do not change), with no text, URL, network id or thread; they are
  marked deleted and erased, so no job reads, classifies, escalates or answers them again;
- their author row stays, anonymised (handle ``(erased N)``, no name, profile, links or
  flags), because the tombstones point at it;
- their CRM identities on that network, link suggestions, ambassador score and review,
  replies to them with their history, and skipped items that quote their handle are
  deleted;
- an alert that only their mentions make up is resolved, its unsent messages skipped,
  and its conversation key no longer holds the network's id; an alert that also holds
  other people's mentions stays as it is, showing theirs as erased. A crisis alert's top
  posts lose their author, URL and text. Notes people wrote on alerts are kept: the team
  wrote them, and they are theirs to edit;
- the CRM customer they were tied to is kept: the CRM owns it (delete it there, then
  import with pruning);
- an :class:`~social_crm.privacy.models.Erasure` records when, by whom and how much, with
  a salted hash of the handle, never the handle.

Other people's posts are theirs and stay whole, even where they name the person or reply
in a conversation the person started. Should the person post again, they are collected
as a new author; a brand's listening rules (``exclude_authors``) keep them out.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import String, cast, delete, func, literal, select, update
from sqlalchemy.orm import Session

from social_crm.alerts import lifecycle as alert_lifecycle
from social_crm.alerts.enums import AlertKind, AlertStatus
from social_crm.alerts.models import Alert
from social_crm.customers.models import Customer, Identity
from social_crm.db.base import utcnow
from social_crm.delivery.enums import DeliveryStatus
from social_crm.delivery.models import Delivery
from social_crm.engagement.enums import ReplyStatus
from social_crm.engagement.models import Reply, ReplyEvent
from social_crm.errors import Conflict
from social_crm.mentions.models import MentionRecord, SkippedItem
from social_crm.privacy.models import Erasure
from social_crm.privacy.subject import Held, Subject, chunks, find_held, subject, top_posts

LOGGER = logging.getLogger(__name__)

ERASED = "(erased)"  # an erased post's author and text, where a record quoted them
RESOLUTION = "its author's data was erased"
UNSENT = (DeliveryStatus.PENDING, DeliveryStatus.FAILED, DeliveryStatus.DIGEST)


@dataclass(frozen=True, slots=True)
class ErasureCounts:
    """How many records of each kind an erasure removed (or would remove)."""

    mentions: int = 0  # kept as tombstones: counted, with their sentiment, not quoted
    authors: int = 0  # anonymised
    identities: int = 0
    link_suggestions: int = 0
    ambassador_scores: int = 0
    ambassador_reviews: int = 0
    replies: int = 0
    reply_events: int = 0
    alerts: int = 0  # naming them or their mentions: kept, showing them as erased
    alerts_resolved: int = 0  # of those, the ones made up of their mentions only
    deliveries_skipped: int = 0  # unsent messages of those alerts
    skipped_items: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counts by kind, as the erasure record stores them."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class PastErasure:
    """An earlier erasure of the same handle."""

    id: int
    erased_at: datetime
    erased_by: str


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What an erasure removed, or would remove when ``erasure_id`` is None."""

    subject: Subject
    counts: ErasureCounts
    erasure_id: int | None
    customers: tuple[str, ...]  # CRM ids of the customers they were tied to: kept
    previous: tuple[PastErasure, ...]

    @property
    def nothing_held(self) -> bool:
        """Nothing was (or is) stored about them."""
        return not any(self.counts.as_dict().values())


def handle_hash(person: Subject, salt: str) -> str:
    """HMAC-SHA256 of ``network:handle`` keyed with ``salt`` (hex)."""
    message = str(person).encode("utf-8")
    return hmac.new(bytes.fromhex(salt), message, hashlib.sha256).hexdigest()


def past_erasures(session: Session, person: Subject) -> tuple[PastErasure, ...]:
    """The erasures recorded for ``person``'s handle, oldest first."""
    rows = session.scalars(
        select(Erasure).where(Erasure.network == person.network).order_by(Erasure.id)
    )
    return tuple(
        PastErasure(row.id, row.erased_at, row.erased_by)
        for row in rows
        if hmac.compare_digest(row.handle_hash, handle_hash(person, row.salt))
    )


def preview(session: Session, network: str, handle: str) -> ErasureReport:
    """What erasing ``handle`` on ``network`` would remove; nothing is changed."""
    person = subject(network, handle)
    held = find_held(session, person)
    counts, _ = _plan(session, held)
    return ErasureReport(
        person, counts, None, _customers(session, held), past_erasures(session, person)
    )


def erase(
    session: Session, network: str, handle: str, *, by: str, now: datetime | None = None
) -> ErasureReport:
    """Erase everything stored about ``handle`` on ``network`` and record that it was done.

    Runs in the caller's transaction: all of it happens, or none. Nothing is recorded when
    nothing is held. Conflict while a reply to them is being posted.
    """
    now = now or utcnow()
    person = subject(network, handle)
    held = find_held(session, person, lock=True)
    previous = past_erasures(session, person)
    customers = _customers(session, held)
    if held.empty:
        return ErasureReport(person, ErasureCounts(), None, customers, previous)
    if any(reply.status == ReplyStatus.SENDING for reply in held.replies):
        raise Conflict(f"a reply to {person} is being posted; erase when it is done")
    counts, only_theirs = _plan(session, held)
    erased = set(held.mention_ids)
    for alert in only_theirs:
        _close(session, alert, by=by, now=now)
    for alert in held.alerts:
        _redact_top_posts(alert, erased)
    _tombstones(session, held.mention_ids, now=now)
    reply_ids = [reply.id for reply in held.replies]
    for part in chunks(reply_ids):
        session.execute(delete(ReplyEvent).where(ReplyEvent.reply_id.in_(part)))
        session.execute(delete(Reply).where(Reply.id.in_(part)))
    for suggestion in held.suggestions:
        session.delete(suggestion)
    for row in (held.score, held.review):
        if row is not None:
            session.delete(row)
    session.execute(
        delete(Identity).where(Identity.id.in_([identity.id for identity in held.identities]))
    )
    for part in chunks(held.skipped_ids):
        session.execute(delete(SkippedItem).where(SkippedItem.id.in_(part)))
    if held.author is not None:
        _anonymise(held, now=now)
    salt = secrets.token_hex(16)
    record = Erasure(
        network=person.network,
        handle_hash=handle_hash(person, salt),
        salt=salt,
        erased_at=now,
        erased_by=by,
        counts=counts.as_dict(),
    )
    session.add(record)
    session.flush()
    session.expire_all()  # the bulk changes above, for whatever reads next
    LOGGER.info(
        "erasure %d on %s by %s: %s",
        record.id,
        person.network,
        by,
        ", ".join(f"{value} {name}" for name, value in counts.as_dict().items() if value),
    )
    return ErasureReport(person, counts, record.id, customers, previous)


def _plan(session: Session, held: Held) -> tuple[ErasureCounts, list[Alert]]:
    """The counts of an erasure, and the alerts made up of the person's mentions only."""
    erased = set(held.mention_ids)
    only_theirs = [alert for alert in held.alerts if _only_theirs(session, alert, held, erased)]
    events = 0
    unsent = 0
    for part in chunks([reply.id for reply in held.replies]):
        events += (
            session.scalar(
                select(func.count()).select_from(ReplyEvent).where(ReplyEvent.reply_id.in_(part))
            )
            or 0
        )
    for part in chunks([alert.id for alert in only_theirs]):
        unsent += (
            session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.alert_id.in_(part), Delivery.status.in_(UNSENT))
            )
            or 0
        )
    counts = ErasureCounts(
        mentions=len(held.mention_ids),
        authors=int(held.author is not None),
        identities=len(held.identities),
        link_suggestions=len(held.suggestions),
        ambassador_scores=int(held.score is not None),
        ambassador_reviews=int(held.review is not None),
        replies=len(held.replies),
        reply_events=events,
        alerts=len(held.alerts),
        alerts_resolved=sum(alert.status != AlertStatus.RESOLVED for alert in only_theirs),
        deliveries_skipped=unsent,
        skipped_items=len(held.skipped_ids),
    )
    return counts, only_theirs


def _only_theirs(session: Session, alert: Alert, held: Held, erased: set[int]) -> bool:
    """A mention alert whose mentions, and whose conversation's, are all the person's."""
    if alert.kind != AlertKind.MENTION or held.author is None:
        return False
    pointed = {alert.first_mention_id, alert.last_mention_id} - {None}
    if not pointed or not pointed <= erased:
        return False
    network, _, thread = alert.thread_key.partition(":")
    others = session.scalar(
        select(func.count())
        .select_from(MentionRecord)
        .where(
            MentionRecord.network == network,
            MentionRecord.thread_id == thread,
            MentionRecord.author_id != held.author.id,
            MentionRecord.erased_at.is_(None),
        )
    )
    return not others


def _close(session: Session, alert: Alert, *, by: str, now: datetime) -> None:
    """Resolve an alert of the person's mentions only, skip its unsent messages and drop
    the network's id from its conversation key."""
    session.execute(
        update(Delivery)
        .where(Delivery.alert_id == alert.id, Delivery.status.in_(UNSENT))
        .values(status=DeliveryStatus.SKIPPED, last_error=f"not sent: {RESOLUTION}")
        .execution_options(synchronize_session=False)
    )
    if alert.status != AlertStatus.RESOLVED:
        alert_lifecycle.resolve(session, alert.id, by=by, now=now, note=RESOLUTION)
    # The tombstone's own conversation: "erased:<its id>".
    alert.thread_key = f"{alert.thread_key.partition(':')[0]}:erased:{alert.first_mention_id}"


def _redact_top_posts(alert: Alert, erased: set[int]) -> None:
    """A crisis alert's top posts without the author, URL and text of erased ones."""
    posts = top_posts(alert)
    if not any(post.get("mention_id") in erased for post in posts):
        return
    alert.details = {
        **(alert.details or {}),
        "top": [
            {**post, "author": ERASED, "url": "", "text": ERASED, "erased": True}
            if post.get("mention_id") in erased
            else post
            for post in posts
        ],
    }


def _tombstones(session: Session, mention_ids: list[int], *, now: datetime) -> None:
    """The mentions kept for their counts only: no text, URL, network id or thread."""
    placeholder = literal("erased:") + cast(MentionRecord.id, String)
    for part in chunks(mention_ids):
        rows = MentionRecord.id.in_(part)
        session.execute(
            update(MentionRecord)
            .where(rows)
            .values(
                text="",
                url="",
                native_id=placeholder,
                thread_id=placeholder,
                parent_id=None,
                locator=None,
                erased_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        for column in (MentionRecord.deleted_at, MentionRecord.escalated_at):
            session.execute(
                update(MentionRecord)
                .where(rows, column.is_(None))
                .values({column: now})
                .execution_options(synchronize_session=False)
            )


def _anonymise(held: Held, *, now: datetime) -> None:
    """The author row with nothing of the person left."""
    author = held.author
    assert author is not None
    author.handle = f"(erased {author.id})"  # no network allows parentheses or spaces
    author.display_name = author.url = ""
    author.followers = 0
    author.profile = author.link_evidence = None
    author.customer_id = None
    author.linked_by = author.linked_at = None
    author.link_checked_at = now
    author.do_not_contact_at = author.do_not_contact_by = None
    author.bot = False
    author.erased_at = now


def _customers(session: Session, held: Held) -> tuple[str, ...]:
    """The CRM ids of the customers the person's author or identities belong to."""
    ids = {identity.customer_id for identity in held.identities}
    if held.author is not None and held.author.customer_id is not None:
        ids.add(held.author.customer_id)
    if not ids:
        return ()
    return tuple(
        session.scalars(
            select(Customer.external_id)
            .where(Customer.id.in_(sorted(ids)))
            .order_by(Customer.external_id)
        )
    )
