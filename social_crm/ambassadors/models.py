"""Ambassador scores with the figures behind them, and people's review decisions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from social_crm.db.base import Base, UtcDateTime, utcnow
from social_crm.mentions.models import AuthorRecord


class AmbassadorScore(Base):
    """An author's latest ambassador score with the figures that make it up."""

    __tablename__ = "ambassador_scores"

    author_id: Mapped[int] = mapped_column(
        ForeignKey("authors.id", ondelete="CASCADE"), primary_key=True
    )
    score: Mapped[float] = mapped_column(Float, index=True)
    components: Mapped[dict[str, Any]] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Score history for "rising" candidates: growth is measured from the previous score,
    # a checkpoint at least one rising window old; the checkpoint becomes it a window later.
    previous_score: Mapped[float | None] = mapped_column(Float)
    previous_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    checkpoint_score: Mapped[float | None] = mapped_column(Float)
    checkpoint_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    author: Mapped[AuthorRecord] = relationship()


class AmbassadorReview(Base):
    """A person's decision about an ambassador candidate: approved, rejected or opted out."""

    __tablename__ = "ambassador_reviews"

    author_id: Mapped[int] = mapped_column(
        ForeignKey("authors.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(20), index=True)
    reviewed_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    author: Mapped[AuthorRecord] = relationship()
