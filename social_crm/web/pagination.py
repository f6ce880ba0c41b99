"""Paging through lists (opaque cursors that pages and the JSON API take back) and the
bounds of the ids and sizes a request may name."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from typing import Annotated, Any

from fastapi import Path

from social_crm.errors import InvalidInput

LOGGER = logging.getLogger(__name__)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def encode_cursor(position: dict[str, Any]) -> str:
    """A cursor for ``position`` (where the next page starts), URL-safe."""
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str | None, *, keys: tuple[str, ...]) -> dict[str, Any] | None:
    """The position a cursor stands for, or None for the first page; InvalidInput if the
    cursor is not one this app gave (its integer ``keys`` are checked)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        position = json.loads(raw)
    except (binascii.Error, ValueError):
        position = None
    if not isinstance(position, dict) or not all(
        isinstance(position.get(key), int) and position[key] >= 0 for key in keys
    ):
        raise InvalidInput("the cursor is not one this list gave; start again from the first page")
    return position


# A record's id in a path: a positive 64-bit integer, as every supported database stores it.
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]
