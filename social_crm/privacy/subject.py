"""Whose data a privacy request is about, and every record that holds or quotes it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from social_crm.alerts.enums import AlertKind
from social_crm.alerts.models import Alert
from social_crm.ambassadors.models import AmbassadorReview, AmbassadorScore
from social_crm.customers.handles import normalise
from social_crm.customers.models import Identity, LinkSuggestion
from social_crm.engagement.models import Reply
from social_crm.errors import InvalidInput
from social_crm.mentions.models import AuthorRecord, MentionRecord, SkippedItem

CHUNK = 500  # ids per IN (...) list, well inside every database's limit on parameters
LIKE_ESCAPE = "\\"


@dataclass(frozen=True, slots=True)
class Subject:
    """A person as a privacy request names them: a network and their canonical handle."""

    network: str
    handle: str

    def __str__(self) -> str:
        return f"{self.network}:{self.handle}"


def subject(network: str, handle: str) -> Subject:
    """The person ``handle`` names on ``network``, in its stored spelling; InvalidInput if
    it cannot be a handle there."""
    network = network.strip().lower()
    if not network:
        raise InvalidInput("name the network (reddit, mastodon)")
    if not handle.strip():
        raise InvalidInput("name the handle")
    try:
        canonical = normalise(network, handle)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    return Subject(network, canonical)


@dataclass(slots=True)
class Held:
    """What is stored about one person: their author row and what hangs off it."""

    subject: Subject
    author: AuthorRecord | None = None
    identities: list[Identity] = field(default_factory=list)
    mention_ids: list[int] = field(default_factory=list)
    suggestions: list[LinkSuggestion] = field(default_factory=list)
    score: AmbassadorScore | None = None
    review: AmbassadorReview | None = None
    replies: list[Reply] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)  # that name them or their mentions
    skipped_ids: list[int] = field(default_factory=list)  # skipped items naming them

    @property
    def empty(self) -> bool:
        """Nothing at all is stored about them."""
        return self.author is None and not self.identities and not self.skipped_ids


def chunks(ids: Sequence[int]) -> Iterator[list[int]]:
    """``ids`` in lists of at most CHUNK."""
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def find_held(session: Session, person: Subject, *, lock: bool = False) -> Held:
    """Everything stored about ``person``; an author already erased is not found again.

    ``lock``: the author row and their mentions are locked until the transaction ends
    (PostgreSQL), so a poll storing their next post waits for an erasure rather than
    writing beside it. The mentions are locked before any of their alerts is changed:
    escalation claims mentions before it locks their alerts, and skips locked ones, so
    the two never wait for each other in a circle.
    """
    held = Held(person)
    query = select(AuthorRecord).where(
        AuthorRecord.network == person.network,
        AuthorRecord.handle == person.handle,
        AuthorRecord.erased_at.is_(None),
    )
    held.author = session.scalar(query.with_for_update() if lock else query)
    held.identities = list(
        session.scalars(
            select(Identity)
            .where(Identity.network == person.network, Identity.handle == person.handle)
            .order_by(Identity.id)
        )
    )
    held.skipped_ids = list(
        session.scalars(
            select(SkippedItem.id)
            .where(or_(*(SkippedItem.excerpt.like(p, escape=LIKE_ESCAPE) for p in _quoted(person))))
            .order_by(SkippedItem.id)
        )
    )
    author = held.author
    if author is None:
        return held
    mentions = (
        select(MentionRecord.id)
        .where(MentionRecord.author_id == author.id, MentionRecord.erased_at.is_(None))
        .order_by(MentionRecord.created_at, MentionRecord.id)
    )
    held.mention_ids = list(session.scalars(mentions.with_for_update() if lock else mentions))
    held.suggestions = list(
        session.scalars(
            select(LinkSuggestion)
            .where(LinkSuggestion.author_id == author.id)
            .order_by(LinkSuggestion.id)
        )
    )
    held.score = session.get(AmbassadorScore, author.id)
    held.review = session.get(AmbassadorReview, author.id)
    held.replies = list(
        session.scalars(select(Reply).where(Reply.author_id == author.id).order_by(Reply.id))
    )
    held.alerts = _alerts(session, author.id, held.mention_ids)
    return held


def _quoted(person: Subject) -> list[str]:
    """LIKE patterns of the handle as a quoted value: in a repr or a JSON excerpt."""
    escaped = "".join(
        LIKE_ESCAPE + char if char in (LIKE_ESCAPE, "%", "_") else char for char in person.handle
    )
    return [f"%'{escaped}'%", f'%"{escaped}"%']


def _alerts(session: Session, author_id: int, mention_ids: Sequence[int]) -> list[Alert]:
    """The alerts about the author, opened or extended by their mentions, or quoting them."""
    found: dict[int, Alert] = {
        alert.id: alert
        for alert in session.scalars(select(Alert).where(Alert.author_id == author_id))
    }
    for part in chunks(mention_ids):
        for alert in session.scalars(
            select(Alert).where(
                or_(Alert.first_mention_id.in_(part), Alert.last_mention_id.in_(part))
            )
        ):
            found[alert.id] = alert
    wanted = set(mention_ids)
    for alert in session.scalars(select(Alert).where(Alert.kind == AlertKind.CRISIS)):
        if any(post.get("mention_id") in wanted for post in top_posts(alert)):
            found[alert.id] = alert
    return sorted(found.values(), key=lambda alert: alert.id)


def top_posts(alert: Alert) -> list[dict[str, Any]]:
    """A crisis alert's most seen posts, as stored in its details; [] for other alerts."""
    details = alert.details if isinstance(alert.details, dict) else {}
    return [post for post in details.get("top") or [] if isinstance(post, dict)]
