"""Mention search: each filter narrows the list, pages walk it whole, text is taken literally."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from social_crm.alerts.models import Alert
from social_crm.customers.models import Customer
from social_crm.db import Database
from social_crm.errors import InvalidInput
from social_crm.insights.search import (
    EXCERPT_CHARS,
    MentionQuery,
    decode_cursor,
    encode_cursor,
    mention_facets,
    search_mentions,
)
from social_crm.mentions.models import AuthorRecord, MentionRecord, SentimentRecord

from .stored import T0, alert, author, customer, mention


def ids(db: Database, query: MentionQuery | None = None, *, limit: int = 50) -> list[int]:
    """The ids the first page of a search lists."""
    with db.transaction() as session:
        return [row.id for row in search_mentions(session, query, limit=limit).rows]


@pytest.fixture
def world(db: Database) -> dict[str, int]:
    """Six mentions by three authors that differ in every filtered respect."""
    with db.transaction() as session:
        erik = author(
            session, "erik", display_name="Erik", customer=customer(session, "C-1", "Erik Jansen")
        )
        anna = author(session, "anna@mastodon.nl", network="mastodon", display_name="Anna Berg")
        bob = author(session, "bob", display_name="Bob")
        made = {
            "e1": mention(session, erik, at=T0, text="My Brewly broke", label="negative"),
            "e2": mention(
                session,
                erik,
                at=T0 + timedelta(hours=1),
                text="Kettlo ist super",
                brand="Kettlo",
                label="positive",
                language="de",
            ),
            "a1": mention(
                session,
                anna,
                at=T0 + timedelta(hours=2),
                text="Quelqu'un a essayé ?",
                label="neutral",
                language="fr",
            ),
            "a2": mention(
                session, anna, at=T0 + timedelta(hours=3), text="sure about it", label=None
            ),
            "b1": mention(
                session,
                bob,
                at=T0 - timedelta(days=1),
                text="1000 cups",
                brand="Kettlo",
                label="negative",
            ),
            "b2": mention(
                session,
                bob,
                at=T0 + timedelta(days=1),
                text="tried it",
                label="positive",
                language="es",
            ),
        }
        return {name: row.id for name, row in made.items()}


FILTERS = [
    (MentionQuery(), ["b2", "a2", "a1", "e2", "e1", "b1"]),
    (MentionQuery(brand="Kettlo"), ["e2", "b1"]),
    (MentionQuery(network="mastodon"), ["a2", "a1"]),
    (MentionQuery(sentiment="negative"), ["e1", "b1"]),
    (MentionQuery(sentiment="unlabelled"), ["a2"]),
    (MentionQuery(language="de"), ["e2"]),
    (MentionQuery(customer=True), ["e2", "e1"]),
    (MentionQuery(customer=False), ["b2", "a2", "a1", "b1"]),
    # since is inclusive, until exclusive: a2, written at T0 + 3 h, is left out.
    (MentionQuery(since=T0, until=T0 + timedelta(hours=3)), ["a1", "e2", "e1"]),
    (MentionQuery(text="KETTLO"), ["e2"]),  # in the text, any case; not the brand
    (MentionQuery(text="anna"), ["a2", "a1"]),  # the handle
    (MentionQuery(text="berg"), ["a2", "a1"]),  # the display name
    (MentionQuery(author="reddit:erik"), ["e2", "e1"]),
    (MentionQuery(author="/u/Erik"), ["e2", "e1"]),
    (MentionQuery(author="@Anna@mastodon.nl"), ["a2", "a1"]),
    (MentionQuery(author="nobody"), []),
    (MentionQuery(brand="Brewly", sentiment="negative"), ["e1"]),
]


@pytest.mark.parametrize(("query", "expected"), FILTERS, ids=[repr(q) for q, _ in FILTERS])
def test_each_filter_lists_only_its_mentions_newest_first(
    db: Database, world: dict[str, int], query: MentionQuery, expected: list[str]
) -> None:
    assert ids(db, query) == [world[name] for name in expected]


def test_a_row_shows_the_author_the_customer_the_label_and_a_short_excerpt(db: Database) -> None:
    long_text = "word " * 100
    with db.transaction() as session:
        erik = author(
            session, "erik", display_name="Erik J", customer=customer(session, "C-1", "Erik Jansen")
        )
        stored = mention(session, erik, text=long_text, label="negative", confidence=0.87)
    with db.transaction() as session:
        (row,) = search_mentions(session).rows
    assert (row.id, row.network, row.brand, row.url) == (
        stored.id,
        "reddit",
        "Brewly",
        stored.url,
    )
    assert (row.author_handle, row.author_display_name) == ("erik", "Erik J")
    assert (row.customer_key, row.customer_name) == ("C-1", "Erik Jansen")
    assert (row.sentiment, row.confidence, row.language) == ("negative", 0.87, "en")
    assert row.created_at == T0
    assert row.excerpt.endswith("word…")
    assert len(row.excerpt) <= EXCERPT_CHARS + 1
    assert row.alert_id is None


def test_a_long_word_is_cut_where_the_excerpt_ends(db: Database) -> None:
    with db.transaction() as session:
        mention(session, author(session, "erik"), text="x" * 1000)
    with db.transaction() as session:
        (row,) = search_mentions(session).rows
    assert row.excerpt == "x" * EXCERPT_CHARS + "…"


def test_the_search_form_offers_the_brands_networks_and_languages_stored(
    db: Database, world: dict[str, int]
) -> None:
    with db.transaction() as session:
        mention(session, author(session, "zed"), brand="Aero", language=None)
        facets = mention_facets(session)
    assert facets.brands == ("Aero", "Brewly", "Kettlo")
    assert facets.networks == ("mastodon", "reddit")
    assert facets.languages == ("de", "en", "es", "fr")


def test_a_deleted_post_is_listed_without_its_words(db: Database) -> None:
    with db.transaction() as session:
        gone = mention(session, author(session, "erik"), text="my secret")
        gone.deleted_at = T0 + timedelta(hours=1)
    with db.transaction() as session:
        (row,) = search_mentions(session).rows
    assert (row.deleted, row.excerpt) == (True, "")


def test_a_mention_shows_the_alert_whose_conversation_it_belongs_to(db: Database) -> None:
    with db.transaction() as session:
        erik, anna = author(session, "erik"), author(session, "anna")
        before = mention(session, anna, at=T0 - timedelta(hours=1), thread="t", label="positive")
        first = mention(session, erik, at=T0, thread="t", label="negative")
        reply = mention(session, anna, at=T0 + timedelta(hours=1), thread="t")
        again = mention(session, erik, at=T0 + timedelta(hours=5), thread="t", label="negative")
        later = mention(session, anna, at=T0 + timedelta(hours=6), thread="t")
        # Erik's post elsewhere, gathered into his alert within the author cooldown.
        elsewhere = mention(session, erik, at=T0 + timedelta(hours=7), label="negative")
        resolved = alert(session, first, last=reply, status="resolved")
        reopened = alert(session, again, last=elsewhere)
        alert(session, None, kind="crisis", key="crisis:Brewly:60m", last=elsewhere)
    with db.transaction() as session:
        found = {row.id: row.alert_id for row in search_mentions(session).rows}
    assert found == {
        before.id: None,
        first.id: resolved.id,
        reply.id: resolved.id,
        again.id: reopened.id,
        later.id: reopened.id,
        elsewhere.id: reopened.id,
    }


LITERAL = ["100% sure", "1000 sure", "a_b", "axb", "back\\slash", "backslash", "Brewly", "BREWLY"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("100%", ["100% sure"]),
        ("%", ["100% sure"]),
        ("a_b", ["a_b"]),
        ("_", ["a_b"]),
        ("\\", ["back\\slash"]),
        ("k\\s", ["back\\slash"]),
        ("brewly", ["Brewly", "BREWLY"]),
    ],
)
def test_like_wildcards_in_the_search_text_match_only_themselves(
    db: Database, text: str, expected: list[str]
) -> None:
    with db.transaction() as session:
        writer = author(session, "erik")
        made = {
            mention(session, writer, at=T0 + timedelta(minutes=n), text=body).id: body
            for n, body in enumerate(LITERAL)
        }
    assert sorted(made[i] for i in ids(db, MentionQuery(text=text))) == sorted(expected)


def test_the_cursor_carries_on_where_the_page_ended(db: Database) -> None:
    with db.transaction() as session:
        writer = author(session, "erik")
        made = [mention(session, writer, at=T0).id for _ in range(5)]  # all at the same time
    with db.transaction() as session:
        first = search_mentions(session, limit=2)
        second = search_mentions(session, cursor=first.next_cursor, limit=2)
        third = search_mentions(session, cursor=second.next_cursor, limit=2)
    walked = [row.id for page in (first, second, third) for row in page.rows]
    assert walked == sorted(made, reverse=True)
    assert third.next_cursor is None
    assert decode_cursor(encode_cursor(T0, 7)) == (T0, 7)


NOT_A_CURSOR = "the cursor is not one this search gave; start again from the first page"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (dict(cursor="bm9wZQ"), NOT_A_CURSOR),  # "nope"
        (dict(cursor="@@@"), NOT_A_CURSOR),
        (dict(cursor=encode_cursor(datetime(2026, 11, 2), 1)), NOT_A_CURSOR),  # no time zone
        (dict(limit=0), "page size 0: give 1 to 200"),
        (dict(limit=201), "page size 201: give 1 to 200"),
        (
            dict(query=MentionQuery(sentiment="angry")),
            "sentiment 'angry': give one of negative, neutral, positive, unlabelled",
        ),
        (
            dict(query=MentionQuery(since=T0, until=T0)),
            "since 2026-11-02T12:00:00+00:00 is not before until 2026-11-02T12:00:00+00:00",
        ),
        (
            dict(query=MentionQuery(since=datetime(2026, 11, 2))),
            "since 2026-11-02T00:00:00 has no time zone",
        ),
        (
            dict(query=MentionQuery(until=datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))))),
            "until 0001-01-01T00:00:00+05:00 is out of range",
        ),
        (dict(query=MentionQuery(text="a\x00b")), "text holds a NUL character"),
    ],
)
def test_what_cannot_be_searched_for_is_refused_in_one_line(
    db: Database, call: dict[str, object], message: str
) -> None:
    with db.transaction() as session, pytest.raises(InvalidInput) as raised:
        search_mentions(session, **call)  # type: ignore[arg-type]
    assert str(raised.value) == message


# --- walking every page, whatever the page size and whatever arrives meanwhile -------------

HANDLES = ("erik", "anna", "bob_b")  # erik is a customer
TEXTS = ("Brew_ly 100%", "brewly rocks", "BREW", "a%b", "plain")


@dataclass(frozen=True)
class Spec:
    """A mention to store: who, about what, when, and its label."""

    writer: int
    brand: str
    label: str | None
    minute: int  # after T0; few distinct minutes, so many mentions share a time
    text: str


specs = st.builds(
    Spec,
    writer=st.integers(0, len(HANDLES) - 1),
    brand=st.sampled_from(["Brewly", "Kettlo"]),
    label=st.sampled_from(["negative", "neutral", "positive", None]),
    minute=st.integers(0, 5),
    text=st.sampled_from(TEXTS),
)
queries = st.builds(
    MentionQuery,
    brand=st.none() | st.sampled_from(["Brewly", "Kettlo"]),
    sentiment=st.none() | st.sampled_from(["negative", "positive", "unlabelled"]),
    customer=st.none() | st.booleans(),
    since=st.none() | st.sampled_from([T0 + timedelta(minutes=2)]),
    text=st.none() | st.sampled_from(["brew", "%", "_", "erik", "100"]),
)


def matches(spec: Spec, query: MentionQuery) -> bool:
    """What the search should find, said plainly."""
    handle = HANDLES[spec.writer]
    label = spec.label or "unlabelled"
    at = T0 + timedelta(minutes=spec.minute)
    needle = (query.text or "").lower()
    return (
        query.brand in (None, spec.brand)
        and query.sentiment in (None, label)
        and query.customer in (None, handle == "erik")
        and (query.since is None or at >= query.since)
        and (needle in spec.text.lower() or needle in handle or needle in handle.title())
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    first=st.lists(specs, max_size=20),
    arriving=st.lists(st.lists(specs, max_size=3), max_size=4),
    query=queries,
    size=st.integers(1, 7),
)
def test_walking_the_pages_lists_every_match_once_in_order_while_mentions_arrive(
    db: Database, first: list[Spec], arriving: list[list[Spec]], query: MentionQuery, size: int
) -> None:
    with db.transaction() as session:
        for table in (Alert, SentimentRecord, MentionRecord, AuthorRecord, Customer):
            session.execute(delete(table))
        writers = [
            author(
                session,
                handle,
                display_name=handle.title(),
                customer=customer(session, "C-1", "Erik") if handle == "erik" else None,
            )
            for handle in HANDLES
        ]
    expected: list[tuple[datetime, int]] = []

    def store(batch: list[Spec], *, after: tuple[datetime, int] | None) -> None:
        """Store a batch; those that sort after the last row shown are still to be listed."""
        with db.transaction() as session:
            for spec in batch:
                at = T0 + timedelta(minutes=spec.minute)
                row = mention(
                    session,
                    writers[spec.writer],
                    at=at,
                    text=spec.text,
                    brand=spec.brand,
                    label=spec.label,
                )
                if matches(spec, query) and (after is None or (at, row.id) < after):
                    expected.append((at, row.id))

    store(first, after=None)
    walked: list[tuple[datetime, int]] = []
    cursor = None
    pending = list(arriving)
    while True:
        with db.transaction() as session:
            page = search_mentions(session, query, cursor=cursor, limit=size)
        assert len(page.rows) <= size
        walked.extend((row.created_at, row.id) for row in page.rows)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
        if pending:
            store(pending.pop(0), after=walked[-1])
    assert walked == sorted(expected, reverse=True)
