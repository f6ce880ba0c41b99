"""Alerts: a conversation or a source that needs a person."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from social_crm.alerts.enums import AlertKind, AlertStatus
from social_crm.db.base import Base, UtcDateTime, utcnow
from social_crm.delivery.models import Delivery
from social_crm.mentions.models import AuthorRecord, MentionRecord
from social_crm.severity import Severity


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
    kind: Mapped[str] = mapped_column(
        String(20), default=AlertKind.MENTION, server_default=AlertKind.MENTION.value
    )
    thread_key: Mapped[str] = mapped_column(String(600))
    brand: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=AlertStatus.OPEN, index=True)
    reason: Mapped[str] = mapped_column(Text)
    first_mention_id: Mapped[int | None] = mapped_column(ForeignKey("mentions.id"))
    mention_count: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(200))
    # The last time a person reopened it after it was resolved, and who.
    reopened_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reopened_by: Mapped[str | None] = mapped_column(String(200))
    # Escalation: the rule that raised it, how urgent it is, who owns it, how far it went.
    severity: Mapped[str] = mapped_column(
        String(20), default=Severity.MEDIUM, server_default=Severity.MEDIUM.value
    )
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
    deliveries: Mapped[list[Delivery]] = relationship(cascade="all, delete-orphan")
    notes: Mapped[list[AlertNote]] = relationship(
        cascade="all, delete-orphan", order_by="AlertNote.id", passive_deletes=True
    )


class AlertNote(Base):
    """A note a person left on an alert, for the team: what was done, what to watch."""

    __tablename__ = "alert_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
