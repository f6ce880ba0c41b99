"""Which daemon polls which source: a lease on each source's cursor row.

Several daemons on one database (running the same connectors) share a connector's
sources: each holds the leases of its fair share (the sources divided by the running
daemons, rounded up), renews them at every poll run and just before each fetch, and lets
go of any beyond its share so a daemon that started later gets some. A source whose
holder stopped renewing (killed, host down, stuck) is taken over by the next poll run
anywhere once its lease ran out, whatever the shares; so is a free one nobody polled for
a lease period. Each lease is taken in its own short transaction, so no daemon ever
waits for another's lease while holding one.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from social_crm.config import Settings
from social_crm.db import Database, heartbeats, leases
from social_crm.mentions.ingest import load_cursor
from social_crm.mentions.models import SourceCursor
from social_crm.mentions.sources import pacing_bounds

LOGGER = logging.getLogger(__name__)

# A source's lease outlasts this many runs of its connector's poll job, which renews it.
RENEWALS_PER_LEASE = 3


def lease_seconds(settings: Settings, connector: str) -> float:
    """How long a source's lease lasts: scheduler.lease_seconds, or three poll intervals."""
    floor, _ = pacing_bounds(settings, connector)
    return max(settings.scheduler.lease_seconds, RENEWALS_PER_LEASE * floor)


def claim(
    db: Database,
    connector: str,
    source_keys: Sequence[str],
    *,
    holder: str,
    seconds: float,
    now: datetime,
) -> list[str]:
    """Renew ``holder``'s leases on these sources and take its share; returns the keys it
    holds, in the order given."""
    keys = list(source_keys)
    with db.transaction() as session:
        for key in keys:
            load_cursor(session, connector, key)  # a row to carry the lease
        # A source no longer watched is polled by nobody: no lease of it should run out.
        session.execute(
            update(SourceCursor)
            .where(
                SourceCursor.connector == connector,
                SourceCursor.source_key.not_in(keys),
                SourceCursor.lease_owner.is_not(None),
                or_(SourceCursor.lease_owner == holder, SourceCursor.lease_expires_at < now),
            )
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
        live = max(heartbeats.running_count(session, now=now), 1)
    share = math.ceil(len(keys) / live)
    held = [
        key for key in keys if renew(db, connector, key, holder=holder, seconds=seconds, now=now)
    ]
    for key in held[share:]:
        with db.transaction() as session:
            _release(session, connector, key, holder=holder)
        LOGGER.info("source %s/%s left to another daemon (%d running)", connector, key, live)
    held = held[:share]
    with db.transaction() as session:
        rows = {
            row.source_key: row
            for row in session.execute(
                select(
                    SourceCursor.source_key,
                    SourceCursor.lease_owner,
                    SourceCursor.lease_expires_at,
                    SourceCursor.last_success_at,
                    SourceCursor.last_error_at,
                ).where(SourceCursor.connector == connector, SourceCursor.source_key.in_(keys))
            )
        }
    for key in keys:
        row = rows.get(key)
        if key in held or row is None:
            continue
        expires_at = row.lease_expires_at
        orphaned = row.lease_owner is not None and (expires_at is None or expires_at < now)
        if row.lease_owner is not None and not orphaned:
            continue  # another daemon's, and it renews it
        # A free source nobody polled for a lease period (the other daemons do not run this
        # connector, say) is taken beyond the share: every source is polled by someone.
        attempts = [at for at in (row.last_success_at, row.last_error_at) if at is not None]
        neglected = not attempts or max(attempts) < now - timedelta(seconds=seconds)
        if not orphaned and not neglected and len(held) >= share:
            continue  # free, but this daemon has its share
        with db.transaction() as session:
            if not _take(session, connector, key, holder=holder, seconds=seconds, now=now):
                continue  # another daemon was quicker
        held.append(key)
        if orphaned:
            LOGGER.info("source %s/%s taken over: its daemon's lease ran out", connector, key)
    return [key for key in keys if key in held]


def renew(
    db: Database, connector: str, key: str, *, holder: str, seconds: float, now: datetime
) -> bool:
    """Extend ``holder``'s lease on a source, in its own transaction; False if it lost it."""
    with db.transaction() as session:
        return holds(session, connector, key, holder=holder, seconds=seconds, now=now)


def holds(
    session: Session, connector: str, key: str, *, holder: str, seconds: float, now: datetime
) -> bool:
    """Extend ``holder``'s lease on a source in the caller's transaction, locking the row
    until it ends; False if another daemon holds it now."""
    return bool(
        leases.take(
            session,
            SourceCursor.lease_owner,
            SourceCursor.lease_expires_at,
            SourceCursor.connector == connector,
            SourceCursor.source_key == key,
            SourceCursor.lease_owner == holder,
            holder=holder,
            seconds=seconds,
            now=now,
        )
    )


def release_all(db: Database, *, holder: str) -> int:
    """Let go of every source ``holder`` holds (a daemon stopping); returns how many."""
    with db.transaction() as session:
        result = session.execute(
            update(SourceCursor)
            .where(SourceCursor.lease_owner == holder)
            .values(lease_owner=None, lease_expires_at=None)
            .execution_options(synchronize_session=False)
        )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


def _take(
    session: Session, connector: str, key: str, *, holder: str, seconds: float, now: datetime
) -> bool:
    return bool(
        leases.take(
            session,
            SourceCursor.lease_owner,
            SourceCursor.lease_expires_at,
            SourceCursor.connector == connector,
            SourceCursor.source_key == key,
            holder=holder,
            seconds=seconds,
            now=now,
        )
    )


def _release(session: Session, connector: str, key: str, *, holder: str) -> None:
    session.execute(
        update(SourceCursor)
        .where(
            SourceCursor.connector == connector,
            SourceCursor.source_key == key,
            SourceCursor.lease_owner == holder,
        )
        .values(lease_owner=None, lease_expires_at=None)
        .execution_options(synchronize_session=False)
    )
