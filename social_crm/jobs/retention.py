"""The retention job: clear mention text and profile data past each network's period."""

from __future__ import annotations

from social_crm.jobs.context import JobContext
from social_crm.privacy import retention as policy

RETENTION_INTERVAL_SECONDS = 24 * 3600.0  # daily: periods are counted in days


def retention(ctx: JobContext) -> int:
    """Apply the configured retention periods; returns how many records it cleared."""
    return policy.apply(ctx.db, ctx.settings.retention, now=ctx.now(), stop=ctx.stop).total
