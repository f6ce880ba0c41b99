"""``/api/v1/ambassadors``: the ranking with each score's make-up, and review decisions."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from social_crm.accounts.enums import Permission
from social_crm.accounts.service import Principal
from social_crm.ambassadors.enums import ReviewStatus
from social_crm.ambassadors.report import RankedAuthor, ranking
from social_crm.ambassadors.review import ReviewDecision, review
from social_crm.web.ambassadors import view_filters
from social_crm.web.api.schemas import OptOutBody, Page, ReviewBody, error_responses
from social_crm.web.auth import DatabaseDep, Reader, allowed
from social_crm.web.pagination import DEFAULT_LIMIT, MAX_LIMIT, decode_cursor, encode_cursor

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/ambassadors", tags=["ambassadors"])
Marketer = Annotated[Principal, Depends(allowed(Permission.AMBASSADORS))]
ACTION_ERRORS = error_responses(401, 403, 404, 409, 422)


@router.get("", response_model=Page[RankedAuthor], responses=error_responses(401, 422))
def ambassadors(
    request: Request,
    _user: Reader,
    db: DatabaseDep,
    view: Annotated[
        Literal["ranking", "rising", "pending"],
        Query(
            description="ranking: everyone, best first; rising: unreviewed, fastest growth "
            "first; pending: unreviewed above the review threshold."
        ),
    ] = "ranking",
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[RankedAuthor]:
    """Ranked authors with the figures behind each score and their review."""
    position = decode_cursor(cursor, keys=("offset",))
    offset = position["offset"] if position else 0
    with db.transaction() as session:
        listed = ranking(
            session,
            limit=limit + 1,
            offset=offset,
            **view_filters(request, view),  # type: ignore[arg-type]
        )
    more = len(listed) > limit
    return Page(
        items=listed[:limit],
        next_cursor=encode_cursor({"offset": offset + limit}) if more else None,
    )


@router.post("/{network}/{handle}/review", response_model=ReviewDecision, responses=ACTION_ERRORS)
def review_author(
    network: str, handle: str, body: ReviewBody, user: Marketer, db: DatabaseDep
) -> ReviewDecision:
    """Approve or reject an author (or record that they opted out), with a note."""
    with db.transaction() as session:
        return review(
            session, handle, network=network, status=body.decision, by=user.name, note=body.note
        )


@router.post("/{network}/{handle}/opt-out", response_model=ReviewDecision, responses=ACTION_ERRORS)
def opt_out(
    network: str, handle: str, body: OptOutBody, user: Marketer, db: DatabaseDep
) -> ReviewDecision:
    """The person asked not to be approached: they and their linked accounts are never
    listed again (final)."""
    with db.transaction() as session:
        return review(
            session,
            handle,
            network=network,
            status=ReviewStatus.OPTED_OUT,
            by=user.name,
            note=body.note,
        )
