"""The overview: per brand, mention volume and sentiment over time, open alerts, the
satisfaction index; and whether listening works (the daemon, each source).

Days and weeks are UTC calendar days and ISO weeks (Monday to Sunday); the latest of each
is the one in progress. Mentions are counted by when they were written.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlalchemy.orm import Session

from social_crm.alerts.enums import AlertKind, AlertStatus
from social_crm.alerts.models import Alert
from social_crm.db import heartbeats
from social_crm.db.base import utcnow
from social_crm.insights.search import UNLABELLED
from social_crm.mentions.models import MentionRecord, SentimentRecord, SourceCursor
from social_crm.severity import Severity

LOGGER = logging.getLogger(__name__)

DAYS = 30
WEEKS = 26
LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True, slots=True)
class SentimentCounts:
    """The mentions written in one day or week, by sentiment label."""

    start: date
    negative: int
    neutral: int
    positive: int
    unlabelled: int
    # Share positive minus share negative among labelled mentions, -1 to 1; None if none.
    satisfaction: float | None

    @property
    def total(self) -> int:
        """Every mention of the period, labelled or not."""
        return self.negative + self.neutral + self.positive + self.unlabelled


def counts(start: date, by_label: dict[str, int]) -> SentimentCounts:
    """The counts of a period from its mentions per label (``unlabelled`` for the rest)."""
    negative, neutral, positive = (by_label.get(label, 0) for label in LABELS)
    labelled = negative + neutral + positive
    return SentimentCounts(
        start=start,
        negative=negative,
        neutral=neutral,
        positive=positive,
        unlabelled=by_label.get(UNLABELLED, 0),
        satisfaction=(positive - negative) / labelled if labelled else None,
    )


@dataclass(frozen=True, slots=True)
class SeverityCount:
    """How many alerts of one severity are open or acknowledged."""

    severity: str
    count: int


@dataclass(frozen=True, slots=True)
class BrandOverview:
    """One brand: its days and weeks, oldest first, and its alerts not yet resolved."""

    brand: str
    days: tuple[SentimentCounts, ...]
    weeks: tuple[SentimentCounts, ...]
    open_alerts: tuple[SeverityCount, ...]  # every severity, least urgent first

    @property
    def open_alert_total(self) -> int:
        """Alerts of the brand not resolved yet."""
        return sum(item.count for item in self.open_alerts)


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """One source of a connector: ok, failing (since when, why), silent or disabled."""

    connector: str
    source: str
    state: str  # ok, failing, silent or disabled
    failing_since: datetime | None
    consecutive_failures: int
    last_error: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None
    last_item_at: datetime | None  # when it last found a new mention
    disabled_reason: str | None


@dataclass(frozen=True, slots=True)
class ListeningHealth:
    """Whether a daemon is listening, and how each source it polls is doing."""

    daemon_alive: bool
    daemon_started_at: datetime | None  # of the longest-running live daemon
    daemon_last_seen: datetime | None  # the latest heartbeat of any daemon
    sources: tuple[SourceStatus, ...]
    open_health_alerts: int

    @property
    def failing(self) -> tuple[SourceStatus, ...]:
        """The sources that are not ok."""
        return tuple(source for source in self.sources if source.state != "ok")


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything the overview shows, as of ``generated_at``."""

    generated_at: datetime
    brands: tuple[BrandOverview, ...]
    health: ListeningHealth


def overview(
    session: Session, *, brands: Sequence[str] = (), now: datetime | None = None
) -> Overview:
    """The overview of ``brands`` (the configured ones: shown first, in their order, even
    without mentions), then of every other brand with recent mentions or open alerts."""
    now = now or utcnow()
    today = now.date()
    first_day = today - timedelta(days=DAYS - 1)
    first_week = today - timedelta(days=today.weekday(), weeks=WEEKS - 1)
    window = min(first_day, first_week)
    daily = _daily_counts(session, since=window)
    alerts = _open_alerts(session)
    names = [*brands, *sorted((set(daily) | set(alerts)) - set(brands))]
    days = [first_day + timedelta(days=n) for n in range(DAYS)]
    weeks = [first_week + timedelta(weeks=n) for n in range(WEEKS)]
    return Overview(
        generated_at=now,
        brands=tuple(
            BrandOverview(
                brand=name,
                days=tuple(counts(day, daily[name].get(day, {})) for day in days),
                weeks=tuple(_weekly(daily[name], weeks)),
                open_alerts=tuple(
                    SeverityCount(severity.value, alerts[name].get(severity.value, 0))
                    for severity in Severity
                ),
            )
            for name in names
        ),
        health=listening_health(session, now=now),
    )


def _day(session: Session, column: ColumnElement[datetime]) -> ColumnElement[Any]:
    """The UTC calendar day of a stored time, computed by the database.

    PostgreSQL gives a date; SQLite, which keeps UTC times as text
    ("2026-11-01 12:00:00.000000"), its first ten characters.
    """
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.substr(column, 1, 10)


def _daily_counts(session: Session, *, since: date) -> dict[str, dict[date, dict[str, int]]]:
    """Mentions per brand, day and label (``unlabelled`` for none) written since ``since``."""
    day = _day(session, MentionRecord.created_at).label("day")
    label = func.coalesce(SentimentRecord.label, UNLABELLED).label("label")
    start = datetime.combine(since, datetime.min.time(), tzinfo=UTC)
    rows = session.execute(
        select(MentionRecord.brand, day, label, func.count())
        .outerjoin(SentimentRecord, SentimentRecord.mention_id == MentionRecord.id)
        .where(MentionRecord.created_at >= start)
        .group_by(MentionRecord.brand, day, label)
    ).all()
    found: dict[str, dict[date, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for brand, day_value, label_text, total in rows:
        day_date = day_value if isinstance(day_value, date) else date.fromisoformat(day_value)
        found[brand][day_date][label_text] = total
    return found


def _weekly(daily: dict[date, dict[str, int]], weeks: Iterable[date]) -> Iterable[SentimentCounts]:
    """The days' counts summed per week starting at each of ``weeks``."""
    for start in weeks:
        summed: dict[str, int] = defaultdict(int)
        for offset in range(7):
            for label, total in daily.get(start + timedelta(days=offset), {}).items():
                summed[label] += total
        yield counts(start, summed)


def _open_alerts(session: Session) -> dict[str, dict[str, int]]:
    """Alerts about a brand (mention and crisis alerts) not resolved, per brand and severity."""
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for brand, severity, total in session.execute(
        select(Alert.brand, Alert.severity, func.count())
        .where(Alert.status != AlertStatus.RESOLVED, Alert.kind != AlertKind.HEALTH)
        .group_by(Alert.brand, Alert.severity)
    ):
        found[brand][severity] = total
    return found


def listening_health(session: Session, *, now: datetime | None = None) -> ListeningHealth:
    """The daemon's heartbeat, each polled source's state, and open health alerts."""
    now = now or utcnow()
    daemons = heartbeats.daemons(session, now=now)
    sources = tuple(
        SourceStatus(
            connector=row.connector,
            source=row.source_key,
            state=_state(row),
            failing_since=row.failing_since if row.consecutive_failures else None,
            consecutive_failures=row.consecutive_failures,
            last_error=row.last_error,
            last_error_at=row.last_error_at,
            last_success_at=row.last_success_at,
            last_item_at=row.last_item_at,
            disabled_reason=row.disabled_reason if row.disabled_at else None,
        )
        for row in session.scalars(
            select(SourceCursor).order_by(SourceCursor.connector, SourceCursor.source_key)
        )
    )
    health_alerts = session.scalar(
        select(func.count(Alert.id)).where(
            Alert.kind == AlertKind.HEALTH, Alert.status != AlertStatus.RESOLVED
        )
    )
    return ListeningHealth(
        daemon_alive=bool(daemons.running),
        daemon_started_at=min((row.started_at for row in daemons.running), default=None),
        daemon_last_seen=daemons.last_seen,
        sources=sources,
        open_health_alerts=health_alerts or 0,
    )


def _state(row: SourceCursor) -> str:
    """disabled, failing, silent or ok: the first that applies."""
    if row.disabled_at is not None:
        return "disabled"
    if row.consecutive_failures:
        return "failing"
    return "silent" if row.silence_alerted else "ok"
