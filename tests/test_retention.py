"""Retention: past a network's period text and profiles are cleared, counts and labels stay."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.base import Revision
from sentiment.lexicon import LexiconClassifier
from social_crm.alerts.models import Alert
from social_crm.config import RetentionConfig
from social_crm.db import Database
from social_crm.insights.overview import overview
from social_crm.jobs import JOBS
from social_crm.mentions.classify import classify_pending
from social_crm.mentions.ingest import apply_revisions
from social_crm.mentions.models import AuthorRecord, MentionRecord, SentimentRecord
from social_crm.privacy import retention

from . import stored
from .commands import social_crm
from .factories import BRAND

NOW = stored.T0 + timedelta(days=120)
OLD = NOW - timedelta(days=100)  # past reddit's 90 days
RECENT = NOW - timedelta(days=10)
POLICY = RetentionConfig.model_validate({"reddit": {"days": 90}, "default": None})


def _author(session, handle: str, *, network: str = "reddit") -> AuthorRecord:  # noqa: ANN001
    row = stored.author(session, handle, network=network, display_name=handle.title())
    row.profile = {"note": f"bio of {handle}", "fields": []}
    return row


@pytest.fixture
def history(db: Database) -> dict[str, int]:
    """Reddit mentions old and recent, from an author gone quiet and one still posting, a
    Mastodon one (kept for good), an unlabelled old one and a crisis alert quoting an old one."""
    with db.transaction() as session:
        quiet = _author(session, "quiet_one")
        active = _author(session, "active_one")
        toots = _author(session, "tooter@social.example", network="mastodon")
        ids = {
            "old": stored.mention(session, quiet, at=OLD, text="old words", label="negative").id,
            "old_unlabelled": stored.mention(
                session, quiet, at=OLD, text="never read", label=None
            ).id,
            "active_old": stored.mention(
                session, active, at=OLD, text="back then", label="positive"
            ).id,
            "recent": stored.mention(
                session, active, at=RECENT, text="fresh words", label="positive"
            ).id,
            "toot": stored.mention(session, toots, at=OLD, text="a toot", label="neutral").id,
        }
        crisis = stored.alert(session, None, kind="crisis", key="crisis:Brewly", brand="Brewly")
        crisis.details = {
            "top": [
                {
                    "mention_id": ids["old"],
                    "author": "quiet_one",
                    "reach": 1,
                    "url": "https://example.com/x",
                    "text": "old words",
                },
                {
                    "mention_id": ids["recent"],
                    "author": "active_one",
                    "reach": 1,
                    "url": "https://example.com/y",
                    "text": "fresh words",
                },
            ]
        }
        ids["crisis"] = crisis.id
        return ids


def _texts(db: Database) -> dict[int, tuple[str, str, bool]]:
    with db.transaction() as session:
        return {
            m.id: (m.text, m.url, m.expired_at is not None)
            for m in session.scalars(select(MentionRecord))
        }


def _profiles(db: Database) -> dict[str, tuple[str, object]]:
    with db.transaction() as session:
        return {
            a.handle: (a.display_name, a.profile) for a in session.scalars(select(AuthorRecord))
        }


def test_old_text_and_quiet_profiles_are_cleared_and_the_rest_is_left(
    db: Database, history: dict[str, int]
) -> None:
    report = retention.apply(db, POLICY, now=NOW, batch_size=1)
    texts = _texts(db)
    assert texts[history["old"]] == ("", "", True)
    assert texts[history["old_unlabelled"]] == ("", "", True)
    assert texts[history["active_old"]] == ("", "", True)
    text, url, expired = texts[history["recent"]]
    assert (text, url.startswith("https://example.com/"), expired) == ("fresh words", True, False)
    assert texts[history["toot"]][::2] == ("a toot", False)
    profiles = _profiles(db)
    assert profiles["quiet_one"] == ("", None)
    assert profiles["active_one"] == ("Active_One", {"note": "bio of active_one", "fields": []})
    assert profiles["tooter@social.example"][1] is not None
    (reddit,) = report.networks
    assert (reddit.network, reddit.days, reddit.mentions, reddit.authors) == ("reddit", 90, 3, 1)
    assert report.kept == ("mastodon",) and report.alerts == 1


def test_counts_labels_and_handles_stay(db: Database, history: dict[str, int]) -> None:
    with db.transaction() as session:
        before = overview(session, brands=["Brewly"], now=NOW).brands[0]
    retention.apply(db, POLICY, now=NOW)
    with db.transaction() as session:
        after = overview(session, brands=["Brewly"], now=NOW).brands[0]
        labels = dict(
            session.execute(select(SentimentRecord.mention_id, SentimentRecord.label)).all()
        )
        handles = sorted(session.scalars(select(AuthorRecord.handle)))
    assert (after.days, after.weeks) == (before.days, before.weeks)
    assert labels[history["old"]] == "negative" and labels[history["active_old"]] == "positive"
    assert handles == ["active_one", "quiet_one", "tooter@social.example"]


def test_a_crisis_alert_stops_quoting_cleared_posts(db: Database, history: dict[str, int]) -> None:
    retention.apply(db, POLICY, now=NOW)
    with db.transaction() as session:
        old, recent = session.get(Alert, history["crisis"]).details["top"]
    assert (old["text"], old["url"], old["expired"], old["author"]) == (
        "(expired)",
        "",
        True,
        "quiet_one",
    )
    assert (recent["text"], recent["url"]) == ("fresh words", "https://example.com/y")


def test_a_dry_run_changes_nothing_and_a_second_run_clears_nothing_more(
    db: Database, history: dict[str, int]
) -> None:
    before = _texts(db)
    with db.transaction() as session:
        planned = retention.plan(session, POLICY, now=NOW)
    assert _texts(db) == before
    assert [(n.mentions, n.authors) for n in planned.networks] == [(3, 1)] and planned.alerts == 1
    first = retention.apply(db, POLICY, now=NOW)
    assert [(n.mentions, n.authors) for n in first.networks] == [(3, 1)]
    cleared = _texts(db)
    second = retention.apply(db, POLICY, now=NOW + timedelta(hours=1))
    assert [(n.mentions, n.authors) for n in second.networks] == [(0, 0)] and second.alerts == 0
    assert _texts(db) == cleared


def test_cleared_text_is_never_classified_nor_brought_back_by_an_edit(
    db: Database, history: dict[str, int]
) -> None:
    retention.apply(db, POLICY, now=NOW)
    with db.transaction() as session:
        assert classify_pending(session, LexiconClassifier(), limit=10) == 0
        native = session.get(MentionRecord, history["active_old"]).native_id
        changed = apply_revisions(
            session, "reddit", [Revision(native_id=native, text="edited words", edited_at=NOW)]
        )
        assert changed == 0
        assert session.get(SentimentRecord, history["active_old"]) is not None
    assert _texts(db)[history["active_old"]] == ("", "", True)


def test_without_a_period_nothing_is_cleared(db: Database, history: dict[str, int]) -> None:
    before = _texts(db)
    report = retention.apply(db, RetentionConfig(), now=NOW)
    assert report.networks == () and report.kept == ("mastodon", "reddit") and report.total == 0
    assert _texts(db) == before


def test_a_default_period_covers_the_networks_not_named(
    db: Database, history: dict[str, int]
) -> None:
    policy = RetentionConfig.model_validate({"reddit": None, "default": {"days": 30}})
    report = retention.apply(db, policy, now=NOW)
    assert [(n.network, n.mentions) for n in report.networks] == [("mastodon", 1)]
    assert report.kept == ("reddit",)
    assert _texts(db)[history["toot"]] == ("", "", True)


def test_the_daemon_runs_retention_daily() -> None:
    (job,) = [job for job in JOBS if job.name == "retention"]
    assert job.interval(None) == 24 * 3600  # type: ignore[arg-type]


def test_retention_command_shows_what_a_dry_run_would_clear(
    write_config, db_url: str, db: Database, history: dict[str, int], tmp_path: Path
) -> None:
    config = write_config(
        brands=[BRAND], database={"url": db_url}, retention={"reddit": {"days": 90}}
    )
    shown = social_crm("privacy", "retention", "--dry-run", "-c", str(config))
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert any(line.split()[:3] == ["reddit", "90", "days"] for line in lines), shown.stdout
    assert "mastodon: kept for good (no retention period)" in shown.stdout
    assert all(len(line) <= 80 for line in lines)
    assert _texts(db)[history["old"]][0] == "old words"
    bad = write_config(brands=[BRAND], database={"url": db_url}, retention={"reddit": {"days": 0}})
    refused = social_crm("privacy", "retention", "-c", str(bad))
    assert refused.returncode != 0 and "retention.reddit.days" in refused.stderr
