"""The escalate job: open alerts for classified mentions that match a rule."""

from __future__ import annotations

from social_crm.alerts.escalation import escalate_pending
from social_crm.jobs.context import JobContext


def escalate(ctx: JobContext) -> int:
    """Open or extend alerts for the mentions not escalated yet; returns how many were opened."""
    with ctx.db.transaction() as session:
        opened = escalate_pending(session, ctx.settings.escalation, ctx.routing, now=ctx.now())
    return len(opened)
