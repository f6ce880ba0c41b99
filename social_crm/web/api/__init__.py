"""The JSON API under ``/api/v1``: one module per area, and its OpenAPI document.

Authenticate with ``Authorization: Bearer <token>`` (``social-crm users token create``)
or a signed-in browser session (then state-changing requests need ``X-CSRF-Token``).
Lists page with an opaque ``cursor`` and ``limit``; errors are
``{"error": {"code": ..., "message": ...}}``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request

from social_crm.web.api import alerts, ambassadors, customers, links, mentions, overview, replies
from social_crm.web.api.schemas import error_responses
from social_crm.web.auth import Reader

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1")
for area in (alerts, ambassadors, customers, links, mentions, overview, replies):
    router.include_router(area.router)


@router.get("/openapi.json", include_in_schema=False, responses=error_responses(401))
def openapi_document(request: Request, _user: Reader) -> dict[str, Any]:
    """The API's OpenAPI document (for signed-in users and token holders)."""
    document: dict[str, Any] = request.app.openapi()
    return document
