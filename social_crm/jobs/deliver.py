"""The deliver job: send the alert deliveries that are due."""

from __future__ import annotations

import logging

from social_crm.delivery.outbox import deliver_due
from social_crm.jobs.context import JobContext

LOGGER = logging.getLogger(__name__)


def deliver(ctx: JobContext) -> int:
    """Send due alert deliveries; returns how many were sent."""
    sent, _failed = deliver_due(ctx.db, ctx.notifiers, ctx.settings.alerts, now=ctx.now())
    return sent
