"""The digest job: gather waiting low-severity alerts into one message per period."""

from __future__ import annotations

from social_crm.delivery import digests
from social_crm.jobs.context import JobContext

DIGEST_CHECK_SECONDS = 60.0  # digests are due at the top of the hour or once a day


def build_digests(ctx: JobContext) -> int:
    """Gather waiting low-severity alerts into digests; returns how many were made."""
    with ctx.db.transaction() as session:
        made = digests.build_digests(session, ctx.settings.alerts.digest, now=ctx.now())
    return len(made)
