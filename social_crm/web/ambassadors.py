"""The ambassadors pages."""

from __future__ import annotations

import logging

from fastapi import APIRouter

LOGGER = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
