"""Link suggestions: an author who may be a customer, the evidence, and a person's call."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from social_crm.accounts.enums import Permission
from social_crm.accounts.service import Principal
from social_crm.customers import linking
from social_crm.web.auth import DatabaseDep, Reader, allowed
from social_crm.web.pagination import DEFAULT_LIMIT, RecordId, decode_cursor, encode_cursor
from social_crm.web.templating import render

LOGGER = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
Linker = Annotated[Principal, Depends(allowed(Permission.LINKS))]

DONE = {
    "confirmed": "Linked: the author's mentions now show on the customer's page.",
    "rejected": "Rejected: this author and customer are not suggested again.",
}


@router.get("/links")
def links_page(
    request: Request,
    user: Reader,
    db: DatabaseDep,
    cursor: str | None = None,
    done: str | None = None,
) -> Response:
    """Suggested links waiting for a person, most confident first, with their evidence."""
    position = decode_cursor(cursor, keys=("offset",))
    offset = position["offset"] if position else 0
    with db.transaction() as session:
        suggestions = linking.pending_suggestions(session, offset=offset, limit=DEFAULT_LIMIT + 1)
    more = len(suggestions) > DEFAULT_LIMIT
    return render(
        request,
        "links/list.html",
        {
            "suggestions": suggestions[:DEFAULT_LIMIT],
            "next_cursor": encode_cursor({"offset": offset + DEFAULT_LIMIT}) if more else None,
            "done": DONE.get(done or ""),
            "can_decide": user.can(Permission.LINKS),
        },
    )


@router.post("/links/{suggestion_id}/confirm")
def confirm(suggestion_id: RecordId, user: Linker, db: DatabaseDep) -> Response:
    """Link the suggestion's author to its customer."""
    with db.transaction() as session:
        linking.confirm(session, suggestion_id, by=user.name)
    return RedirectResponse("/links?done=confirmed", status_code=303)


@router.post("/links/{suggestion_id}/reject")
def reject(suggestion_id: RecordId, user: Linker, db: DatabaseDep) -> Response:
    """Reject the suggestion: the pair is never suggested again."""
    with db.transaction() as session:
        linking.reject(session, suggestion_id, by=user.name)
    return RedirectResponse("/links?done=rejected", status_code=303)
