"""The record that an erasure happened: when, by whom and what it removed, never whose."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from social_crm.db.base import Base, UtcDateTime, utcnow


class Erasure(Base):
    """One erasure of a person's data on one network.

    ``handle_hash`` is HMAC-SHA256 of ``network:handle`` keyed with this row's random
    ``salt``: the row cannot be read back into a handle, but whoever holds a handle can
    check whether it was erased.
    """

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(primary_key=True)
    network: Mapped[str] = mapped_column(String(50))
    handle_hash: Mapped[str] = mapped_column(String(64))
    salt: Mapped[str] = mapped_column(String(32))
    erased_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    erased_by: Mapped[str] = mapped_column(String(200))
    # How many of each kind of record went: {"mentions": 3, "replies": 1, ...}.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON)
