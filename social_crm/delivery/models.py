"""The outbox: what is to be sent to which channel, and what became of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from social_crm.db.base import Base, UtcDateTime, utcnow
from social_crm.delivery.enums import DeliveryKind, DeliveryStatus


class Delivery(Base):
    """The outbox: one row per alert, channel and escalation level, or one per digest.

    ``status``: pending -> sending (leased until ``lease_until``) -> sent, or back to pending
    with a later ``next_attempt_at``, or failed (pending again, once, when its channel next
    works: ``retried_at``); ``digest`` rows wait for the next digest and
    become ``digested`` (``digest_id`` names it) or ``skipped`` (resolved before it).
    ``idempotency_key`` is the same on every attempt, so receivers can drop duplicates.
    """

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("alert_id", "channel", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=DeliveryStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(
        String(20), default=DeliveryKind.ALERT, server_default=DeliveryKind.ALERT.value
    )
    level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    idempotency_key: Mapped[str] = mapped_column(String(300), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When a given-up (failed) row went back to pending because its channel worked again:
    # that happens once per row, so a message the receiver always refuses is not retried
    # after every other successful send.
    retried_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    digest_id: Mapped[int | None] = mapped_column(
        ForeignKey("deliveries.id", ondelete="SET NULL"), index=True
    )
