"""Tables that the command line and the demo print."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from social_crm.ambassadors import scoring
from social_crm.db.base import utcnow

AMBASSADOR_COLUMNS = (
    "rank",
    "network",
    "author",
    "customer",
    "score",
    "positive",
    "negative",
    "reach",
    "last_positive",
)


def ambassador_table(session: Session, *, limit: int | None) -> list[tuple[object, ...]]:
    """Rows of the ranking, in AMBASSADOR_COLUMNS order."""
    rows = []
    for rank, entry in enumerate(scoring.ranking(session, limit=limit), start=1):
        parts = entry.components
        customer = entry.author.customer
        rows.append(
            (
                rank,
                entry.author.network,
                entry.author.handle,
                customer.name if customer else "",
                f"{entry.score:.2f}",
                parts["positive_mentions"],
                parts["negative_mentions"],
                parts["reach"],
                (parts.get("last_positive_at") or "")[:16],
            )
        )
    return rows


# The export: the ranking's columns first (in their order), then the score's breakdown.
AMBASSADOR_EXPORT_COLUMNS = (
    *AMBASSADOR_COLUMNS,
    "tier",
    "review",
    "growth",
    "neutral",
    "share_positive",
    "recent_positive",
    "recent_negative",
    "engagement",
    "from_recency",
    "from_count",
    "from_share",
    "from_engagement",
    "penalty",
    "reach_factor",
    "customer_factor",
)
BREAKDOWN = (
    "share_positive",
    "recent_positive",
    "recent_negative",
    "engagement",
    "from_recency",
    "from_count",
    "from_share",
    "from_engagement",
    "penalty",
    "reach_factor",
    "customer_factor",
)


def ambassador_export(
    session: Session,
    *,
    limit: int | None,
    pending_above: float | None = None,
    rising: bool = False,
) -> list[tuple[object, ...]]:
    """Rows of the ranking with the score's breakdown, in AMBASSADOR_EXPORT_COLUMNS order."""
    rows = []
    listed = scoring.entries(session, limit=limit, pending_above=pending_above, rising=rising)
    for rank, entry in enumerate(listed, start=1):
        parts = entry.score.components
        author = entry.score.author
        customer = author.customer
        rows.append(
            (
                rank,
                author.network,
                author.handle,
                customer.name if customer else "",
                f"{entry.score.score:.2f}",
                parts.get("positive_mentions", 0),
                parts.get("negative_mentions", 0),
                parts.get("reach", 0),
                (parts.get("last_positive_at") or "")[:16],
                (customer.tier or "") if customer else "",
                entry.review_status,
                f"{entry.growth:.2f}",
                parts.get("neutral_mentions", 0),
                *(parts.get(name, "") for name in BREAKDOWN),
            )
        )
    return rows


def short_text(text: str, width: int) -> str:
    """The text on one line, cut to ``width`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def ago(when: datetime | None, *, now: datetime | None = None) -> str:
    """How long ago, in the largest whole unit: "never", "42 s ago", "3 min ago", "2 h ago"."""
    if when is None:
        return "never"
    seconds = int(((now or utcnow()) - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{max(seconds, 0)} s ago"
