"""The mentions page: every stored mention, searched and filtered by the query string (so a
search is a link to share), newest first, with more loaded in place as people read on."""

from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from social_crm.db import Database
from social_crm.errors import InvalidInput
from social_crm.insights.search import (
    SENTIMENTS,
    MentionQuery,
    mention_facets,
    search_mentions,
)
from social_crm.web.auth import DatabaseDep, Reader
from social_crm.web.templating import render

LOGGER = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)

# The customer filter's choices, as the query string spells them.
CUSTOMER_CHOICES = {"": None, "yes": True, "no": False}


@dataclass(frozen=True, slots=True)
class MentionFilters:
    """The search form's fields, as the query string gives them (empty: not filtered)."""

    q: str = ""
    brand: str = ""
    network: str = ""
    sentiment: str = ""
    language: str = ""
    customer: str = ""  # "yes": by a customer; "no": by anyone else
    author: str = ""
    since: str = ""  # YYYY-MM-DD, the first day shown
    until: str = ""  # YYYY-MM-DD, the last day shown

    @classmethod
    def of(cls, request: Request) -> MentionFilters:
        """The filters of a request; InvalidInput naming a value that cannot be searched for."""
        params = request.query_params
        filters = cls(**{f.name: params.get(f.name, "").strip() for f in fields(cls)})
        if filters.sentiment and filters.sentiment not in SENTIMENTS:
            raise InvalidInput(f"no sentiment {filters.sentiment!r}")
        if filters.customer not in CUSTOMER_CHOICES:
            raise InvalidInput(f"customer {filters.customer!r}: give yes or no")
        filters.search()  # the dates are read, and their order checked, once here
        return filters

    def search(self) -> MentionQuery:
        """What to ask the search for: the last day shown is included whole."""
        since, until = _day(self.since, "since"), _day(self.until, "until")
        if since and until and since > until:
            raise InvalidInput(f"the first day ({self.since}) is after the last ({self.until})")
        if until == date.max:
            until = None  # the last day there is: no end
        return MentionQuery(
            brand=self.brand or None,
            network=self.network or None,
            sentiment=self.sentiment or None,
            language=self.language or None,
            customer=CUSTOMER_CHOICES[self.customer],
            since=datetime.combine(since, time(), tzinfo=UTC) if since else None,
            until=datetime.combine(until + timedelta(days=1), time(), tzinfo=UTC)
            if until
            else None,
            text=self.q or None,
            author=self.author or None,
        )

    def query(self, **extra: str) -> str:
        """The filters (and ``extra``) as a query string, without empty values."""
        values = {f.name: getattr(self, f.name) for f in fields(self)} | extra
        return urlencode({key: value for key, value in values.items() if value})

    @property
    def active(self) -> bool:
        """Whether any filter is set."""
        return any(getattr(self, f.name) for f in fields(self))


def _day(text: str, name: str) -> date | None:
    """A YYYY-MM-DD field as a date; InvalidInput naming the field if it is not one."""
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"{name} {text!r} is not a date (YYYY-MM-DD)") from None


def _page(db: Database, filters: MentionFilters, cursor: str | None) -> dict[str, Any]:
    """One page of results and the query string of the next."""
    with db.transaction() as session:
        page = search_mentions(session, filters.search(), cursor=cursor or None)
    return {
        "rows": page.rows,
        "filters": filters,
        "first_page": not cursor,
        "next_query": filters.query(cursor=page.next_cursor) if page.next_cursor else None,
    }


@router.get("/mentions")
def mentions_page(
    request: Request, _user: Reader, db: DatabaseDep, cursor: str | None = None
) -> Response:
    """The search form and the newest mentions that match it."""
    filters = MentionFilters.of(request)
    with db.transaction() as session:
        facets = mention_facets(session)
    configured = [brand.name for brand in request.app.state.settings.brands]
    return render(
        request,
        "mentions/list.html",
        {
            **_page(db, filters, cursor),
            "brands": [*configured, *(b for b in facets.brands if b not in configured)],
            "networks": facets.networks,
            "languages": facets.languages,
            "sentiments": SENTIMENTS,
        },
    )


@router.get("/mentions/rows")
def mention_rows(
    request: Request, _user: Reader, db: DatabaseDep, cursor: str | None = None
) -> Response:
    """The next rows alone, for "Load more" to add below the table's last (htmx)."""
    return render(request, "mentions/_rows.html", _page(db, MentionFilters.of(request), cursor))
