"""The send job: post the approved replies that are due, through their network's connector."""

from __future__ import annotations

import logging

from connectors.base import Replyable
from social_crm.engagement.sending import (
    anything_to_send,
    hold_for_dry_run,
    reply_accounts,
    send_due,
)
from social_crm.jobs.context import JobContext

LOGGER = logging.getLogger(__name__)


def replyable(ctx: JobContext) -> dict[str, Replyable]:
    """The connectors that can post replies, by the network they post on."""
    found: dict[str, Replyable] = {}
    for connector in ctx.connectors.values():
        if isinstance(connector, Replyable):
            found.setdefault(connector.network, connector)
    return found


def send_replies(ctx: JobContext) -> int:
    """Send due approved replies (with engagement.dry_run: only log them); returns how many
    were sent."""
    connectors = replyable(ctx)
    if not connectors or not anything_to_send(ctx.db):
        return 0
    config = ctx.settings.engagement
    if config.dry_run:
        hold_for_dry_run(ctx.db, reply_accounts(connectors), config, now=ctx.now())
        return 0
    return send_due(ctx.db, connectors, config, now=ctx.now()).sent
