"""The JSON API under ``/api/v1``: one module per area, its OpenAPI document, error shapes."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from social_crm.web.api import mentions, overview

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1")
for area in (mentions, overview):
    router.include_router(area.router)
