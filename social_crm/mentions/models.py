"""Authors, the mentions they wrote, their sentiment labels, and where each source stopped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    column,
    false,
    select,
)
from sqlalchemy.orm import Mapped, Session, joinedload, mapped_column, relationship

from social_crm.db.base import Base, UtcDateTime, utcnow

if TYPE_CHECKING:
    from social_crm.customers.models import Customer


class AuthorRecord(Base):
    """Someone who wrote a mention; linked to a customer when their identity is known."""

    __tablename__ = "authors"
    __table_args__ = (UniqueConstraint("network", "handle"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(50))
    handle: Mapped[str] = mapped_column(String(300))
    display_name: Mapped[str] = mapped_column(String(300), default="")
    url: Mapped[str] = mapped_column(String(1000), default="")
    followers: Mapped[int] = mapped_column(Integer, default=0)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    linked_by: Mapped[str | None] = mapped_column(String(100))
    linked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Why the author is linked: a list of {kind, detail, weight}.
    link_evidence: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    # When linking last looked at this unlinked author; NULL means "look again".
    link_checked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    # What the network shows on the profile: {"note": bio, "fields": [{name, value, verified_at}]}.
    profile: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # Asked not to be contacted: no reply is sent to them.
    do_not_contact_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    do_not_contact_by: Mapped[str | None] = mapped_column(String(200))
    # The network flags the account as automated (Mastodon's bot flag).
    bot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The person's data was erased: the row stays, anonymised, for their erased mentions.
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    customer: Mapped[Customer | None] = relationship("Customer")


class MentionRecord(Base):
    """A stored mention; (network, native_id) is unique."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("network", "native_id"),
        Index("ix_mentions_thread", "network", "thread_id"),
        # Newest first, a page at a time, all or of a brand or network (mention search).
        Index("ix_mentions_created_at", "created_at", "id"),
        Index("ix_mentions_brand_created_at", "brand", "created_at", "id"),
        Index("ix_mentions_network_created_at", "network", "created_at", "id"),
        # The pipeline's backlog, oldest first: what classification and escalation claim.
        Index(
            "ix_mentions_unescalated",
            "created_at",
            "id",
            postgresql_where=column("escalated_at").is_(None),
            sqlite_where=column("escalated_at").is_(None),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(50))
    native_id: Mapped[str] = mapped_column(String(500))
    brand: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(String(1000))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(20))
    # Who may see the post: public, unlisted, private (followers only) or direct.
    visibility: Mapped[str] = mapped_column(String(20), default="public", server_default="public")
    kind: Mapped[str] = mapped_column(String(20))
    thread_id: Mapped[str] = mapped_column(String(500))
    parent_id: Mapped[str | None] = mapped_column(String(500))
    # Where the network re-reads it for edits and deletions (Mention.locator).
    locator: Mapped[str | None] = mapped_column(String(500))
    # Where within the network it was posted: the subreddit (Mention.community).
    community: Mapped[str | None] = mapped_column(String(100))
    reach: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Set once escalation has looked at the mention, so it is never looked at twice.
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    edited_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Deleted by its author or removed by moderators: the text is dropped, the record stays.
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Its author's data was erased: a tombstone counted by date, brand and sentiment, with no
    # text, URL or network id (it is marked deleted too, so nothing acts on it again).
    erased_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Older than its network's retention period: the text and URL were cleared.
    expired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    author: Mapped[AuthorRecord] = relationship()
    sentiment: Mapped[SentimentRecord | None] = relationship(back_populates="mention")


# sentiment.uncertain_below's default: labels stored without a flag are flagged against it.
DEFAULT_UNCERTAIN_BELOW = 0.5


def _uncertain_by_default(context: Any) -> bool:
    """A label stored without its uncertain flag: is its top score below the default?"""
    row = context.get_current_parameters()
    return max(row["negative"], row["neutral"], row["positive"]) < DEFAULT_UNCERTAIN_BELOW


class SentimentRecord(Base):
    """The classifier's label for one mention."""

    __tablename__ = "sentiments"

    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(20), index=True)
    confidence: Mapped[float] = mapped_column(Float)
    negative: Mapped[float] = mapped_column(Float)
    neutral: Mapped[float] = mapped_column(Float)
    positive: Mapped[float] = mapped_column(Float)
    model: Mapped[str] = mapped_column(String(300))
    # The top score was below sentiment.uncertain_below when the label was given.
    uncertain: Mapped[bool] = mapped_column(
        Boolean, default=_uncertain_by_default, server_default=false()
    )
    classified_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    mention: Mapped[MentionRecord] = relationship(back_populates="sentiment")


class SourceCursor(Base):
    """Where a connector's source stopped reading, stored with the mentions it read."""

    __tablename__ = "source_cursors"
    __table_args__ = (UniqueConstraint("connector", "source_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connector: Mapped[str] = mapped_column(String(200))
    source_key: Mapped[str] = mapped_column(String(500))
    cursor: Mapped[str | None] = mapped_column(String(500))
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime)  # first of the failures
    last_item_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # last new mention
    silence_alerted: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Pacing and backoff, kept here so any process can pick the source up (mentions.sources).
    poll_interval_seconds: Mapped[float | None] = mapped_column(Float)  # its adaptive interval
    next_poll_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # paced: not before
    retry_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # failing: backing off until
    # Set on every source of a connector whose credentials were refused; cleared at start-up.
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    # The daemon polling this source now, until when (social_crm.db.leases): one at a time.
    lease_owner: Mapped[str | None] = mapped_column(String(300))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class SkippedItem(Base):
    """An item a source served that could not be read or stored: kept for inspection."""

    __tablename__ = "skipped_items"
    __table_args__ = (UniqueConstraint("connector", "source_key", "native_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    connector: Mapped[str] = mapped_column(String(200))
    source_key: Mapped[str] = mapped_column(String(500))
    native_id: Mapped[str] = mapped_column(String(500))
    error: Mapped[str] = mapped_column(Text)
    excerpt: Mapped[str] = mapped_column(Text, default="")  # the start of the item as served
    skipped_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ListeningExclusion(Base):
    """How many fetched items one listening rule kept out of one source (never stored)."""

    __tablename__ = "listening_exclusions"
    __table_args__ = (UniqueConstraint("connector", "source_key", "rule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand: Mapped[str] = mapped_column(String(200), index=True)
    connector: Mapped[str] = mapped_column(String(200))
    source_key: Mapped[str] = mapped_column(String(500))
    rule: Mapped[str] = mapped_column(String(500))  # Decision.rule: 'exclude "brewly beer"'...
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


def with_authors(session: Session, ids: Sequence[int]) -> list[MentionRecord]:
    """The mentions ``ids`` as stored now, with their sentiments, authors and customers,
    in the order they were written; read 500 at a time."""
    found: list[MentionRecord] = []
    for start in range(0, len(ids), 500):
        found.extend(
            session.scalars(
                select(MentionRecord)
                .where(MentionRecord.id.in_(ids[start : start + 500]))
                .options(
                    joinedload(MentionRecord.sentiment),
                    joinedload(MentionRecord.author).joinedload(AuthorRecord.customer),
                )
                .execution_options(populate_existing=True)
            ).unique()
        )
    return sorted(found, key=lambda mention: (mention.created_at, mention.id))
