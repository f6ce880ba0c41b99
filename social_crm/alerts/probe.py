"""Is the cluster healthy? The answer `social-crm health` gives service managers and probes.

Healthy means: a daemon has sent its heartbeat recently, no source of an enabled
connector has failed for longer than ``health.failing_alert_minutes`` or been disabled,
and no source's lease ran out without its daemon renewing it or another taking it over
(a daemon alive but stuck, or one killed with nobody left to take its sources).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from social_crm.config import HealthConfig
from social_crm.db.base import utcnow
from social_crm.db.heartbeats import MISSED_BEATS, Heartbeat
from social_crm.mentions.models import SourceCursor

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Probe:
    """What the probe found: the running daemons, the sources and every problem, one line each."""

    daemons: int
    sources: int
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def probe(
    session: Session,
    *,
    health: HealthConfig,
    connectors: Collection[str],
    heartbeat_max_age: float | None = None,
    now: datetime | None = None,
) -> Probe:
    """Check the daemons' heartbeats and the sources of ``connectors`` (the enabled ones).

    ``heartbeat_max_age``: seconds since a daemon's last beat before it counts as gone
    (default: three of its own heartbeat intervals).
    """
    now = now or utcnow()
    problems: list[str] = []
    beats = session.scalars(
        select(Heartbeat).where(Heartbeat.stopped_at.is_(None)).order_by(Heartbeat.last_beat)
    ).all()
    running = [
        beat
        for beat in beats
        if now - beat.last_beat
        <= timedelta(seconds=heartbeat_max_age or beat.interval_seconds * MISSED_BEATS)
    ]
    if not running:
        last = session.scalar(select(Heartbeat.last_beat).order_by(Heartbeat.last_beat.desc()))
        seen = f"last one at {last:%Y-%m-%d %H:%M:%S} UTC" if last else "none ever ran here"
        problems.append(f"no daemon heartbeat within its limit ({seen})")
    rows = session.scalars(
        select(SourceCursor)
        .where(SourceCursor.connector.in_(sorted(connectors)))
        .order_by(SourceCursor.connector, SourceCursor.source_key)
    ).all()
    failing_limit = timedelta(minutes=health.failing_alert_minutes)
    disabled: set[str] = set()
    for row in rows:
        source = f"{row.connector}/{row.source_key}"
        if row.disabled_at is not None:
            if row.connector not in disabled:
                disabled.add(row.connector)
                problems.append(f"connector {row.connector} is disabled: {row.disabled_reason}")
            continue
        if (
            row.consecutive_failures
            and row.failing_since is not None
            and now - row.failing_since >= failing_limit
        ):
            minutes = (now - row.failing_since).total_seconds() / 60
            problems.append(
                f"source {source} has failed for {minutes:.0f} minutes "
                f"({row.consecutive_failures} polls in a row): {row.last_error}"
            )
        expired = row.lease_expires_at
        if running and row.lease_owner is not None and expired is not None and expired < now:
            problems.append(
                f"source {source}: the lease of daemon {row.lease_owner} ran out "
                f"{(now - expired).total_seconds():.0f} s ago and no daemon renewed or took it"
            )
    return Probe(daemons=len(running), sources=len(rows), problems=problems)
