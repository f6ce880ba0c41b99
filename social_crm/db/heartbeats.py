"""Daemon heartbeats: each running daemon says it is alive, so `status` can tell."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import metadata

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from social_crm.db.base import Base, UtcDateTime, utcnow

# A daemon not heard of for this many beats is taken for gone (killed, host down).
MISSED_BEATS = 3


class Heartbeat(Base):
    """One daemon process: who it is, since when it runs, when it last said so."""

    __tablename__ = "daemon_heartbeats"

    id: Mapped[int] = mapped_column(primary_key=True)
    pid: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(255))
    version: Mapped[str] = mapped_column(String(50))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_beat: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    interval_seconds: Mapped[int] = mapped_column(Integer)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def version() -> str:
    """The installed social-crm version."""
    try:
        return metadata.version("social-crm")
    except metadata.PackageNotFoundError:
        return "unknown"


def start(session: Session, *, interval_seconds: int, now: datetime | None = None) -> int:
    """Record this process as a running daemon; returns its heartbeat id."""
    now = now or utcnow()
    row = Heartbeat(
        pid=os.getpid(),
        host=socket.gethostname()[:255],
        version=version()[:50],
        started_at=now,
        last_beat=now,
        interval_seconds=interval_seconds,
    )
    session.add(row)
    session.flush()
    return row.id


def beat(session: Session, heartbeat_id: int, *, now: datetime | None = None) -> None:
    """Say that the daemon ``heartbeat_id`` is still alive."""
    row = session.get(Heartbeat, heartbeat_id)
    if row is not None:
        row.last_beat = now or utcnow()


def stop(session: Session, heartbeat_id: int, *, now: datetime | None = None) -> None:
    """Record that the daemon ``heartbeat_id`` stopped cleanly."""
    row = session.get(Heartbeat, heartbeat_id)
    if row is not None:
        row.last_beat = row.stopped_at = now or utcnow()


def stop_others(session: Session, heartbeat_id: int, *, now: datetime | None = None) -> int:
    """Record every daemon but ``heartbeat_id`` as stopped (they are known to be gone);
    returns how many seemed to run."""
    now = now or utcnow()
    others = session.scalars(
        select(Heartbeat).where(Heartbeat.id != heartbeat_id, Heartbeat.stopped_at.is_(None))
    ).all()
    for row in others:
        row.stopped_at = now
    return len(others)


@dataclass(frozen=True, slots=True)
class DaemonState:
    """What `social-crm status` says about the daemons: those running, or the last seen."""

    running: list[Heartbeat]
    last_seen: datetime | None


def daemons(session: Session, *, now: datetime | None = None) -> DaemonState:
    """The daemons whose heartbeat is recent, newest first, and when one was last seen."""
    now = now or utcnow()
    rows = session.scalars(select(Heartbeat).order_by(Heartbeat.last_beat.desc())).all()
    running = [
        row
        for row in rows
        if row.stopped_at is None
        and row.last_beat >= now - timedelta(seconds=row.interval_seconds * MISSED_BEATS)
    ]
    return DaemonState(running=running, last_seen=rows[0].last_beat if rows else None)


def running_count(session: Session, *, now: datetime | None = None) -> int:
    """How many daemons are running: not stopped, and heard of within their missed beats."""
    now = now or utcnow()
    # A bound the index can use; no daemon beats less often than once a day.
    recent = session.execute(
        select(Heartbeat.last_beat, Heartbeat.interval_seconds).where(
            Heartbeat.stopped_at.is_(None), Heartbeat.last_beat >= now - timedelta(days=1)
        )
    ).all()
    return sum(
        last_beat >= now - timedelta(seconds=interval * MISSED_BEATS)
        for last_beat, interval in recent
    )
