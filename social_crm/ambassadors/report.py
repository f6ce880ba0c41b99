"""The ambassador ranking as rows: the read model the command line, the demo and exports use."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy.orm import Session

from social_crm.ambassadors import scoring


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
    """The ranking with each score's breakdown, best first (``scoring.entries`` filters)."""
    rows = []
    listed = scoring.entries(session, limit=limit, pending_above=pending_above, rising=rising)
    for rank, entry in enumerate(listed, start=1):
        parts = entry.score.components
        author = entry.score.author
        customer = author.customer
        rows.append(
            AmbassadorRow(
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
        )
    return rows
