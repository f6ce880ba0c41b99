"""Digests and quiet hours: low-severity alerts gathered, non-urgent ones held at night.

- **Digests** (``alerts.digest``): an alert whose severity is at most
  ``severity_at_most`` is queued with status ``digest`` instead of ``pending``. At every
  period boundary (the top of each hour, or ``daily_at`` in ``timezone`` each day),
  :func:`build_digests` gathers each channel's waiting rows created before the boundary
  into ONE digest delivery (key ``digest-<channel>-<boundary>``), marks them ``digested``
  and drops (``skipped``) those whose alert was resolved meanwhile. The digest is then
  sent by the outbox like any delivery.
- **Quiet hours** (``alerts.quiet_hours``): a delivery whose alert is below
  ``hold_below`` (and every digest) is not sent between ``start`` and ``end`` local time;
  the outbox moves its next attempt to the end of the quiet hours, without counting an
  attempt. Urgent alerts are sent at once.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from social_crm.alerts.escalation import RESOLVED
from social_crm.alerts.models import Alert
from social_crm.config import DigestConfig, QuietHours, severity_rank
from social_crm.db.base import utcnow
from social_crm.delivery.models import Delivery

LOGGER = logging.getLogger(__name__)


def _clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def period_start(config: DigestConfig, now: datetime) -> datetime:
    """The latest digest boundary at or before ``now`` (UTC)."""
    zone = ZoneInfo(config.timezone)
    local = now.astimezone(zone)
    if config.every == "hourly":
        boundary = local.replace(minute=0, second=0, microsecond=0)
    else:
        boundary = datetime.combine(local.date(), _clock(config.daily_at), tzinfo=zone)
        if boundary > local:
            boundary = datetime.combine(
                local.date() - timedelta(days=1), _clock(config.daily_at), tzinfo=zone
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
        waiting = session.scalars(select(Delivery).where(Delivery.status == "digest")).all()
        for row in waiting:
            row.status, row.next_attempt_at = "pending", now
        return []
    boundary = period_start(config, now)
    rows = session.scalars(
        select(Delivery)
        .where(Delivery.status == "digest", Delivery.created_at < boundary)
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
        live = []
        for row in items:
            alert = session.get(Alert, row.alert_id) if row.alert_id else None
            if alert is None or alert.status == RESOLVED:
                row.status = "skipped"
            else:
                live.append(row)
        if not live:
            continue
        digest = Delivery(
            kind="digest",
            alert_id=None,
            channel=channel,
            level=0,
            idempotency_key=key,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        session.add(digest)
        session.flush()
        for row in live:
            row.status, row.digest_id = "digested", digest.id
        LOGGER.info("digest for %s: %d alert(s) until %s", channel, len(live), stamp)
        digests.append(digest)
    session.flush()
    return digests


def quiet_until(config: QuietHours | None, now: datetime) -> datetime | None:
    """The end of the quiet hours (UTC) when ``now`` falls in them, else None."""
    if config is None or config.start == config.end:
        return None
    zone = ZoneInfo(config.timezone)
    local = now.astimezone(zone)
    start, end, clock = _clock(config.start), _clock(config.end), local.time()
    if start < end:
        inside, end_day = start <= clock < end, local.date()
    else:  # across midnight, e.g. 22:00-07:00
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


def held_until(config: QuietHours | None, severity: str | None, now: datetime) -> datetime | None:
    """When a delivery of ``severity`` (None: a digest) may go out, if it must wait."""
    if config is None:
        return None
    if severity is not None and severity_rank(severity) >= severity_rank(config.hold_below):
        return None
    return quiet_until(config, now)
