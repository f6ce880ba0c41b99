"""The propose job: draft replies for the mentions the proposal rules match."""

from __future__ import annotations

from social_crm.engagement.proposals import propose_pending
from social_crm.jobs.context import JobContext


def propose_replies(ctx: JobContext) -> int:
    """Look at newly escalated mentions; returns how many drafts were proposed."""
    with ctx.db.transaction() as session:
        proposed = propose_pending(
            session, ctx.settings.engagement, ctx.settings.brands, now=ctx.now()
        )
        return len(proposed)
