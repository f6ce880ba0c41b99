"""When a source is polled next: adaptive pacing, backoff after failures, disabled connectors.

The state lives on each source's cursor row, so another process can pick a source up where
this one left it. A connector whose credentials were refused stays disabled until a daemon
that runs it starts again (`enable` at start-up): a restart after fixing them re-enables it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from connectors.errors import ConnectorError
from social_crm.config import Settings
from social_crm.mentions.ingest import load_cursor
from social_crm.mentions.models import SourceCursor

BACKOFF_BASE_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 900.0
DEFAULT_POLL_SECONDS = 60.0
# A poll that fills this share of a page costs one request: fewer requests per mention than
# polling a busy source too rarely (two pages) or a quiet one too often (empty pages).
TARGET_PAGE_FILL = 0.8


def pacing_bounds(settings: Settings, connector: str) -> tuple[float, float]:
    """The shortest and longest polling interval of a connector's sources, in seconds."""
    entry = settings.connectors.get(connector)
    floor = entry.poll_interval_seconds if entry else DEFAULT_POLL_SECONDS
    ceiling = (entry.max_poll_interval_seconds if entry else None) or floor * 10
    return floor, max(ceiling, floor)


def is_due(row: SourceCursor, now: datetime, *, paced: bool = True) -> bool:
    """Whether a source may be polled at ``now``: not backing off and, if paced, its time came."""
    if row.retry_at is not None and row.retry_at > now:
        return False
    return not (paced and row.next_poll_at is not None and row.next_poll_at > now)


def due_cursors(
    session: Session, connector: str, source_keys: Iterable[str], now: datetime, *, paced: bool
) -> dict[str, str | None]:
    """The stored cursor of each of these sources that is due at ``now``, in their order."""
    keys = list(source_keys)
    rows = {
        row.source_key: row
        for row in session.scalars(
            select(SourceCursor).where(
                SourceCursor.connector == connector, SourceCursor.source_key.in_(keys)
            )
        )
    }
    due: dict[str, str | None] = {}
    for key in keys:
        row = rows.get(key) or load_cursor(session, connector, key)
        if is_due(row, now, paced=paced):
            due[key] = row.cursor
    return due


def next_interval(
    interval: float, *, fetched: int, page_size: int | None, floor: float, ceiling: float
) -> float:
    """The interval after a poll: busy sources polled often, quiet ones rarely."""
    if not page_size:
        return interval
    fill = fetched / page_size
    proposed = interval * 2 if fetched == 0 else interval * TARGET_PAGE_FILL / fill
    return min(max(math.sqrt(interval * proposed), floor), ceiling)


def backoff_seconds(failures: int, *, retry_after: float | None = None) -> float:
    """How long to wait after ``failures`` failed polls in a row: the server's word, or
    exponential with jitter up to a cap."""
    if retry_after is not None:
        return retry_after
    delay = min(BACKOFF_BASE_SECONDS * 2 ** (failures - 1), BACKOFF_MAX_SECONDS)
    return delay * random.uniform(0.8, 1.2)


def record_success(
    row: SourceCursor,
    *,
    fetched: int,
    page_size: int | None,
    floor: float,
    ceiling: float,
    now: datetime,
) -> None:
    """Clear a polled source's backoff and pace its next poll."""
    interval = next_interval(
        row.poll_interval_seconds or floor,
        fetched=fetched,
        page_size=page_size,
        floor=floor,
        ceiling=ceiling,
    )
    row.poll_interval_seconds = interval
    row.retry_at = row.failing_since = None
    # The poll job runs every `floor` seconds; a little slack keeps a due source from
    # waiting a whole extra round for a few milliseconds.
    row.next_poll_at = now + timedelta(seconds=interval - min(floor, interval) * 0.1)


def record_failure(
    session: Session,
    connector: str,
    source_key: str,
    error: Exception,
    *,
    now: datetime,
    floor: float,
    retry_after: float | None = None,
) -> tuple[int, float]:
    """Note a failed poll and back off; returns (failures in a row, seconds until the retry).

    The poll job runs every ``floor`` seconds, so the retry is its first run once the
    backoff is over: the seconds returned are that run's, the next attempt as it happens.
    """
    row = load_cursor(session, connector, source_key)
    failures = note_error(row, error, now=now)
    delay = backoff_seconds(failures, retry_after=retry_after)
    row.retry_at = now + timedelta(seconds=delay)
    return failures, math.ceil(delay / floor) * floor if floor > 0 else delay


def note_error(row: SourceCursor, error: Exception, *, now: datetime) -> int:
    """Count a failed poll of a source; returns how many polls in a row have failed."""
    if row.consecutive_failures == 0 or row.failing_since is None:
        row.failing_since = now
    row.consecutive_failures += 1
    row.last_error = str(error) if isinstance(error, ConnectorError) else _described(error)
    row.last_error_at = now
    return row.consecutive_failures


def _described(error: Exception) -> str:
    """An unexpected error as one line: its type (``KeyError: 'score'``) and message."""
    message = str(error).strip().splitlines()
    return f"{type(error).__name__}: {message[0]}" if message else type(error).__name__


def is_disabled(session: Session, connector: str) -> bool:
    """Whether a connector was disabled (its credentials refused) since its daemon started."""
    return (
        session.scalar(
            select(SourceCursor.id)
            .where(SourceCursor.connector == connector, SourceCursor.disabled_at.is_not(None))
            .limit(1)
        )
        is not None
    )


def disable(
    session: Session, connector: str, source_keys: Iterable[str], reason: str, *, now: datetime
) -> bool:
    """Mark every source of a connector disabled; returns False if it already was."""
    if is_disabled(session, connector):
        return False
    for key in source_keys:
        load_cursor(session, connector, key)  # a row to carry the marker
    session.execute(
        update(SourceCursor)
        .where(SourceCursor.connector == connector)
        .values(disabled_at=now, disabled_reason=reason)
    )
    return True


def enable(session: Session, connectors: Iterable[str]) -> list[str]:
    """Clear the disabled marker of these connectors; returns those that were disabled."""
    names = list(connectors)
    disabled = session.scalars(
        select(SourceCursor.connector)
        .where(SourceCursor.connector.in_(names), SourceCursor.disabled_at.is_not(None))
        .distinct()
        .order_by(SourceCursor.connector)
    ).all()
    if disabled:
        session.execute(
            update(SourceCursor)
            .where(SourceCursor.connector.in_(disabled))
            .values(disabled_at=None, disabled_reason=None)
        )
    return list(disabled)
