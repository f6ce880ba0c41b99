"""Builders of test data: the test brand, mentions and posts, sentiment scores, and storing them."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from connectors.base import Author, Batch, Mention
from social_crm.db import Database
from social_crm.mentions.ingest import store_batch
from social_crm.mentions.models import MentionRecord, SentimentRecord

BRAND = {
    "name": "Brewly",
    "keywords": ["brewly"],
    "hashtags": ["brewly"],
    "subreddits": ["brewly", "espresso"],
    "accounts": {"mastodon": "brewly"},
}

# The time every `mention` was written; `post` defaults to the day after.
MENTION_T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
POST_T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)

# Sentiment scores to `store` with a mention, as the classifier would have given them.
ANGRY = {"label": "negative", "negative": 0.9, "neutral": 0.07, "positive": 0.03}
UNSURE = {"label": "negative", "negative": 0.45, "neutral": 0.35, "positive": 0.2}
HAPPY = {"label": "positive", "negative": 0.02, "neutral": 0.08, "positive": 0.9}


def mention(
    native_id: str,
    *,
    author: str = "erik",
    parent: str | None = None,
    thread: str | None = None,
    text: str = "hello",
) -> Mention:
    """A Reddit post (or, given a parent, a comment) about Brewly, written at MENTION_T0."""
    return Mention(
        network="reddit",
        native_id=native_id,
        brand="Brewly",
        source="Brewly:r/brewly:new",
        url=f"https://www.reddit.com/{native_id}",
        author=Author(network="reddit", handle=author, display_name=author.title(), followers=3),
        text=text,
        created_at=MENTION_T0,
        kind="comment" if parent else "post",
        thread_id=thread or native_id,
        parent_id=parent,
        reach=2,
    )


def post(
    native_id: str,
    *,
    author: str = "erik",
    thread: str | None = None,
    text: str = "This is awful",
    followers: int = 3,
    reach: int = 2,
    created_at: datetime = POST_T0,
    brand: str = "Brewly",
    network: str = "reddit",
) -> Mention:
    """A negative-sounding post (or, given a thread, a reply in it) for escalation tests."""
    return Mention(
        network=network,
        native_id=native_id,
        brand=brand,
        source=f"{brand}:src",
        url=f"https://www.reddit.com/{native_id}",
        author=Author(network=network, handle=author, followers=followers),
        text=text,
        created_at=created_at,
        kind="comment" if thread else "post",
        thread_id=thread or native_id,
        parent_id=thread,
        reach=reach,
    )


def store(db: Database, *items: tuple[Mention, dict[str, object]]) -> None:
    """Store mentions with the given sentiment scores (no classifier involved)."""
    with db.transaction() as session:
        store_batch(session, "test", "src", Batch([m for m, _ in items], None))
        ids = dict(
            session.execute(
                select(MentionRecord.native_id, MentionRecord.id).where(
                    MentionRecord.native_id.in_([m.native_id for m, _ in items])
                )
            ).all()
        )
        for item, scores in items:
            label = str(scores["label"])
            session.add(
                SentimentRecord(
                    mention_id=ids[item.native_id],
                    label=label,
                    confidence=float(scores[label]),  # type: ignore[arg-type]
                    negative=scores["negative"],
                    neutral=scores["neutral"],
                    positive=scores["positive"],
                    model="test",
                    # as the classifier stores it, with sentiment.uncertain_below at 0.5
                    uncertain=float(scores[label]) < 0.5,  # type: ignore[arg-type]
                )
            )


# The engagement section the reply tests use: templates in English and Dutch for Brewly.
ENGAGEMENT = {
    "brands": {
        "Brewly": {
            "default_language": "en",
            "link": "https://brewly.example/help",
            "footer": "Brewly support (replies are sent with social-crm)",
        }
    },
    "templates": [
        {
            "name": "apology-en",
            "brand": "Brewly",
            "situation": "apology",
            "language": "en",
            "text": "Sorry, {customer_name}! We sent you a message; see also {link}",
        },
        {
            "name": "apology-nl",
            "brand": "Brewly",
            "situation": "apology",
            "language": "nl",
            "text": "Sorry, {customer_name}! We hebben je een bericht gestuurd.",
        },
        {
            "name": "thanks-en",
            "brand": "Brewly",
            "situation": "thanks",
            "language": "en",
            "text": "Thank you, {author}, that made our day at {brand}!",
            "auto_send": True,
        },
        {
            "name": "answer-en",
            "brand": "Brewly",
            "situation": "answer",
            "language": "en",
            "text": "Hi {author}, the answer is on {link}",
            "auto_send": True,
        },
    ],
    "rules": [
        {"name": "sorry-customers", "situation": "apology", "customer": True},
        {"name": "thank-fans", "situation": "thanks", "sentiment": ["positive"]},
        {"name": "questions", "situation": "answer", "question": True, "sentiment": ["negative"]},
    ],
}


def link_customer(db: Database, handle: str, *, name: str, key: str = "C-1") -> None:
    """Make the author with ``handle`` a known customer (as linking would)."""
    from social_crm.customers.models import Customer
    from social_crm.mentions.models import AuthorRecord

    with db.transaction() as session:
        customer = session.scalar(select(Customer).where(Customer.external_id == key))
        if customer is None:
            customer = Customer(external_id=key, name=name)
            session.add(customer)
            session.flush()
        author = session.scalar(select(AuthorRecord).where(AuthorRecord.handle == handle))
        assert author is not None, handle
        author.customer_id, author.linked_by = customer.id, "crm-handle"
