"""The overview: sentiment per day and week, the satisfaction index, open alerts, listening."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from connectors.base import Batch
from connectors.errors import ConnectorError
from social_crm.db import Database, heartbeats
from social_crm.insights.overview import DAYS, WEEKS, overview
from social_crm.mentions import sources
from social_crm.mentions.ingest import store_batch

from .stored import T0, alert, author, mention

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # T0 is its noon
NOW = T0 + timedelta(days=3)  # Thursday 5 November 2026, 12:00 UTC


@pytest.fixture
def week(db: Database) -> None:
    """A scripted week for Brewly: 6 positive, 2 negative, 2 neutral, 3 not classified yet.

    The Sunday before, at 23:59:59, one negative mention; 200 days earlier, one positive.
    And a Kettlo mention this week, which Brewly's figures leave out.
    """
    script = ["positive"] * 6 + ["negative"] * 2 + ["neutral"] * 2 + [None] * 3
    with db.transaction() as session:
        writer = author(session, "erik")
        for hour, label in enumerate(script):
            mention(session, writer, at=T0 + timedelta(hours=hour), label=label)
        mention(session, writer, at=MONDAY - timedelta(seconds=1), label="negative")
        mention(session, writer, at=NOW - timedelta(days=200), label="positive")
        mention(session, writer, at=T0, brand="Kettlo", label="negative")


def test_the_satisfaction_index_is_share_positive_minus_share_negative_of_labelled_mentions(
    db: Database, week: None
) -> None:
    with db.transaction() as session:
        brewly = overview(session, brands=["Brewly"], now=NOW).brands[0]
    this_week, last_week, before = brewly.weeks[-1], brewly.weeks[-2], brewly.weeks[-3]
    assert this_week.start == date(2026, 11, 2)  # Monday
    counted = (this_week.positive, this_week.negative, this_week.neutral, this_week.unlabelled)
    assert counted == (6, 2, 2, 3)
    assert this_week.total == 13
    assert this_week.satisfaction == pytest.approx((6 - 2) / 10)
    assert (last_week.start, last_week.negative, last_week.satisfaction) == (
        date(2026, 10, 26),
        1,
        -1.0,
    )
    assert (before.total, before.satisfaction) == (0, None)  # a week without mentions


def test_days_and_weeks_are_utc_calendar_periods_oldest_first(db: Database, week: None) -> None:
    with db.transaction() as session:
        brewly = overview(session, brands=["Brewly"], now=NOW).brands[0]
    assert len(brewly.days) == DAYS and len(brewly.weeks) == WEEKS
    assert brewly.days[-1].start == date(2026, 11, 5)
    assert brewly.days[0].start == date(2026, 11, 5) - timedelta(days=DAYS - 1)
    by_day = {day.start: day for day in brewly.days}
    # The Sunday mention at 23:59:59 is Sunday's; the week's, hourly from Monday noon,
    # are Monday's but the last, at midnight, Tuesday's.
    assert (by_day[date(2026, 11, 1)].negative, by_day[date(2026, 11, 1)].total) == (1, 1)
    assert by_day[date(2026, 11, 2)].total == 12
    assert by_day[date(2026, 11, 3)].total == 1
    assert brewly.weeks[0].start == date(2026, 11, 2) - timedelta(weeks=WEEKS - 1)
    # Nothing from 200 days ago: older than both windows.
    assert sum(day.total for day in brewly.days) == 14
    assert sum(week.total for week in brewly.weeks) == 14


def test_the_brands_named_come_first_then_every_other_brand_with_mentions(
    db: Database, week: None
) -> None:
    with db.transaction() as session:
        found = overview(session, now=NOW)
        named = overview(session, brands=["Zeta", "Kettlo"], now=NOW)
    assert [brand.brand for brand in found.brands] == ["Brewly", "Kettlo"]
    assert found.brands[1].weeks[-1].negative == 1
    assert [brand.brand for brand in named.brands] == ["Zeta", "Kettlo", "Brewly"]
    assert sum(day.total for day in named.brands[0].days) == 0


def test_open_alerts_are_counted_per_brand_and_severity(db: Database) -> None:
    with db.transaction() as session:
        writer = author(session, "erik")
        for severity, status, brand in [
            ("high", "open", "Brewly"),
            ("high", "acknowledged", "Brewly"),
            ("low", "open", "Brewly"),
            ("critical", "resolved", "Brewly"),
            ("medium", "open", "Kettlo"),
        ]:
            alert(session, mention(session, writer, brand=brand), severity=severity, status=status)
        alert(session, None, kind="health", key="health:reddit:Brewly:new")
    with db.transaction() as session:
        result = overview(session, now=NOW)
    counts = {
        brand.brand: {item.severity: item.count for item in brand.open_alerts}
        for brand in result.brands
    }
    assert counts == {
        "Brewly": {"low": 1, "medium": 0, "high": 2, "critical": 0},
        "Kettlo": {"low": 0, "medium": 1, "high": 0, "critical": 0},
    }
    assert result.brands[0].open_alert_total == 3
    assert result.health.open_health_alerts == 1


def test_listening_health_shows_a_failing_source_since_its_first_failure(db: Database) -> None:
    failed_at = NOW - timedelta(hours=2)
    with db.transaction() as session:
        store_batch(session, "reddit", "Brewly:r/brewly:new", Batch([], "t3_1"))
        for minutes in (0, 5, 10):
            sources.record_failure(
                session,
                "mastodon",
                "Brewly:search",
                ConnectorError("HTTP 503 from mastodon.example"),
                now=failed_at + timedelta(minutes=minutes),
                floor=60,
            )
        sources.disable(session, "bluesky", ["Brewly:feed"], "credentials refused", now=NOW)
        heartbeats.start(session, interval_seconds=60, now=NOW - timedelta(days=1, seconds=30))
        beat = heartbeats.start(session, interval_seconds=60, now=NOW - timedelta(hours=5))
        heartbeats.beat(session, beat, now=NOW - timedelta(seconds=30))
    with db.transaction() as session:
        health = overview(session, now=NOW).health
    states = {(s.connector, s.source): s for s in health.sources}
    failing = states["mastodon", "Brewly:search"]
    assert failing.state == "failing"
    assert failing.failing_since == failed_at
    assert failing.consecutive_failures == 3
    assert failing.last_error == "HTTP 503 from mastodon.example"
    assert failing.last_error_at == failed_at + timedelta(minutes=10)
    assert states["reddit", "Brewly:r/brewly:new"].state == "ok"
    assert states["reddit", "Brewly:r/brewly:new"].failing_since is None
    disabled = states["bluesky", "Brewly:feed"]
    assert (disabled.state, disabled.disabled_reason) == ("disabled", "credentials refused")
    assert [s.source for s in health.failing] == ["Brewly:feed", "Brewly:search"]
    # The daemon started a day ago stopped beating; the one started 5 hours ago beats.
    assert health.daemon_alive
    assert health.daemon_started_at == NOW - timedelta(hours=5)
    assert health.daemon_last_seen == NOW - timedelta(seconds=30)


def test_no_live_daemon_says_when_one_was_last_seen(db: Database) -> None:
    with db.transaction() as session:
        gone = heartbeats.start(session, interval_seconds=60, now=NOW - timedelta(hours=3))
        heartbeats.stop(session, gone, now=NOW - timedelta(hours=1))
    with db.transaction() as session:
        health = overview(session, now=NOW).health
    assert not health.daemon_alive
    assert health.daemon_started_at is None
    assert health.daemon_last_seen == NOW - timedelta(hours=1)
    assert health.sources == ()
