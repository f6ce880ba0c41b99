"""Digests (``alerts.digest``): low-severity alerts gathered into one message per channel.

An alert whose severity is at most ``severity_at_most`` is queued with status ``digest``
instead of ``pending``. At every period boundary (the top of each hour, or ``daily_at`` in
``timezone`` each day), :func:`build_digests` gathers each channel's waiting rows created
before the boundary into ONE digest delivery (key ``digest-<channel>-<boundary>``) and
marks them ``digested``. Resolving an alert marks its waiting rows ``skipped``
(:mod:`social_crm.alerts.lifecycle`), so a digest never names a resolved alert. The
digest is then sent by the outbox like any delivery.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from social_crm.config import DigestConfig
from social_crm.db.base import utcnow
from social_crm.delivery.enums import DeliveryKind, DeliveryStatus
from social_crm.delivery.models import Delivery
from social_crm.delivery.quiet_hours import clock

LOGGER = logging.getLogger(__name__)


def period_start(config: DigestConfig, now: datetime) -> datetime:
    """The latest digest boundary at or before ``now`` (UTC)."""
    zone = ZoneInfo(config.timezone)
    local = now.astimezone(zone)
    if config.every == "hourly":
        boundary = local.replace(minute=0, second=0, microsecond=0)
    else:
        boundary = datetime.combine(local.date(), clock(config.daily_at), tzinfo=zone)
        if boundary > local:
            boundary = datetime.combine(
                local.date() - timedelta(days=1), clock(config.daily_at), tzinfo=zone
            )
    return boundary.astimezone(UTC)


def build_digests(
    session: Session, config: DigestConfig | None, *, now: datetime | None = None
) -> list[Delivery]:
    """Gather waiting low-severity rows into one digest per channel; returns the digests.

    With digests switched off (``config`` None), rows still waiting are released to be
    sent one by one.
    """
    now = now or utcnow()
    if config is None:
        waiting = session.scalars(
            select(Delivery).where(Delivery.status == DeliveryStatus.DIGEST)
        ).all()
        for row in waiting:
            row.status, row.next_attempt_at = DeliveryStatus.PENDING, now
        return []
    boundary = period_start(config, now)
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.status == DeliveryStatus.DIGEST, Delivery.created_at < boundary)
        .order_by(Delivery.channel, Delivery.id)
        .with_for_update(skip_locked=True)
    ).all()
    by_channel: dict[str, list[Delivery]] = {}
    for row in rows:
        by_channel.setdefault(row.channel, []).append(row)
    digests = []
    stamp = boundary.strftime("%Y%m%dT%H%MZ")
    for channel, items in by_channel.items():
        key = f"digest-{channel}-{stamp}"
        if session.scalar(select(Delivery.id).where(Delivery.idempotency_key == key)):
            continue  # made already; later arrivals wait for the next period
        digest = Delivery(
            kind=DeliveryKind.DIGEST,
            alert_id=None,
            channel=channel,
            level=0,
            idempotency_key=key,
            status=DeliveryStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(digest)
        session.flush()
        for row in items:
            row.status, row.digest_id = DeliveryStatus.DIGESTED, digest.id
        LOGGER.info("digest for %s: %d alert(s) until %s", channel, len(items), stamp)
        digests.append(digest)
    session.flush()
    return digests
