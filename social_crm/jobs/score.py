"""The score job: recompute the ambassador ranking."""

from __future__ import annotations

from social_crm.ambassadors import scoring
from social_crm.jobs.context import JobContext


def score(ctx: JobContext) -> int:
    """Recompute the ambassador ranking; returns how many authors it ranks."""
    with ctx.db.transaction() as session:
        return scoring.recompute(session, config=ctx.settings.ambassadors, now=ctx.now())
