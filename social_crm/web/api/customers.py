"""``/api/v1/customers``: a customer's identities, timeline and sentiment trend."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query

from social_crm.customers.timeline import Timeline, customer_timeline
from social_crm.web.api.schemas import error_responses
from social_crm.web.auth import DatabaseDep, Reader

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/customers", tags=["customers"])


@router.get("/{key}", response_model=Timeline, responses=error_responses(401, 404, 422))
def customer(
    key: str,
    _user: Reader,
    db: DatabaseDep,
    weeks: Annotated[int, Query(ge=1, le=104)] = 8,
) -> Timeline:
    """The customer with CRM id ``key`` (or ``#N``): linked identities, every exchange
    newest first, and the sentiment of each of the last ``weeks`` weeks."""
    with db.transaction() as session:
        return customer_timeline(session, key, weeks=weeks)
