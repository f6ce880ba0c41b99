"""The fake Reddit and Mastodon with a configuration that replies on both, for end-to-end tests.

The brand answers as ``u/brewly_official`` on Reddit (a script app's password grant) and
as ``@brewly`` on its own Mastodon instance; the daemon and the ``social-crm`` command use
the real praw and Mastodon.py clients against the fakes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from social_crm.config import Settings, load_config
from social_crm.db import Database
from social_crm.demo.servers.mastodon import IDEMPOTENCY_SECONDS, FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.engagement.models import Reply
from social_crm.mentions.models import MentionRecord

REDDIT_ACCOUNT = "brewly_official"
REDDIT_PASSWORD = "demo-password"
BRAND = {
    "name": "Brewly",
    "keywords": ["brewly"],
    "hashtags": ["brewly"],
    "subreddits": ["brewly"],
    "accounts": {"reddit": f"u/{REDDIT_ACCOUNT}", "mastodon": "brewly"},
}
FOOTER = "Brewly support (sent with social-crm)"
CUSTOMERS = """id,name,email,tier,reddit,mastodon
C-1,Anna de Vries,anna@example.nl,gold,,@anna@mastodon.nl
C-3,Gus Grant,gus@example.com,vip,u/Grumpy_Gus,
"""
# Templates as a brand writes them; drafts are made by people (the apology also by a rule).
ENGAGEMENT: dict[str, Any] = {
    "brands": {
        "Brewly": {
            "default_language": "en",
            "link": "https://brewly.example/help",
            "footer": FOOTER,
        }
    },
    "templates": [
        {
            "name": "apology-en",
            "brand": "Brewly",
            "situation": "apology",
            "language": "en",
            "text": "Sorry, {customer_name}! We are on it & will fix it: {link}",
        },
        {
            "name": "move-to-private",
            "brand": "Brewly",
            "situation": "custom",
            "language": "en",
            "text": "Hi {author}, could you send us your order number here? We'll sort it out.",
            "private": True,
            "subject": "Your {brand} order",
        },
        {
            "name": "thanks-en",
            "brand": "Brewly",
            "situation": "thanks",
            "language": "en",
            "text": "Thank you, {author}! That made our day at {brand}.",
        },
    ],
    "rules": [{"name": "sorry-customers", "situation": "apology", "customer": True}],
    "propose_interval_seconds": 0.2,
    "send_interval_seconds": 0.2,
    "retry_base_seconds": 1,
}


@dataclass
class World:
    """The fakes and a configuration file pointing at them."""

    reddit: FakeReddit
    mastodon: FakeMastodon
    config: Path
    customers: Path

    def settings(self) -> Settings:
        return load_config(self.config)

    def posts(self) -> tuple[int, int]:
        """(replies and messages on Reddit, statuses on Mastodon) the brand's account made."""
        return (
            len(self.reddit.comments_by(REDDIT_ACCOUNT)) + len(self.reddit.messages),
            len(self.mastodon.posted),
        )


def make_world(
    reddit: FakeReddit,
    mastodon: FakeMastodon,
    write_config: Callable[..., Path],
    tmp_path: Path,
    *,
    db_url: str,
    reddit_login: bool = True,
    **sections: Any,
) -> World:
    """Empty both fakes, add the Mastodon accounts, and write a configuration for them
    (``reddit_login=False``: a read-only Reddit app, which cannot reply)."""
    reddit.reset()
    mastodon.reset()
    mastodon.idempotency_seconds = IDEMPOTENCY_SECONDS
    mastodon.add_account("anna", display_name="Anna", followers=50, remote_domain="mastodon.nl")
    mastodon.add_account("bob", display_name="Bob", followers=10, remote_domain="fosstodon.org")
    engagement = {**ENGAGEMENT, **sections.pop("engagement", {})}
    login = {"username": REDDIT_ACCOUNT, "password": REDDIT_PASSWORD} if reddit_login else {}
    config = write_config(
        brands=[BRAND],
        database={"url": db_url},
        connectors={
            "reddit": {
                "base_url": reddit.url,
                "client_id": reddit.client_id,
                "client_secret": reddit.client_secret,
                **login,
                "timeout_seconds": 10,
            },
            "mastodon": {
                "api_base_url": mastodon.url,
                "access_token": mastodon.access_token,
                "timeout_seconds": 10,
            },
        },
        engagement=engagement,
        scheduler={
            "process_interval_seconds": 0.2,
            "deliver_interval_seconds": 0.2,
            "jitter_seconds": 0,
        },
        **sections,
    )
    customers = tmp_path / "customers.csv"
    customers.write_text(CUSTOMERS, encoding="utf-8")
    return World(reddit, mastodon, config, customers)


def mention_id(db: Database, native_id: str) -> int:
    """The stored mention of a post on a fake (a Reddit fullname, or a Mastodon local id's
    status URI found by its locator's id)."""
    with db.transaction() as session:
        found = session.scalar(
            select(MentionRecord.id).where(
                (MentionRecord.native_id == native_id)
                | MentionRecord.locator.like(f"%/{native_id}")
            )
        )
    assert found is not None, f"no mention stored for {native_id}"
    return found


def reply_row(db: Database, reply_id: int) -> Reply:
    """A reply as stored (detached: its columns only)."""
    with db.transaction() as session:
        row = session.get(Reply, reply_id)
        assert row is not None
        session.expunge(row)
        return row
