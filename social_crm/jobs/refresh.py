"""The refresh job: re-read a connector's recent mentions for edits and deletions."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select

from connectors.base import Refreshable
from connectors.errors import AuthenticationError, ConnectorError
from social_crm.jobs.context import JobContext
from social_crm.jobs.poll import disable
from social_crm.mentions import sources
from social_crm.mentions.ingest import apply_revisions
from social_crm.mentions.models import MentionRecord

LOGGER = logging.getLogger(__name__)

REFRESH_CHUNK = 100  # ids per refresh request: Reddit's /api/info takes at most 100


def refresh(ctx: JobContext, name: str) -> int:
    """Re-read one connector's recent mentions for edits and deletions; returns changes."""
    connector = ctx.connectors[name]
    if not isinstance(connector, Refreshable):
        return 0
    since = ctx.now() - timedelta(hours=ctx.settings.health.refresh_window_hours)
    with ctx.db.transaction() as session:
        if sources.is_disabled(session, name):
            return 0
        rows = session.execute(
            select(MentionRecord.native_id, MentionRecord.locator).where(
                MentionRecord.network == connector.network,
                MentionRecord.created_at >= since,
                MentionRecord.deleted_at.is_(None),
            )
        ).all()
    ids = [native_id for native_id, _ in rows]
    locators = {native_id: locator for native_id, locator in rows if locator}
    changed = 0
    for start in range(0, len(ids), REFRESH_CHUNK):
        if ctx.stop.is_set():
            break
        chunk = ids[start : start + REFRESH_CHUNK]
        try:
            revisions = connector.refresh(
                chunk, locators={nid: locators[nid] for nid in chunk if nid in locators}
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
