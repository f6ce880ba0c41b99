"""Sending an alert again by hand: its deliveries that arrived or were given up on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from social_crm.alerts.models import Alert
from social_crm.db.base import utcnow
from social_crm.delivery.enums import DeliveryStatus
from social_crm.delivery.models import Delivery
from social_crm.delivery.outbox import requeue
from social_crm.errors import NotFound


@dataclass(frozen=True, slots=True)
class Requeued:
    """One delivery of the alert queued again: where it goes, what it was, its key now."""

    channel: str
    level: int
    was: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class Resend:
    """What `alerts resend` did: the deliveries queued again, and those already on their way."""

    alert_id: int
    queued: tuple[Requeued, ...]
    in_flight: tuple[str, ...]  # channels whose delivery is still pending, sending or digest


def resend(session: Session, alert_id: int, *, now: datetime | None = None) -> Resend:
    """Queue an alert's sent and failed deliveries again, due now; NotFound without it.

    A failed delivery keeps its idempotency key (it never arrived); a sent one gets a new
    key, so receivers that drop repeated keys show it again. Deliveries still pending,
    sending or waiting for a digest are already on their way and stay as they are.
    """
    if session.get(Alert, alert_id) is None:
        raise NotFound(f"no alert with id {alert_id}")
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.alert_id == alert_id)
        .order_by(Delivery.level, Delivery.channel)
        .with_for_update()
    ).all()
    done = [row for row in rows if row.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED)]
    was = [row.status for row in done]
    requeue(session, done, now=now or utcnow())
    return Resend(
        alert_id=alert_id,
        queued=tuple(
            Requeued(row.channel, row.level, status, row.idempotency_key)
            for row, status in zip(done, was, strict=True)
        ),
        in_flight=tuple(row.channel for row in rows if row not in done),
    )
