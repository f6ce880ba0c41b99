"""Quiet hours (``alerts.quiet_hours``): non-urgent deliveries wait until the night is over.

A delivery whose alert is below ``hold_below`` (and every digest) is not sent between
``start`` and ``end`` local time; the outbox moves its next attempt to the end of the
quiet hours, without counting an attempt. Urgent alerts are sent at once.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from social_crm.config import QuietHours


def clock(value: str) -> time:
    """``HH:MM`` (validated by the configuration) as a time of day."""
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def quiet_until(config: QuietHours | None, now: datetime) -> datetime | None:
    """The end of the quiet hours (UTC) when ``now`` falls in them, else None."""
    if config is None or config.start == config.end:
        return None
    zone = ZoneInfo(config.timezone)
    local = now.astimezone(zone)
    start, end, moment = clock(config.start), clock(config.end), local.time()
    if start < end:
        inside, end_day = start <= moment < end, local.date()
    else:  # across midnight, e.g. 22:00-07:00
        inside = moment >= start or moment < end
        end_day = local.date() + timedelta(days=1) if moment >= start else local.date()
    if not inside:
        return None
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)


def held_until(config: QuietHours | None, severity: str | None, now: datetime) -> datetime | None:
    """When a delivery of ``severity`` (None: a digest) may go out, if it must wait."""
    if config is None or not config.holds(severity):
        return None
    return quiet_until(config, now)
