"""PLACEHOLDERS for the Mentions and Overview pages, so the navigation leads somewhere.

Each is replaced by its own router module (``mentions.py``, ``overview.py``); delete its
route here and this module once both exist.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import Response

from social_crm.web.auth import Reader
from social_crm.web.templating import render

LOGGER = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)


@router.get("/mentions")
def mentions_placeholder(request: Request, _user: Reader) -> Response:
    """PLACEHOLDER: the mentions search page."""
    return render(request, "placeholder.html", {"title": "Mentions"})


@router.get("/overview")
def overview_placeholder(request: Request, _user: Reader) -> Response:
    """PLACEHOLDER: the overview page."""
    return render(request, "placeholder.html", {"title": "Overview"})
