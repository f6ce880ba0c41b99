"""The commands read well in an 80-column terminal: nothing cut that a person acts on."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.base import Batch
from sentiment.lexicon import LexiconClassifier
from social_crm.ambassadors import scoring
from social_crm.db import Database
from social_crm.mentions.classify import classify_pending
from social_crm.mentions.ingest import store_batch

from .commands import COLUMNS, social_crm
from .escalation import ingest_and_escalate
from .factories import BRAND, mention, post

# A long but real-looking Mastodon handle, as lists print it.
LONG = "annelies.vandermeer@mastodon.example.social"
LONG_LISTED = f"mastodon:{LONG}"

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # one backend will do


@pytest.fixture
def config(write_config, db_url: str) -> Path:
    return write_config(brands=[BRAND], database={"url": db_url})


@pytest.fixture
def thread_alert(db: Database) -> int:
    """An alert on a thread of three negative mentions and one positive reply."""
    (alert_id,) = ingest_and_escalate(
        db,
        mention("t3_a", author="espresso_erik", text="Awful, terrible, I hate this machine."),
        mention("t1_b", author="espresso_erik", parent="t3_a", thread="t3_a", text="Still awful."),
        mention("t1_c", author="lisa", parent="t3_a", thread="t3_a", text="Terrible here too."),
        mention("t1_d", author="tom", parent="t3_a", thread="t3_a", text="Mine works, love it!"),
    )
    return alert_id


@pytest.fixture
def long_handles(db: Database) -> None:
    """An alert and an ambassador whose handle is long, and a source with a long name."""
    ingest_and_escalate(db, post("109", author=LONG, network="mastodon", text="Awful, I hate it"))
    with db.transaction() as session:
        store_batch(
            session,
            "mastodon",
            "Brewly:#brewly@mastodon.example.social",
            Batch(
                [
                    post(f"11{i}", author=LONG, network="mastodon", text="I love Brewly")
                    for i in range(3)
                ],
                None,
            ),
        )
        classify_pending(session, LexiconClassifier(), limit=100)
    with db.transaction() as session:
        scoring.recompute(session, half_life_days=30)


def lines_fit(output: str) -> None:
    for line in output.splitlines():
        assert len(line.rstrip()) <= COLUMNS, line


def test_alerts_show_lists_every_mention_of_the_conversation(
    config: Path, thread_alert: int
) -> None:
    shown = social_crm("alerts", "show", str(thread_alert), "--config", str(config))
    assert shown.returncode == 0, shown.stderr
    assert "mentions:     3 counted by the alert, 4 in its conversation" in shown.stdout
    for text in ("I hate this machine", "Still awful.", "Terrible here too.", "love it!"):
        assert text in shown.stdout, shown.stdout
    for handle in ("reddit:espresso_erik", "reddit:lisa", "reddit:tom"):
        assert handle in shown.stdout
    assert shown.stdout.count(", negative\n") == 3 and shown.stdout.count(", positive\n") == 1
    # Each delivery's idempotency key, the reference a receiver sees, is shown whole.
    for channel in ("team", "chat"):
        assert f"alert-{thread_alert}-{channel}-0 " in shown.stdout, shown.stdout
    assert "attempt" in shown.stdout and "…" not in shown.stdout.split("Deliveries")[1]
    lines_fit(shown.stdout)


def test_lists_fit_80_columns_and_never_cut_a_handle(
    config: Path, thread_alert: int, long_handles: None
) -> None:
    for command in (("alerts", "list"), ("ambassadors", "list"), ("status",)):
        result = social_crm(*command, "--config", str(config))
        assert result.returncode == 0, result.stderr
        lines_fit(result.stdout)
        if command != ("status",):
            assert LONG_LISTED in result.stdout, result.stdout
    status = social_crm("status", "--config", str(config)).stdout
    assert "Brewly:#brewly@mastodon.example.social" in status, status


def test_a_handle_as_a_list_prints_it_is_accepted(config: Path, long_handles: None) -> None:
    approved = social_crm(
        "ambassadors", "approve", LONG_LISTED, "--by", "maria", "--config", str(config)
    )
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout == f"{LONG_LISTED} approved\n"
    assert approved.stderr == ""  # the result is printed once, not logged beside it
    rejected = social_crm(
        "ambassadors", "reject", f"mastodon:@{LONG}", "--by", "maria", "--config", str(config)
    )
    assert rejected.returncode == 0, rejected.stderr


def test_a_reddit_handle_in_its_listed_and_typed_forms(config: Path, thread_alert: int) -> None:
    for handle in ("reddit:espresso_erik", "reddit:u/espresso_erik", "u/espresso_erik"):
        result = social_crm("ambassadors", "optout", handle, "--config", str(config))
        assert result.returncode == 0, (handle, result.stderr)
        assert result.stdout == "reddit:espresso_erik opted out\n"


def test_an_empty_list_says_what_is_empty(config: Path, thread_alert: int) -> None:
    none = social_crm("alerts", "list", "--status", "resolved", "--config", str(config))
    assert none.returncode == 0 and none.stdout == "no alerts match status=resolved\n"
    crisis = social_crm(
        "alerts", "list", "--kind", "crisis", "--severity", "high", "--config", str(config)
    )
    assert crisis.stdout == "no alerts match severity=high kind=crisis\n"
    ambassadors = social_crm("ambassadors", "list", "--rising", "--config", str(config))
    assert "no unreviewed author's score is rising" in ambassadors.stdout
