"""Rows stored directly, for read-side tests that need many precise mentions quickly."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from social_crm.alerts.models import Alert
from social_crm.customers.models import Customer
from social_crm.mentions.models import AuthorRecord, MentionRecord, SentimentRecord

T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)  # a Monday
_numbers = itertools.count(1)


def customer(session: Session, key: str, name: str) -> Customer:
    """A CRM customer."""
    row = Customer(external_id=key, name=name)
    session.add(row)
    session.flush()
    return row


def author(
    session: Session,
    handle: str,
    *,
    network: str = "reddit",
    display_name: str = "",
    customer: Customer | None = None,
) -> AuthorRecord:
    """An author, linked to ``customer`` if given."""
    row = AuthorRecord(
        network=network,
        handle=handle,
        display_name=display_name,
        customer_id=customer.id if customer else None,
    )
    session.add(row)
    session.flush()
    return row


def mention(
    session: Session,
    writer: AuthorRecord,
    *,
    at: datetime = T0,
    text: str = "hello",
    brand: str = "Brewly",
    label: str | None = "neutral",
    confidence: float = 0.9,
    language: str | None = "en",
    thread: str | None = None,
) -> MentionRecord:
    """A mention by ``writer`` at ``at`` with sentiment ``label`` (None: not classified)."""
    native = f"n{next(_numbers)}"
    row = MentionRecord(
        network=writer.network,
        native_id=native,
        brand=brand,
        source=f"{brand}:src",
        url=f"https://example.com/{native}",
        author_id=writer.id,
        text=text,
        language=language,
        kind="post" if thread is None else "comment",
        thread_id=thread or native,
        reach=1,
        created_at=at,
    )
    session.add(row)
    session.flush()
    if label is not None:
        rest = (1 - confidence) / 2
        scores = {"negative": rest, "neutral": rest, "positive": rest, label: confidence}
        session.add(
            SentimentRecord(
                mention_id=row.id, label=label, confidence=confidence, model="t", **scores
            )
        )
        session.flush()
    return row


def alert(
    session: Session,
    first: MentionRecord | None,
    *,
    kind: str = "mention",
    brand: str | None = None,
    severity: str = "medium",
    status: str = "open",
    key: str | None = None,
    last: MentionRecord | None = None,
) -> Alert:
    """An alert on ``first``'s conversation and brand (or under ``key``)."""
    if key is None:
        assert first is not None, "an alert without a first mention needs its key"
        key = f"{first.network}:{first.thread_id}"
    row = Alert(
        kind=kind,
        thread_key=key,
        brand=brand if brand is not None else first.brand if first else "",
        status=status,
        reason="test",
        severity=severity,
        first_mention_id=first.id if first else None,
        last_mention_id=(last or first).id if (last or first) else None,
        opened_at=T0,
    )
    session.add(row)
    session.flush()
    return row
