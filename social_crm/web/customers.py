"""A customer's page: who they are in the CRM and on each network, every exchange newest
first, and the weekly sentiment trend."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from social_crm.customers.timeline import customer_timeline
from social_crm.web.auth import DatabaseDep, Reader
from social_crm.web.templating import render

LOGGER = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

TREND_WEEKS = 12


@router.get("/customers/{key:path}")
def customer_page(request: Request, key: str, _user: Reader, db: DatabaseDep) -> Response:
    """The customer with CRM id ``key`` (or ``#N``): identities, timeline, trend."""
    with db.transaction() as session:
        timeline = customer_timeline(session, key, weeks=TREND_WEEKS)
    tallest = max((week.total for week in timeline.weeks), default=0)
    return render(
        request,
        "customers/detail.html",
        {"timeline": timeline, "customer": timeline.customer, "tallest": max(tallest, 1)},
    )
