"""The refresh job: re-read a connector's recent mentions for edits and deletions."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import select

from connectors.base import Refreshable
from connectors.errors import AuthenticationError, ConnectorError
from social_crm.jobs.context import TURN_SECONDS, JobContext
from social_crm.jobs.poll import disable
from social_crm.mentions import sources
from social_crm.mentions.ingest import apply_revisions
from social_crm.mentions.models import MentionRecord

LOGGER = logging.getLogger(__name__)

REFRESH_CHUNK = 100  # ids per refresh request: Reddit's /api/info takes at most 100


def refresh(ctx: JobContext, name: str) -> int:
    """Re-read one connector's recent mentions for edits and deletions; returns changes.

    A pass re-reads every mention of the last ``health.refresh_window_hours``, a chunk per
    request, in turns of ``TURN_SECONDS``: a run that ends its turn with mentions left
    keeps them in ``ctx.refreshing`` and puts the job in ``ctx.run_again``, so that a busy
    brand's pass does not hold the pipeline (which shares this thread) for minutes.
    """
    connector = ctx.connectors[name]
    if not isinstance(connector, Refreshable):
        return 0
    with ctx.db.transaction() as session:
        if sources.is_disabled(session, name):
            ctx.refreshing.pop(name, None)
            return 0
        left = ctx.refreshing.pop(name, None)
        if left is None:  # a new pass
            since = ctx.now() - timedelta(hours=ctx.settings.health.refresh_window_hours)
            left = [
                (native_id, locator)
                for native_id, locator in session.execute(
                    select(MentionRecord.native_id, MentionRecord.locator).where(
                        MentionRecord.network == connector.network,
                        MentionRecord.created_at >= since,
                        MentionRecord.deleted_at.is_(None),
                    )
                )
            ]
    changed = 0
    turn_ends = time.monotonic() + TURN_SECONDS
    while left and not ctx.stop.is_set():
        if time.monotonic() >= turn_ends:
            ctx.refreshing[name] = left  # the rest of this pass, at the next run
            ctx.run_again.add(f"refresh:{name}")
            break
        chunk, left = left[:REFRESH_CHUNK], left[REFRESH_CHUNK:]
        try:
            revisions = connector.refresh(
                [native_id for native_id, _ in chunk],
                locators={native_id: locator for native_id, locator in chunk if locator},
            )
        except AuthenticationError as exc:
            disable(ctx, name, None, exc)
            break
        except ConnectorError as exc:
            LOGGER.warning("refresh of %s stopped: %s", name, exc)
            break
        with ctx.db.transaction() as session:
            changed += apply_revisions(session, connector.network, revisions)
    if changed:
        LOGGER.info("%s: %d mention(s) edited or deleted", name, changed)
    return changed
