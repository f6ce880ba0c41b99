"""Replies to mentions, what happened to each, and which mentions the proposal rules have seen."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from social_crm.alerts.models import Alert
from social_crm.customers.models import Customer
from social_crm.db.base import Base, UtcDateTime, utcnow
from social_crm.engagement.enums import ReplyStatus
from social_crm.mentions.models import AuthorRecord, MentionRecord


class Reply(Base):
    """A reply to one mention: a draft, approved and queued, sent, or why it was not.

    ``text`` is the body people write and approve; ``outgoing_text`` is exactly what is
    posted (the body and the brand's footer), fixed at the first attempt so that a retry
    compares the network's replies against the same words. ``key`` makes the idempotency
    key, the same on every attempt.
    """

    __tablename__ = "replies"
    __table_args__ = (
        # A rule proposes a template for a mention at most once.
        Index(
            "uq_replies_proposal",
            "mention_id",
            "template",
            unique=True,
            sqlite_where=text("rule IS NOT NULL"),
            postgresql_where=text("rule IS NOT NULL"),
        ),
        Index("ix_replies_due", "status", "next_attempt_at"),
        Index("ix_replies_thread", "network", "thread_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mentions.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id", ondelete="CASCADE"), index=True)
    alert_id: Mapped[int | None] = mapped_column(
        ForeignKey("alerts.id", ondelete="SET NULL"), index=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL"), index=True
    )
    # Copied from the mention, for the limits: per network, thread and author.
    brand: Mapped[str] = mapped_column(String(200))
    network: Mapped[str] = mapped_column(String(50))
    thread_id: Mapped[str] = mapped_column(String(500))
    template: Mapped[str | None] = mapped_column(String(200))  # None: a person's own text
    situation: Mapped[str] = mapped_column(String(20))
    language: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str | None] = mapped_column(String(200))  # the rule that proposed it
    text: Mapped[str] = mapped_column(Text)
    private: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    subject: Mapped[str] = mapped_column(String(300), default="", server_default="")
    status: Mapped[str] = mapped_column(String(20), default=ReplyStatus.DRAFT)
    # Why it waits (a limit, a retry), was skipped, or failed; None when nothing holds it.
    reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    edited_by: Mapped[str | None] = mapped_column(String(200))
    edited_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    auto_send: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    rejected_by: Mapped[str | None] = mapped_column(String(200))
    rejected_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolve_alert: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Sending: claims, the lease of the current one, and when it may next be tried.
    key: Mapped[str] = mapped_column(String(36), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    sending_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the last claim
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    account: Mapped[str | None] = mapped_column(String(300))  # posted as
    outgoing_text: Mapped[str | None] = mapped_column(Text)
    # What the network made of it.
    posted_id: Mapped[str | None] = mapped_column(String(500))
    posted_url: Mapped[str | None] = mapped_column(String(1000))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    mention: Mapped[MentionRecord] = relationship()
    author: Mapped[AuthorRecord] = relationship()
    alert: Mapped[Alert | None] = relationship()
    customer: Mapped[Customer | None] = relationship()
    events: Mapped[list[ReplyEvent]] = relationship(
        cascade="all, delete-orphan", order_by="ReplyEvent.id"
    )

    @property
    def idempotency_key(self) -> str:
        """The key the network is given on every attempt (Mastodon's Idempotency-Key)."""
        return f"social-crm-reply-{self.id}-{self.key}"


class ReplyEvent(Base):
    """One step of a reply's history: who did what, when."""

    __tablename__ = "reply_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    reply_id: Mapped[int] = mapped_column(ForeignKey("replies.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    by: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(30))
    note: Mapped[str | None] = mapped_column(Text)


class ReplyScan(Base):
    """A mention the proposal rules have looked at, so it is looked at once."""

    __tablename__ = "reply_scans"

    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mentions.id", ondelete="CASCADE"), primary_key=True
    )
    scanned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
