"""The SLA job: re-escalate open alerts nobody acknowledged in time."""

from __future__ import annotations

from social_crm.alerts.sla import check_sla as escalate_overdue
from social_crm.jobs.context import JobContext


def check_sla(ctx: JobContext) -> int:
    """Re-escalate open alerts past their SLA to the next level; returns how many."""
    with ctx.db.transaction() as session:
        overdue = escalate_overdue(
            session,
            ctx.settings.escalation,
            ctx.routing,
            quiet=ctx.settings.alerts.quiet_hours,
            now=ctx.now(),
        )
    return len(overdue)
