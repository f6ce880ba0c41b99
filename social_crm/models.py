"""The stored records: customers and their identities, authors, mentions and what follows."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; store timezone-aware UTC times")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Customer(Base):
    """A customer imported from the CRM."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    email: Mapped[str | None] = mapped_column(String(320))
    tier: Mapped[str | None] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[str | None] = mapped_column(String(50))  # CRM status: active, churned...
    website: Mapped[str | None] = mapped_column(String(1000))
    # Derived on import, for linking: the website as a site key, the name folded, the email.
    domain: Mapped[str | None] = mapped_column(String(300), index=True)
    name_key: Mapped[str | None] = mapped_column(String(300), index=True)
    email_key: Mapped[str | None] = mapped_column(String(320), index=True)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Asked not to be approached as an ambassador: never listed again.
    opted_out_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    identities: Mapped[list[Identity]] = relationship(
        back_populates="customer", cascade="all, delete-orphan"
    )


class Identity(Base):
    """A customer's handle on one network, normalised."""

    __tablename__ = "identities"
    __table_args__ = (UniqueConstraint("network", "handle"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    network: Mapped[str] = mapped_column(String(50))
    handle: Mapped[str] = mapped_column(String(300))
    source: Mapped[str] = mapped_column(String(50), default="crm")

    customer: Mapped[Customer] = relationship(back_populates="identities")


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

    customer: Mapped[Customer | None] = relationship()


class MentionRecord(Base):
    """A stored mention; (network, native_id) is unique."""

    __tablename__ = "mentions"
    __table_args__ = (
        UniqueConstraint("network", "native_id"),
        Index("ix_mentions_thread", "network", "thread_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(50))
    native_id: Mapped[str] = mapped_column(String(500))
    brand: Mapped[str] = mapped_column(String(200), index=True)
    source: Mapped[str] = mapped_column(String(500))
    url: Mapped[str] = mapped_column(String(1000))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    thread_id: Mapped[str] = mapped_column(String(500))
    parent_id: Mapped[str | None] = mapped_column(String(500))
    reach: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ingested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Set once escalation has looked at the mention, so it is never looked at twice.
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    edited_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Deleted by its author or removed by moderators: the text is dropped, the record stays.
    deleted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

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


class Alert(Base):
    """Something that needs a person: a negative conversation, or a source in trouble.

    At most one alert per thread key is not resolved: ``network:thread`` for mentions,
    ``health:connector:source`` for sources.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        # At most one alert that is not resolved per thread, enforced by the database.
        Index(
            "uq_alerts_open_thread",
            "thread_key",
            unique=True,
            sqlite_where=text("status != 'resolved'"),
            postgresql_where=text("status != 'resolved'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="mention", server_default="mention")
    thread_key: Mapped[str] = mapped_column(String(600))
    brand: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    reason: Mapped[str] = mapped_column(Text)
    first_mention_id: Mapped[int | None] = mapped_column(ForeignKey("mentions.id"))
    mention_count: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    # Escalation: the rule that raised it, how urgent it is, who owns it, how far it went.
    severity: Mapped[str] = mapped_column(String(20), default="medium", server_default="medium")
    rule: Mapped[str | None] = mapped_column(String(200))
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("authors.id", ondelete="SET NULL"), index=True
    )
    last_mention_id: Mapped[int | None] = mapped_column(ForeignKey("mentions.id"))
    last_mention_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    assignee: Mapped[str | None] = mapped_column(String(200))
    assigned_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # level reached at
    # When it moves to the next level if nobody acknowledges it; NULL: it will not.
    sla_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # crisis figures, top posts

    first_mention: Mapped[MentionRecord | None] = relationship(foreign_keys=[first_mention_id])
    last_mention: Mapped[MentionRecord | None] = relationship(foreign_keys=[last_mention_id])
    author: Mapped[AuthorRecord | None] = relationship()
    deliveries: Mapped[list[Delivery]] = relationship(
        back_populates="alert", cascade="all, delete-orphan"
    )


class Delivery(Base):
    """The outbox: one row per alert, channel and escalation level, or one per digest.

    ``status``: pending -> sending (leased until ``lease_until``) -> sent, or back to pending
    with a later ``next_attempt_at``, or failed; ``digest`` rows wait for the next digest and
    become ``digested`` (``digest_id`` names it) or ``skipped`` (resolved before it).
    ``idempotency_key`` is the same on every attempt, so receivers can drop duplicates.
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "channel", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(20), default="alert", server_default="alert")
    level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), index=True
    )

    alert: Mapped[Alert | None] = relationship(back_populates="deliveries")


class AmbassadorScore(Base):
    """An author's latest ambassador score with the figures that make it up."""

    __tablename__ = "ambassador_scores"

    author_id: Mapped[int] = mapped_column(
        ForeignKey("authors.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column(Float, index=True)
    components: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Score history for "rising" candidates: growth is measured from the previous score,
    # a checkpoint at least one rising window old; the checkpoint becomes it a window later.
    previous_score: Mapped[float | None] = mapped_column(Float)
    previous_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    checkpoint_score: Mapped[float | None] = mapped_column(Float)
    checkpoint_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    author: Mapped[AuthorRecord] = relationship()


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
    last_item_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # last new mention
    silence_alerted: Mapped[bool] = mapped_column(default=False, server_default=false())


class LinkSuggestion(Base):
    """A possible author-customer link and what became of it.

    ``pending`` waits for a person; ``confirmed`` was linked; ``rejected`` and ``unlinked``
    pairs are never suggested or linked automatically again; ``superseded`` lost to another.
    """

    __tablename__ = "link_suggestions"
    __table_args__ = (UniqueConstraint("author_id", "customer_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    author: Mapped[AuthorRecord] = relationship()
    customer: Mapped[Customer] = relationship()


class AmbassadorReview(Base):
    """A person's decision about an ambassador candidate: approved, rejected or opted out."""

    __tablename__ = "ambassador_reviews"

    author_id: Mapped[int] = mapped_column(
        ForeignKey("authors.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20), index=True)
    reviewed_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    author: Mapped[AuthorRecord] = relationship()


class Watermark(Base):
    """How far an incremental job has got: a named point in time."""

    __tablename__ = "watermarks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
