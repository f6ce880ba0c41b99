"""The JSON API's own shapes: pages of items, request bodies, and the one error shape.

Items are the services' read models (dataclasses), serialised as they are.
"""

from __future__ import annotations

import logging
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from social_crm.config import Situation

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


# Text a person wrote: at least one character that is not a space.
SOME_TEXT = r"\S"


class DraftBody(Body):
    """A draft reply: to a mention or to an alert's first mention, from a template by name,
    the brand's template for a situation, or one's own text."""

    mention_id: int | None = Field(None, ge=1, le=2**63 - 1)
    alert_id: int | None = Field(None, ge=1, le=2**63 - 1)
    template: str | None = Field(None, min_length=1, max_length=200)
    situation: Situation | None = None
    language: str | None = Field(
        None, pattern=r"^[a-z]{2,3}$", description="The template's; default: the post's."
    )
    text: str | None = Field(None, max_length=10000, pattern=SOME_TEXT)
    private: bool | None = Field(
        None, description="A private message to the author; default: as the template says."
    )

    @model_validator(mode="after")
    def _one_target_one_start(self) -> DraftBody:
        if (self.mention_id is None) == (self.alert_id is None):
            raise ValueError("name a mention_id or an alert_id, not both")
        starts = [self.template, self.situation, self.text]
        if sum(value is not None for value in starts) != 1:
            raise ValueError("start from exactly one of: template, situation, text")
        return self


class EditBody(Body):
    """A reply's new text."""

    text: str = Field(max_length=10000, pattern=SOME_TEXT)


class ApproveBody(Body):
    """How to approve a draft."""

    resolve_alert: bool | None = Field(
        None,
        description="Resolve the reply's alert once it is sent; default: engagement.resolve_alert.",
    )


class RejectBody(Body):
    """Why a reply is rejected, for its history."""

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
