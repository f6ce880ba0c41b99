"""The spikes job: a crisis alert when a brand's negative volume jumps."""

from __future__ import annotations

from social_crm.alerts import spikes
from social_crm.jobs.context import JobContext


def check_spikes(ctx: JobContext) -> int:
    """Raise a crisis alert for each brand whose negative volume spikes; returns how many."""
    with ctx.db.transaction() as session:
        crises = spikes.check_spikes(
            session, ctx.settings.spikes, ctx.settings.escalation, ctx.routing, now=ctx.now()
        )
    return len(crises)
