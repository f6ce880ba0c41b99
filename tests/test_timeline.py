"""A customer's timeline: identities, mentions and alerts across networks, and the trend."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.base import Author, Batch, Mention
from social_crm.cli import app
from social_crm.customers.importer import import_customers
from social_crm.customers.timeline import customer_timeline
from social_crm.db import Database
from social_crm.errors import NotFound
from social_crm.mentions.ingest import store_batch
from social_crm.mentions.models import MentionRecord, SentimentRecord

from .escalation import ingest_and_escalate
from .factories import MENTION_T0, mention

CRM = "id,name,email,tier,reddit,mastodon\nC-1,Erik Jansen,erik@example.com,gold,erik,@erik@mastodon.nl\n"
NOW = MENTION_T0 + timedelta(days=3)


def toot(native_id: str, days_ago: int, text: str) -> Mention:
    return Mention(
        network="mastodon",
        native_id=native_id,
        brand="Brewly",
        source="Brewly:#brewly",
        url=f"https://mastodon.nl/@erik/{native_id}",
        author=Author(network="mastodon", handle="erik@mastodon.nl", display_name="Erik"),
        text=text,
        created_at=NOW - timedelta(days=days_ago),
        kind="status",
        thread_id=native_id,
    )


@pytest.fixture
def story(db: Database, tmp_path: Path) -> int:
    """Erik praises on Mastodon, then complains on Reddit; returns the alert's id."""
    toots = [("m1", 50, "positive", 0.9), ("m2", 20, "positive", 0.8), ("m3", 10, "neutral", 0.7)]
    with db.transaction() as session:
        store_batch(
            session,
            "mastodon",
            "s",
            Batch([toot(n, d, f"{label} toot") for n, d, label, _ in toots]),
        )
        for native_id, _days, label, confidence in toots:
            mention_id = session.scalar(
                select(MentionRecord.id).where(MentionRecord.native_id == native_id)
            )
            rest = (1 - confidence) / 2
            session.add(
                SentimentRecord(
                    mention_id=mention_id,
                    label=label,
                    confidence=confidence,
                    model="test",
                    **{"negative": rest, "neutral": rest, "positive": rest, label: confidence},
                )
            )
    (alert_id,) = ingest_and_escalate(
        db, mention("t3_a", text="Awful, terrible, I hate this broken machine.")
    )
    path = tmp_path / "crm.csv"
    path.write_text(CRM, encoding="utf-8")
    with db.transaction() as session:
        assert import_customers(session, path).authors_linked == 2
    return alert_id


def test_the_timeline_shows_every_network_and_alert_newest_first(db: Database, story: int) -> None:
    with db.transaction() as session:
        seen = customer_timeline(session, "C-1", now=NOW)
        assert seen.customer.name == "Erik Jansen"
        assert [(a.network, a.handle, a.linked_by) for a in seen.authors] == [
            ("mastodon", "erik@mastodon.nl", "crm-handle"),
            ("reddit", "erik", "crm-handle"),
        ]
        assert [(e.kind, e.network, e.title) for e in seen.entries][1:] == [
            ("mention", "reddit", seen.entries[1].title),
            ("mention", "mastodon", "neutral 0.70"),
            ("mention", "mastodon", "positive 0.80"),
            ("mention", "mastodon", "positive 0.90"),
        ]
        alert = seen.entries[0]  # opened when escalation ran, i.e. now: newest
        assert (alert.kind, alert.title) == ("alert", f"#{story} open")
        assert seen.entries[1].title.startswith("negative ")
        assert [e.at for e in seen.entries] == sorted((e.at for e in seen.entries), reverse=True)
        assert len(seen.weeks) == 8 and len(seen.sparkline) == 8
        counts = [(w.positive, w.neutral, w.negative) for w in seen.weeks]
        assert counts[-1] == (0, 0, 1)  # this week: the complaint
        assert counts[-2] == (0, 1, 0)  # 10 days ago
        assert counts[-3] == (1, 0, 0)  # 20 days ago
        assert counts[0] == (1, 0, 0)  # 50 days ago, the oldest week shown
        assert seen.sparkline[-1] == "▁" and seen.sparkline[-3] == "█" and "·" in seen.sparkline
        with pytest.raises(NotFound, match="no customer with id 'C-9'"):
            customer_timeline(session, "C-9")


def test_customers_show_prints_the_timeline(
    db: Database, story: int, db_url: str, write_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("social_crm.cli.render.console", Console(width=300))
    config = str(write_config(database={"url": db_url}))
    shown = CliRunner().invoke(app, ["customers", "show", "C-1", "-c", config])
    assert shown.exit_code == 0, shown.output
    for expected in (
        "Erik Jansen",
        "tier: gold",
        "erik@mastodon.nl",
        "by crm-handle",
        "positive 0.90",
        "Awful, terrible",
        f"#{story} open",
        "sentiment, last 8 weeks:",
    ):
        assert expected in shown.stdout, expected
