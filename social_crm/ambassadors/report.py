"""The ambassador ranking as rows: the read model the command line, the demo and exports use."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload

from social_crm.ambassadors.enums import ReviewStatus
from social_crm.ambassadors.models import AmbassadorReview, AmbassadorScore
from social_crm.customers.importer import safe_cell
from social_crm.customers.models import Customer
from social_crm.mentions.models import AuthorRecord


@dataclass(frozen=True, slots=True)
class Entry:
    """One ranked author: the stored score, its growth and the review decision, if any."""

    score: AmbassadorScore
    review: AmbassadorReview | None

    @property
    def growth(self) -> float:
        """How much the score rose since the previous score (a rising window or more ago)."""
        return self.score.score - (self.score.previous_score or 0.0)

    @property
    def review_status(self) -> str:
        """approved, rejected, or empty when no one has decided."""
        return self.review.status if self.review else ""


def _listed() -> Any:
    """The ranking query: scores above zero of authors who have not opted out."""
    return (
        select(AmbassadorScore, AmbassadorReview)
        .join(AuthorRecord, AuthorRecord.id == AmbassadorScore.author_id)
        .outerjoin(Customer, Customer.id == AuthorRecord.customer_id)
        .outerjoin(AmbassadorReview, AmbassadorReview.author_id == AmbassadorScore.author_id)
        .where(
            AmbassadorScore.score > 0,
            or_(
                AmbassadorReview.status.is_(None), AmbassadorReview.status != ReviewStatus.OPTED_OUT
            ),
            Customer.opted_out_at.is_(None),
        )
        .options(joinedload(AmbassadorScore.author).joinedload(AuthorRecord.customer))
    )


def entries(
    session: Session,
    *,
    limit: int | None = None,
    offset: int = 0,
    pending_above: float | None = None,
    rising: bool = False,
) -> list[Entry]:
    """Ranked authors, best first, from the ``offset``-th; ``pending_above``: only
    unreviewed ones scoring that much; ``rising``: only those whose score grew, fastest
    growth first."""
    query = _listed()
    if pending_above is not None:
        query = query.where(
            AmbassadorReview.author_id.is_(None), AmbassadorScore.score >= pending_above
        )
    if rising:
        growth = AmbassadorScore.score - func.coalesce(AmbassadorScore.previous_score, 0.0)
        query = query.where(growth > 0, AmbassadorReview.author_id.is_(None)).order_by(
            growth.desc(), AmbassadorScore.author_id
        )
    else:
        query = query.order_by(AmbassadorScore.score.desc(), AmbassadorScore.author_id)
    if offset:
        query = query.offset(offset)
    if limit:
        query = query.limit(limit)
    return [Entry(score, review) for score, review in session.execute(query).all()]


@dataclass(frozen=True, slots=True)
class AmbassadorRow:
    """One ranked author with the figures behind the score; fields in export column order."""

    rank: int
    network: str
    author: str
    customer: str  # the linked customer's name, empty when not linked
    score: float
    positive: int
    negative: int
    reach: int
    last_positive: str  # ISO time to the minute, empty when never
    tier: str
    review: str  # approved, rejected, or empty when no one has decided
    growth: float
    neutral: int
    # The score's breakdown (None for scores stored before a figure existed).
    share_positive: float | None
    recent_positive: float | None
    recent_negative: float | None
    engagement: float | None
    from_recency: float | None
    from_count: float | None
    from_share: float | None
    from_engagement: float | None
    penalty: float | None
    reach_factor: float | None
    customer_factor: float | None

    def export_values(self) -> tuple[object, ...]:
        """The row in AMBASSADOR_COLUMNS order, score and growth to two decimals."""
        values = {name: getattr(self, name) for name in AMBASSADOR_COLUMNS}
        values.update(score=f"{self.score:.2f}", growth=f"{self.growth:.2f}")
        return tuple(values.values())


AMBASSADOR_COLUMNS = tuple(field.name for field in fields(AmbassadorRow))
# The breakdown columns are named as the score's stored components.
_BREAKDOWN = AMBASSADOR_COLUMNS[AMBASSADOR_COLUMNS.index("share_positive") :]


def ambassador_rows(
    session: Session,
    *,
    limit: int | None = None,
    pending_above: float | None = None,
    rising: bool = False,
) -> list[AmbassadorRow]:
    """The ranking with each score's breakdown, best first (``entries`` filters)."""
    listed = entries(session, limit=limit, pending_above=pending_above, rising=rising)
    return [_row(rank, entry) for rank, entry in enumerate(listed, start=1)]


def _row(rank: int, entry: Entry) -> AmbassadorRow:
    """The export row of one ranked entry."""
    parts = entry.score.components
    author = entry.score.author
    customer = author.customer
    return AmbassadorRow(
        rank=rank,
        network=author.network,
        author=author.handle,
        customer=customer.name if customer else "",
        score=entry.score.score,
        positive=parts.get("positive_mentions", 0),
        negative=parts.get("negative_mentions", 0),
        reach=parts.get("reach", 0),
        last_positive=(parts.get("last_positive_at") or "")[:16],
        tier=(customer.tier or "") if customer else "",
        review=entry.review_status,
        growth=entry.growth,
        neutral=parts.get("neutral_mentions", 0),
        **{name: parts.get(name) for name in _BREAKDOWN},
    )


@dataclass(frozen=True, slots=True)
class RankedAuthor:
    """One ranked author as the dashboard shows them: the export row, who they are on
    their network, and the last review decision with its note."""

    row: AmbassadorRow
    display_name: str
    profile_url: str  # the author's profile on their network, as the network gave it
    customer_id: str | None  # the linked customer's CRM id
    reviewed_by: str | None
    review_note: str | None
    reviewed_at: datetime | None


def ranking(
    session: Session,
    *,
    limit: int | None = None,
    offset: int = 0,
    pending_above: float | None = None,
    rising: bool = False,
) -> list[RankedAuthor]:
    """A page of the ranking (``offset``, ``limit``), ranks counted from the top."""
    listed = entries(
        session, limit=limit, offset=offset, pending_above=pending_above, rising=rising
    )
    ranked = []
    for rank, entry in enumerate(listed, start=offset + 1):
        author = entry.score.author
        review = entry.review
        ranked.append(
            RankedAuthor(
                row=_row(rank, entry),
                display_name=author.display_name,
                profile_url=author.url,
                customer_id=author.customer.external_id if author.customer else None,
                reviewed_by=review.reviewed_by if review else None,
                review_note=review.note if review else None,
                reviewed_at=review.reviewed_at if review else None,
            )
        )
    return ranked


def to_csv(rows: Iterable[AmbassadorRow]) -> str:
    """The rows as CSV text, header first, with no cell a spreadsheet runs as a formula."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(AMBASSADOR_COLUMNS)
    for row in rows:
        writer.writerow(
            safe_cell(value) if isinstance(value, str) else value for value in row.export_values()
        )
    return buffer.getvalue()
