"""The ambassador pages: the ranking with each score's make-up, the rising and to-review
lists, review decisions (approve, reject, opted out) with a note, and the CSV export."""

from __future__ import annotations

import logging
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from social_crm.accounts.enums import Permission
from social_crm.accounts.service import Principal
from social_crm.ambassadors.enums import ReviewStatus
from social_crm.ambassadors.report import ambassador_rows, ranking, to_csv
from social_crm.ambassadors.review import review
from social_crm.errors import InvalidInput
from social_crm.web.auth import DatabaseDep, Reader, allowed, settings
from social_crm.web.pagination import DEFAULT_LIMIT, decode_cursor, encode_cursor
from social_crm.web.templating import render

LOGGER = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
Marketer = Annotated[Principal, Depends(allowed(Permission.AMBASSADORS))]

# The lists: the whole ranking, unreviewed authors whose score grows fastest, and
# unreviewed authors above the review threshold.
VIEWS = {
    "ranking": "Ranking",
    "rising": "Rising",
    "pending": "To review",
}
DONE = {
    ReviewStatus.APPROVED.value: "Approved.",
    ReviewStatus.REJECTED.value: "Rejected.",
    ReviewStatus.OPTED_OUT.value: "Marked as opted out: they are not listed or approached again.",
}


def view_filters(request: Request, view: str) -> dict[str, object]:
    """The ``entries`` filters of a list; InvalidInput for a list that does not exist."""
    if view not in VIEWS:
        raise InvalidInput(f"no ambassador list {view!r}; the lists are {', '.join(VIEWS)}")
    if view == "rising":
        return {"rising": True}
    if view == "pending":
        return {"pending_above": settings(request).ambassadors.review_threshold}
    return {}


@router.get("/ambassadors")
def ambassadors_page(
    request: Request,
    user: Reader,
    db: DatabaseDep,
    view: str = "ranking",
    cursor: str | None = None,
    done: str | None = None,
) -> Response:
    """A list of ranked authors, a page at a time, with each score's make-up."""
    filters = view_filters(request, view)
    position = decode_cursor(cursor, keys=("offset",))
    offset = position["offset"] if position else 0
    with db.transaction() as session:
        listed = ranking(session, limit=DEFAULT_LIMIT + 1, offset=offset, **filters)  # type: ignore[arg-type]
    more = len(listed) > DEFAULT_LIMIT
    next_query = (
        urlencode({"view": view, "cursor": encode_cursor({"offset": offset + DEFAULT_LIMIT})})
        if more
        else None
    )
    return render(
        request,
        "ambassadors/list.html",
        {
            "entries": listed[:DEFAULT_LIMIT],
            "view": view,
            "views": VIEWS,
            "next_query": next_query,
            "done": DONE.get(done or ""),
            "can_review": user.can(Permission.AMBASSADORS),
            "threshold": settings(request).ambassadors.review_threshold,
        },
    )


@router.get("/ambassadors/export.csv")
def export_csv(request: Request, _user: Reader, db: DatabaseDep, view: str = "ranking") -> Response:
    """The whole list as CSV, with every figure behind each score."""
    filters = view_filters(request, view)
    with db.transaction() as session:
        rows = ambassador_rows(session, **filters)  # type: ignore[arg-type]
    name = "ambassadors.csv" if view == "ranking" else f"ambassadors-{view}.csv"
    return Response(
        to_csv(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/ambassadors/review")
def review_author(
    user: Marketer,
    db: DatabaseDep,
    network: Annotated[str, Form()] = "",
    handle: Annotated[str, Form()] = "",
    decision: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    view: Annotated[str, Form()] = "ranking",
) -> Response:
    """Record a decision on an author, with an optional note, by the signed-in user."""
    if decision not in set(ReviewStatus):
        raise InvalidInput(f"no review decision {decision!r}")
    with db.transaction() as session:
        review(
            session,
            handle,
            network=network or None,
            status=decision,
            by=user.name,
            note=note.strip() or None,
        )
    back = urlencode({"view": view if view in VIEWS else "ranking", "done": decision})
    return RedirectResponse(f"/ambassadors?{back}", status_code=303)
