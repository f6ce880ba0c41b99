"""Named points in time that incremental jobs keep in the database, so a restart resumes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from social_crm.db.base import Base, UtcDateTime


class Watermark(Base):
    """How far an incremental job has got: a named point in time."""

    __tablename__ = "watermarks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)


def get(session: Session, name: str) -> datetime | None:
    """The stored time of ``name``, or None if it was never set."""
    row = session.get(Watermark, name)
    return row.at if row is not None else None


def put(session: Session, name: str, at: datetime) -> None:
    """Store ``at`` as the time of ``name`` (in the caller's transaction)."""
    row = session.get(Watermark, name)
    if row is None:
        session.add(Watermark(name=name, at=at))
    else:
        row.at = at
    session.flush()
