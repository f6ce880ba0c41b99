"""The escalate job: open alerts for classified mentions that match a rule."""

from __future__ import annotations

from social_crm.alerts.escalation import escalate_batch
from social_crm.jobs.context import JobContext

# Mentions looked at per transaction.
BATCH_SIZE = 500


def escalate(ctx: JobContext) -> int:
    """Open or extend alerts for every mention not escalated yet, a batch per transaction;
    returns how many alerts were opened."""
    opened = 0
    while not ctx.stop.is_set():
        with ctx.db.transaction() as session:
            done = escalate_batch(
                session, ctx.settings.escalation, ctx.routing, now=ctx.now(), limit=BATCH_SIZE
            )
        opened += len(done.opened)
        if done.looked_at < BATCH_SIZE:
            break
    return opened
