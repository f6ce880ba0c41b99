"""``/api/v1/overview``: per brand, sentiment over days and weeks and open alerts; listening."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from social_crm.insights.overview import Overview, overview
from social_crm.web.api.schemas import error_responses
from social_crm.web.auth import DatabaseDep, Reader

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/overview", tags=["overview"])


@router.get("", response_model=Overview, responses=error_responses(401))
def overview_figures(
    request: Request,
    _user: Reader,
    db: DatabaseDep,
) -> Overview:
    """The overview: the configured brands first, then any other with mentions or alerts.

    Days are the last 30 UTC days, weeks the last 26 ISO weeks, oldest first; the
    satisfaction index is share positive minus share negative of classified mentions.
    """
    configured = [b.name for b in request.app.state.settings.brands]
    with db.transaction() as session:
        return overview(session, brands=configured)
