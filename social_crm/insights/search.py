"""Mention search: every stored mention, filtered, newest first, a page at a time.

Pages are cut by a keyset cursor on (created_at, id), so walking them never skips or repeats
a mention, even while new ones are stored: a mention stored meanwhile shows up on a later
page if it is older than the last one shown, and is simply not reached otherwise.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from social_crm.alerts.enums import AlertKind
from social_crm.alerts.models import Alert
from social_crm.customers.authors import handle_spellings
from social_crm.customers.models import Customer
from social_crm.errors import InvalidInput
from social_crm.mentions.models import AuthorRecord, MentionRecord, SentimentRecord

LOGGER = logging.getLogger(__name__)

UNLABELLED = "unlabelled"  # the sentiment filter's value for mentions not classified yet
SENTIMENTS = ("negative", "neutral", "positive", UNLABELLED)
EXCERPT_CHARS = 280
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
LIKE_ESCAPE = "\\"
NOT_A_CURSOR = "the cursor is not one this search gave; start again from the first page"


@dataclass(frozen=True, slots=True)
class MentionQuery:
    """What to search for; every filter left as None matches everything."""

    brand: str | None = None
    network: str | None = None
    sentiment: str | None = None  # negative, neutral, positive or unlabelled
    language: str | None = None
    customer: bool | None = None  # True: authors linked to a customer; False: the others
    since: datetime | None = None  # written at or after
    until: datetime | None = None  # written before
    text: str | None = None  # in the text, the author's handle or display name; any case
    author: str | None = None  # a handle, spelled as typed, stored, or as lists print it


@dataclass(frozen=True, slots=True)
class MentionRow:
    """One mention as the search lists it."""

    id: int
    network: str
    brand: str
    url: str
    author_handle: str
    author_display_name: str
    customer_key: str | None  # the CRM's external id of the author's customer
    customer_name: str | None
    excerpt: str  # the start of the text; empty once the post was deleted
    language: str | None
    sentiment: str | None  # None until classified
    confidence: float | None
    created_at: datetime
    alert_id: int | None  # the alert whose conversation the mention is part of
    visibility: str = "public"
    deleted: bool = False


@dataclass(frozen=True, slots=True)
class MentionPage:
    """One page of results and the cursor of the next (None on the last page)."""

    rows: tuple[MentionRow, ...]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class MentionFacets:
    """The values stored mentions have, for a search form's choices."""

    brands: tuple[str, ...]
    networks: tuple[str, ...]
    languages: tuple[str, ...]


def mention_facets(session: Session) -> MentionFacets:
    """Every brand, network and language of the stored mentions, sorted."""
    languages = session.scalars(
        select(MentionRecord.language).where(MentionRecord.language.is_not(None)).distinct()
    )
    return MentionFacets(
        brands=_indexed_values(session, MentionRecord.brand),
        networks=_indexed_values(session, MentionRecord.network),
        languages=tuple(sorted(value for value in languages if value)),
    )


def _indexed_values(session: Session, column: ColumnElement[str]) -> tuple[str, ...]:
    """The distinct values of an indexed column, in order, one index probe per value.

    A recursive query steps from each value to the next larger one, so a column with two
    values costs three probes rather than a pass over every mention.
    """
    values = select(func.min(column).label("value")).cte("indexed_values", recursive=True)
    previous = values.alias("previous")
    following = select(
        select(func.min(column)).where(column > previous.c.value).scalar_subquery()
    ).where(previous.c.value.is_not(None))
    values = values.union_all(following)
    found = session.scalars(select(values.c.value).where(values.c.value.is_not(None)))
    return tuple(found)


def encode_cursor(created_at: datetime, mention_id: int) -> str:
    """The opaque cursor of the page after the mention (created_at, id)."""
    raw = f"{created_at.isoformat()}|{mention_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    """The (created_at, id) a cursor from `encode_cursor` stands for; InvalidInput if none."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, number = raw.partition("|")
        created_at, mention_id = datetime.fromisoformat(stamp), int(number)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidInput(NOT_A_CURSOR) from None
    if created_at.tzinfo is None:
        raise InvalidInput(NOT_A_CURSOR)
    return created_at, mention_id


def like_pattern(text: str) -> str:
    """A LIKE pattern matching ``text`` anywhere, its ``%``, ``_`` and ``\\`` taken literally."""
    escaped = (
        text.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return f"%{escaped}%"


def search_mentions(
    session: Session,
    query: MentionQuery | None = None,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> MentionPage:
    """The mentions matching ``query``, newest first: the page after ``cursor``."""
    query = query or MentionQuery()
    _check(query, limit)
    statement = _filtered(session, query).order_by(
        MentionRecord.created_at.desc(), MentionRecord.id.desc()
    )
    if cursor:
        created_at, mention_id = decode_cursor(cursor)
        # "<= then tie-break" rather than an OR of two ranges: both databases walk the
        # created_at index from the cursor on.
        statement = statement.where(
            MentionRecord.created_at <= created_at,
            or_(MentionRecord.created_at < created_at, MentionRecord.id < mention_id),
        )
    found = session.execute(statement.limit(limit + 1)).all()
    page, more = found[:limit], len(found) > limit
    alerts = _alerts_of(session, page)
    rows = tuple(
        MentionRow(
            id=row.id,
            network=row.network,
            brand=row.brand,
            url=row.url,
            author_handle=row.handle,
            author_display_name=row.display_name,
            customer_key=row.external_id,
            customer_name=row.customer_name,
            excerpt=_excerpt(row.excerpt or "") if row.deleted_at is None else "",
            language=row.language,
            sentiment=row.label,
            confidence=row.confidence,
            created_at=row.created_at,
            alert_id=alerts.get(row.id),
            visibility=row.visibility,
            deleted=row.deleted_at is not None,
        )
        for row in page
    )
    last = page[-1] if more else None
    return MentionPage(rows, encode_cursor(last.created_at, last.id) if last else None)


def _check(query: MentionQuery, limit: int) -> None:
    """Refuse what cannot be searched for, naming the filter."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidInput(f"page size {limit}: give 1 to {MAX_PAGE_SIZE}")
    if query.sentiment is not None and query.sentiment not in SENTIMENTS:
        raise InvalidInput(f"sentiment {query.sentiment!r}: give one of {', '.join(SENTIMENTS)}")
    for name in ("since", "until"):
        value = getattr(query, name)
        if value is None:
            continue
        if value.tzinfo is None:
            raise InvalidInput(f"{name} {value.isoformat()} has no time zone")
        try:
            value.astimezone(UTC)  # as it is stored and compared
        except OverflowError:
            raise InvalidInput(f"{name} {value.isoformat()} is out of range") from None
    for name in ("brand", "network", "language", "text", "author"):
        if "\x00" in (getattr(query, name) or ""):
            raise InvalidInput(f"{name} holds a NUL character")
    if query.since and query.until and query.since >= query.until:
        raise InvalidInput(
            f"since {query.since.isoformat()} is not before until {query.until.isoformat()}"
        )


def _filtered(session: Session, query: MentionQuery) -> Select[Any]:
    """The columns of a row, joined and narrowed by every filter given."""
    statement = (
        select(
            MentionRecord.id,
            MentionRecord.network,
            MentionRecord.brand,
            MentionRecord.url,
            func.substr(MentionRecord.text, 1, EXCERPT_CHARS + 1).label("excerpt"),
            MentionRecord.language,
            MentionRecord.visibility,
            MentionRecord.thread_id,
            MentionRecord.created_at,
            MentionRecord.deleted_at,
            AuthorRecord.handle,
            AuthorRecord.display_name,
            Customer.external_id,
            Customer.name.label("customer_name"),
            SentimentRecord.label,
            SentimentRecord.confidence,
        )
        .join(AuthorRecord, MentionRecord.author_id == AuthorRecord.id)
        .outerjoin(Customer, AuthorRecord.customer_id == Customer.id)
        .outerjoin(SentimentRecord, SentimentRecord.mention_id == MentionRecord.id)
    )
    conditions: list[ColumnElement[bool]] = []
    if query.brand:
        conditions.append(MentionRecord.brand == query.brand)
    if query.network:
        conditions.append(MentionRecord.network == query.network)
    if query.language:
        conditions.append(MentionRecord.language == query.language)
    if query.sentiment == UNLABELLED:
        conditions.append(SentimentRecord.mention_id.is_(None))
    elif query.sentiment:
        labelled = aliased(SentimentRecord)
        conditions.append(
            exists().where(
                labelled.mention_id == MentionRecord.id, labelled.label == query.sentiment
            )
        )
    if query.customer:
        conditions.append(AuthorRecord.customer_id.is_not(None))
    elif query.customer is not None:
        conditions.append(_unlinked(session))
    if query.since:
        conditions.append(MentionRecord.created_at >= query.since)
    if query.until:
        conditions.append(MentionRecord.created_at < query.until)
    if query.author and query.author.strip():
        _, networks, spellings = handle_spellings(query.author)
        conditions.append(
            and_(AuthorRecord.network.in_(networks), AuthorRecord.handle.in_(spellings))
        )
    if query.text and query.text.strip():
        conditions.append(_text_matches(session, query.text.strip()))
    return statement.where(*conditions)


def _unlinked(session: Session) -> ColumnElement[bool]:
    """The author is linked to no customer, in the form each database plans best.

    Without statistics SQLite would look authors up by the index on customer_id and sort
    their mentions, rather than walk mentions newest first; on the joined customer it
    walks them. PostgreSQL, asked about the joined customer, anti-joins every author.
    """
    if session.get_bind().dialect.name == "postgresql":
        return AuthorRecord.customer_id.is_(None)
    return Customer.id.is_(None)


def _text_matches(session: Session, text: str) -> ColumnElement[bool]:
    """The text, handle or display name contains ``text``, in any case.

    PostgreSQL compares with ILIKE; SQLite's LIKE already ignores the case of ASCII
    letters (not of other letters), and lower() on both sides would cost every row more.
    """
    pattern = like_pattern(text)
    postgres = session.get_bind().dialect.name == "postgresql"
    columns = (MentionRecord.text, AuthorRecord.handle, AuthorRecord.display_name)
    return or_(
        *(
            column.ilike(pattern, escape=LIKE_ESCAPE)
            if postgres
            else column.like(pattern, escape=LIKE_ESCAPE)
            for column in columns
        )
    )


def _excerpt(text: str) -> str:
    """The text's start, cut after a whole word with an ellipsis when it is longer."""
    if len(text) <= EXCERPT_CHARS:
        return text
    head = text[:EXCERPT_CHARS]
    words = head.rsplit(maxsplit=1)
    return (words[0] if len(words) > 1 else head).rstrip() + "…"


def _alerts_of(session: Session, rows: Sequence[Row[Any]]) -> dict[int, int]:
    """The alert each listed mention belongs to, as the alert shows its conversation.

    A mention an alert points at (its first or latest) belongs to it; any other mention of
    a thread belongs to the thread's alert opened at the latest mention not after it.
    """
    if not rows:
        return {}
    ids = [row.id for row in rows]
    keys = {f"{row.network}:{row.thread_id}" for row in rows}
    first = aliased(MentionRecord)
    alerts = session.execute(
        select(
            Alert.id,
            Alert.thread_key,
            Alert.first_mention_id,
            Alert.last_mention_id,
            first.created_at,
        )
        .outerjoin(first, Alert.first_mention_id == first.id)
        .where(
            Alert.kind == AlertKind.MENTION,
            or_(
                Alert.thread_key.in_(keys),
                Alert.first_mention_id.in_(ids),
                Alert.last_mention_id.in_(ids),
            ),
        )
        .order_by(first.created_at, Alert.id)
    ).all()
    found: dict[int, int] = {}
    for row in rows:
        pointing = [
            alert.id
            for alert in alerts
            if row.id in (alert.first_mention_id, alert.last_mention_id)
        ]
        key = f"{row.network}:{row.thread_id}"
        opened = [
            alert.id
            for alert in alerts
            if alert.thread_key == key
            and alert.created_at is not None
            and alert.created_at <= row.created_at
        ]
        if pointing or opened:
            found[row.id] = max(pointing) if pointing else opened[-1]
    return found
