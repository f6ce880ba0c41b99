"""The cursor of a source that has seen nothing yet: the moment it started listening.

A source's first poll that finds nothing stores ``since:<ISO time>`` instead of inventing
an id (a server may answer an id it never issued with nothing, for ever). The next polls
page back to that time; the first item seen replaces it with a real cursor.
"""

from __future__ import annotations

from datetime import UTC, datetime

PREFIX = "since:"


def listening_since(moment: datetime) -> str:
    """The cursor of a source listening since ``moment`` (timezone-aware)."""
    return PREFIX + moment.astimezone(UTC).isoformat()


def started_at(cursor: str | None) -> datetime | None:
    """The moment a ``since:`` cursor holds; None for any other cursor (or an unreadable one)."""
    if cursor is None or not cursor.startswith(PREFIX):
        return None
    try:
        moment = datetime.fromisoformat(cursor.removeprefix(PREFIX))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
