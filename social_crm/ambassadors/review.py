"""People's decisions on ambassador candidates: approve, reject, opt out (final)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from social_crm.ambassadors.enums import ReviewStatus
from social_crm.ambassadors.models import AmbassadorReview
from social_crm.customers.authors import find_author
from social_crm.db.base import utcnow
from social_crm.errors import InvalidTransition
from social_crm.mentions.models import AuthorRecord

LOGGER = logging.getLogger(__name__)

# The decisions a person may record on an author, by their current review (None: none yet).
# Opting out is final: the person is not approached again.
REVIEW_TRANSITIONS: Mapping[ReviewStatus | None, frozenset[ReviewStatus]] = {
    None: frozenset(ReviewStatus),
    ReviewStatus.APPROVED: frozenset(ReviewStatus),
    ReviewStatus.REJECTED: frozenset(ReviewStatus),
    ReviewStatus.OPTED_OUT: frozenset({ReviewStatus.OPTED_OUT}),
}


@dataclass(frozen=True, slots=True)
class ReviewDecision:
    """A person's decision on one author, as recorded."""

    network: str
    handle: str
    status: str
    by: str
    note: str | None


def review(
    session: Session,
    handle: str,
    *,
    status: ReviewStatus | str,
    by: str,
    network: str | None = None,
    note: str | None = None,
) -> ReviewDecision:
    """Record a person's decision on an author: approved, rejected, or opted out."""
    status = ReviewStatus(status)  # ValueError for a status that does not exist
    author = find_author(session, handle, network=network)
    now = utcnow()
    current = session.get(AmbassadorReview, author.id)
    if status not in REVIEW_TRANSITIONS[ReviewStatus(current.status) if current else None]:
        assert current is not None  # a first review may be anything
        raise InvalidTransition(
            f"{author.network}:{author.handle} opted out on {current.reviewed_at:%Y-%m-%d}; "
            "they are not approached again"
        )
    if status == ReviewStatus.OPTED_OUT:
        # The person opts out, not one account: every account linked to them goes too.
        people = [author]
        if author.customer is not None:
            author.customer.opted_out_at = now
            people = list(
                session.scalars(
                    select(AuthorRecord).where(AuthorRecord.customer_id == author.customer_id)
                )
            )
        for person in people:
            _put_review(session, person.id, ReviewStatus.OPTED_OUT, by, note, now)
    else:
        _put_review(session, author.id, status, by, note, now)
    session.flush()
    LOGGER.info("ambassador %s:%s %s by %s", author.network, author.handle, status, by)
    return ReviewDecision(author.network, author.handle, status, by, note)


def _put_review(
    session: Session, author_id: int, status: str, by: str, note: str | None, now: datetime
) -> None:
    row = session.get(AmbassadorReview, author_id)
    if row is None:
        row = AmbassadorReview(author_id=author_id)
        session.add(row)
    row.status, row.reviewed_by, row.note, row.reviewed_at = status, by, note, now
