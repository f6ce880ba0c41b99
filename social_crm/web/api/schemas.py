"""The JSON API's own shapes: pages of items, request bodies, and the one error shape.

Items are the services' read models (dataclasses), serialised as they are.
"""

from __future__ import annotations

import logging
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

LOGGER = logging.getLogger(__name__)

Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    """One page of a list; ``next_cursor`` fetches the next (null on the last page)."""

    items: list[Item]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null when this is the last."
    )


class ErrorDetail(BaseModel):
    """What went wrong."""

    code: str = Field(description="not_found, conflict, invalid_transition, invalid_input, ...")
    message: str


class ErrorBody(BaseModel):
    """Every error answer: {"error": {"code": ..., "message": ...}}."""

    error: ErrorDetail


class Body(BaseModel):
    """Request bodies take no unknown keys."""

    model_config = ConfigDict(extra="forbid")


class AssignBody(Body):
    """Whom to give an alert to."""

    assignee: str = Field(min_length=1, max_length=200, description="A user's name.")


class NoteBody(Body):
    """A note for the team."""

    text: str = Field(min_length=1, max_length=5000)


class ReviewBody(Body):
    """A decision on an ambassador candidate."""

    decision: Literal["approved", "rejected", "opted_out"]
    note: str | None = Field(None, max_length=2000)


class OptOutBody(Body):
    """Why the person opted out, if known."""

    note: str | None = Field(None, max_length=2000)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers a route can give."""
    words = {
        401: "Not signed in, or the API token is not valid",
        403: "The user's role does not allow this",
        404: "No such record",
        409: "Not possible in the record's current state",
        422: "The input is not valid",
        429: "Too many attempts",
    }
    return {status: {"model": ErrorBody, "description": words[status]} for status in statuses}
