"""``/api/v1/link-suggestions``: suggested author-customer links and people's decisions."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from social_crm.accounts.enums import Permission
from social_crm.accounts.service import Principal
from social_crm.customers import linking
from social_crm.customers.linking import SuggestionView
from social_crm.web.api.schemas import Page, error_responses
from social_crm.web.auth import DatabaseDep, Reader, allowed
from social_crm.web.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    RecordId,
    decode_cursor,
    encode_cursor,
)

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/link-suggestions", tags=["link suggestions"])
Linker = Annotated[Principal, Depends(allowed(Permission.LINKS))]
ACTION_ERRORS = error_responses(401, 403, 404, 409, 422)


@router.get("", response_model=Page[SuggestionView], responses=error_responses(401, 422))
def suggestions(
    _user: Reader,
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[SuggestionView]:
    """Suggestions waiting for a person, most confident first, with their evidence."""
    position = decode_cursor(cursor, keys=("offset",))
    offset = position["offset"] if position else 0
    with db.transaction() as session:
        listed = linking.pending_suggestions(session, offset=offset, limit=limit + 1)
    more = len(listed) > limit
    return Page(
        items=listed[:limit],
        next_cursor=encode_cursor({"offset": offset + limit}) if more else None,
    )


@router.post("/{suggestion_id}/confirm", response_model=SuggestionView, responses=ACTION_ERRORS)
def confirm(suggestion_id: RecordId, user: Linker, db: DatabaseDep) -> SuggestionView:
    """Link the suggestion's author to its customer."""
    with db.transaction() as session:
        return linking.confirm(session, suggestion_id, by=user.name)


@router.post("/{suggestion_id}/reject", response_model=SuggestionView, responses=ACTION_ERRORS)
def reject(suggestion_id: RecordId, user: Linker, db: DatabaseDep) -> SuggestionView:
    """Reject the suggestion: that author and customer are never suggested again."""
    with db.transaction() as session:
        return linking.reject(session, suggestion_id, by=user.name)
