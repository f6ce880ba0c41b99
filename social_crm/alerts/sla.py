"""SLA re-escalation: an alert nobody acknowledged in time goes to the next level's channels.

``alerts.levels`` lists the channels of each escalation level. If an alert is still open
(not acknowledged) when its severity's SLA (``escalation.sla_minutes``) runs out,
:func:`check_sla` queues it for the next level's channels, once per level, and restarts
the clock, until the last level. During quiet hours that hold the alert's severity, the
clock starts again when they end.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from social_crm.alerts.enums import AlertStatus
from social_crm.alerts.escalation import Routing, queue_deliveries, sla_due
from social_crm.alerts.models import Alert
from social_crm.config import EscalationConfig, QuietHours
from social_crm.db.base import utcnow
from social_crm.delivery.quiet_hours import held_until

LOGGER = logging.getLogger(__name__)


def check_sla(
    session: Session,
    config: EscalationConfig,
    routing: Routing,
    *,
    quiet: QuietHours | None = None,
    now: datetime | None = None,
) -> list[Alert]:
    """Re-escalate open alerts whose SLA ran out to their next level; returns them.

    An alert whose deliveries are held by the quiet hours (``quiet``) was not seen by
    anyone yet: its SLA starts again when the quiet hours end, instead of re-escalating to
    a level that would be held too.
    """
    now = now or utcnow()
    due = session.scalars(
        select(Alert)
        .where(
            Alert.status == AlertStatus.OPEN,
            Alert.sla_due_at.is_not(None),
            Alert.sla_due_at <= now,
        )
        .order_by(Alert.sla_due_at)
        .with_for_update(skip_locked=True)
    ).all()
    escalated = []
    for alert in due:
        level = alert.level + 1
        if level >= len(routing.levels):
            alert.sla_due_at = None  # no level left (levels were shortened since)
            continue
        hold = held_until(quiet, alert.severity, now)
        if hold is not None:
            alert.sla_due_at = sla_due(
                config.sla_minutes.of(alert.severity), routing, alert.level, hold
            )
            LOGGER.info(
                "alert %d: SLA restarts when the quiet hours end (%s)", alert.id, hold.isoformat()
            )
            continue
        queue_deliveries(alert, routing, range(level, level + 1), now=now)
        alert.level, alert.escalated_at = level, now
        alert.sla_due_at = sla_due(config.sla_minutes.of(alert.severity), routing, level, now)
        LOGGER.warning(
            "alert %d (%s) not acknowledged in time: escalated to level %d (%s)",
            alert.id,
            alert.severity,
            level,
            ", ".join(routing.levels[level]),
        )
        escalated.append(alert)
    session.flush()
    return escalated
