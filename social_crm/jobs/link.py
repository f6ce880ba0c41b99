"""The link job: match the authors of new mentions to customers."""

from __future__ import annotations

from social_crm.customers.linking import link_authors
from social_crm.jobs.context import JobContext


def link(ctx: JobContext) -> int:
    """Link the authors not checked since the customers changed; returns how many were linked."""
    with ctx.db.transaction() as session:
        return link_authors(session, ctx.settings.linking, now=ctx.now())
