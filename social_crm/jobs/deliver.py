"""The deliver job: send the alert deliveries that are due."""

from __future__ import annotations

import functools

from social_crm.alerts.notifications import compose
from social_crm.delivery.outbox import deliver_due
from social_crm.jobs.context import JobContext


def deliver(ctx: JobContext) -> int:
    """Send due alert deliveries; returns how many were sent."""
    done = deliver_due(
        ctx.db,
        ctx.notifiers,
        ctx.settings.alerts,
        compose=functools.partial(
            compose,
            base_url=ctx.settings.web.base_url,
            private_channels={c.name for c in ctx.settings.alerts.channels if c.private},
        ),
        now=ctx.now(),
    )
    for channel, failures in done.failed_by_channel.items():
        ctx.metrics.delivery_failures.labels(channel).inc(failures)
    return done.sent
