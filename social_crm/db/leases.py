"""Leases: work one process holds for a while, renews while it works, and others take over
once it runs out.

A lease is an owner and an expiry on a row: a named lease in the ``leases`` table (a job
that runs once per cluster), or the lease columns of another table (a source's cursor
row). Taking one is a single conditional UPDATE (free, expired, or already the taker's),
atomic on every backend, so two processes never hold the same lease. Times are the
processes' clocks: keep the hosts' clocks in sync (NTP), well within a lease.
"""

from __future__ import annotations

import os
import secrets
import socket
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, String, or_, update
from sqlalchemy.orm import InstrumentedAttribute, Mapped, Session, mapped_column

from social_crm.db import insert_ignoring_duplicates
from social_crm.db.base import Base, UtcDateTime


class Lease(Base):
    """A named piece of work and the process that holds it until ``expires_at``."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(300))
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


def new_holder() -> str:
    """This process's owner id: ``host:pid:random`` (the random part tells restarts apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def takeable(
    owner: InstrumentedAttribute[Any],
    expires_at: InstrumentedAttribute[Any],
    *,
    holder: str,
    now: datetime,
) -> ColumnElement[bool]:
    """Rows whose lease ``holder`` may take: free, expired, or its own already."""
    return or_(owner.is_(None), owner == holder, expires_at < now)


def take(
    session: Session,
    owner: InstrumentedAttribute[Any],
    expires_at: InstrumentedAttribute[Any],
    *where: ColumnElement[bool],
    holder: str,
    seconds: float,
    now: datetime,
) -> int:
    """Take or renew, in one atomic UPDATE, the leases of the rows matching ``where`` that
    ``holder`` may take; returns how many rows it now holds of those."""
    result = session.execute(
        update(owner.class_)
        .where(*where, takeable(owner, expires_at, holder=holder, now=now))
        .values({owner: holder, expires_at: now + timedelta(seconds=seconds)})
        .execution_options(synchronize_session=False)
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]


def acquire(session: Session, name: str, *, holder: str, seconds: float, now: datetime) -> bool:
    """Take or renew the named lease for ``seconds``; False while another process holds it."""
    if take(
        session,
        Lease.owner,
        Lease.expires_at,
        Lease.name == name,
        holder=holder,
        seconds=seconds,
        now=now,
    ):
        return True
    # Never held before: the first insert wins; a concurrent one inserts nothing.
    inserted = session.scalar(
        insert_ignoring_duplicates(session, Lease)
        .values(name=name, owner=holder, expires_at=now + timedelta(seconds=seconds))
        .returning(Lease.name)
    )
    return inserted is not None


def release(session: Session, name: str, *, holder: str) -> None:
    """Let go of the named lease, if ``holder`` holds it."""
    session.execute(
        update(Lease)
        .where(Lease.name == name, Lease.owner == holder)
        .values(owner=None, expires_at=None)
        .execution_options(synchronize_session=False)
    )


def release_all(session: Session, *, holder: str) -> int:
    """Let go of every named lease ``holder`` holds; returns how many."""
    result = session.execute(
        update(Lease)
        .where(Lease.owner == holder)
        .values(owner=None, expires_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount  # type: ignore[attr-defined, no-any-return]
