"""``/api/v1/mentions``: every stored mention, searched and filtered, newest first."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from social_crm.insights.search import MAX_PAGE_SIZE, MentionQuery, MentionRow, search_mentions
from social_crm.web.api.schemas import Page, error_responses
from social_crm.web.auth import DatabaseDep, Reader
from social_crm.web.pagination import DEFAULT_LIMIT

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/mentions", tags=["mentions"])


def _utc(moment: datetime | None) -> datetime | None:
    """A time given without a zone is taken as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get("", response_model=Page[MentionRow], responses=error_responses(401, 422))
def mentions(
    _user: Reader,
    db: DatabaseDep,
    q: Annotated[
        str | None, Query(description="Words in the text or the author's handle or name.")
    ] = None,
    brand: str | None = None,
    network: str | None = None,
    sentiment: Literal["negative", "neutral", "positive", "unlabelled"] | None = None,
    language: str | None = None,
    customer: Annotated[
        bool | None, Query(description="true: by authors linked to a customer; false: others.")
    ] = None,
    author: Annotated[
        str | None, Query(description="A handle: name, reddit:name, @user@instance.")
    ] = None,
    since: Annotated[
        datetime | None, Query(description="Written at or after (ISO 8601; UTC if no zone).")
    ] = None,
    until: Annotated[datetime | None, Query(description="Written before.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[MentionRow]:
    """Mentions matching every filter given, newest first, a page at a time."""
    query = MentionQuery(
        brand=brand,
        network=network,
        sentiment=sentiment,
        language=language,
        customer=customer,
        since=_utc(since),
        until=_utc(until),
        text=q,
        author=author,
    )
    with db.transaction() as session:
        page = search_mentions(session, query, cursor=cursor, limit=limit)
    return Page(items=list(page.rows), next_cursor=page.next_cursor)
