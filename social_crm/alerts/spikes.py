"""Crisis detection: a brand's negative volume now against the same window on earlier days.

For each brand, :func:`check_spikes` counts negative mentions created in the last
``spikes.window_minutes`` and compares the count with a baseline: the mean count in the
same window (same time of day) on each of the previous ``baseline_days`` days and on the
same weekday of the previous ``baseline_weeks`` weeks (offsets 1..7 days and 7, 14, 21,
28 days by default: ten samples, the 7-day one counted once). Daily samples follow the
recent trend; weekly ones keep the weekday pattern (Mondays are busier than Sundays).
Only samples whose window lies after the brand's first stored mention count, so a new
installation does not read "no history" as "silence"; until at least one sample exists
(a day after the first stored mention) no spike is declared: the first poll's backlog
would otherwise look like a crisis.

A spike is ``count >= min_count`` and ``count >= factor * baseline``. It raises ONE
critical crisis alert per brand (key ``crisis:<brand>:<window>m``, one unresolved alert
per key enforced by the database) whose message lists the top posts by reach; while
that alert is unresolved, no other crisis alert is raised for the brand. Each later
check that still finds the spike notes it (``details.last_spike_at``); while the spike
lasts, and for one window after, the brand's medium and low negatives are counted in the
crisis alert instead of opening alerts of their own (see :mod:`social_crm.alerts.escalation`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import desc, func, select
from sqlalchemy.orm import Session

from social_crm.alerts.enums import AlertKind
from social_crm.alerts.escalation import Routing, crisis_lock, open_alert, unresolved
from social_crm.alerts.models import Alert
from social_crm.config import EscalationConfig, SpikesConfig
from social_crm.db import locks
from social_crm.db.base import utcnow
from social_crm.mentions.models import AuthorRecord, MentionRecord, SentimentRecord
from social_crm.severity import Severity

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SpikeCheck:
    """The figures behind one brand's check."""

    brand: str
    count: int
    baseline: float
    samples: int

    def is_spike(self, config: SpikesConfig) -> bool:
        """True when the count is high enough in itself and against a known baseline."""
        return (
            self.samples > 0
            and self.count >= config.min_count
            and self.count >= config.factor * self.baseline
        )


def crisis_key(brand: str, config: SpikesConfig) -> str:
    """The alert key of a brand's crisis for the configured window."""
    return f"crisis:{brand}:{config.window_minutes:g}m"


def baseline_offsets(config: SpikesConfig) -> list[timedelta]:
    """How far back each baseline sample lies: days 1..n and weeks 1..m, each once."""
    days = {timedelta(days=d) for d in range(1, config.baseline_days + 1)}
    weeks = {timedelta(weeks=w) for w in range(1, config.baseline_weeks + 1)}
    return sorted(days | weeks)


def _negatives(session: Session, brand: str, start: datetime, end: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(MentionRecord)
            .join(SentimentRecord)
            .where(
                MentionRecord.brand == brand,
                SentimentRecord.label == "negative",
                MentionRecord.created_at > start,
                MentionRecord.created_at <= end,
            )
        )
        or 0
    )


def measure(
    session: Session, brand: str, config: SpikesConfig, *, now: datetime | None = None
) -> SpikeCheck:
    """The brand's negative count in the window ending ``now`` and its baseline."""
    now = now or utcnow()
    window = timedelta(minutes=config.window_minutes)
    count = _negatives(session, brand, now - window, now)
    first = session.scalar(
        select(func.min(MentionRecord.created_at)).where(MentionRecord.brand == brand)
    )
    samples = [
        _negatives(session, brand, now - offset - window, now - offset)
        for offset in baseline_offsets(config)
        if first is not None and now - offset - window >= first
    ]
    baseline = sum(samples) / len(samples) if samples else 0.0
    return SpikeCheck(brand=brand, count=count, baseline=baseline, samples=len(samples))


def check_spikes(
    session: Session,
    config: SpikesConfig,
    escalation: EscalationConfig,
    routing: Routing,
    *,
    now: datetime | None = None,
) -> list[Alert]:
    """Raise a crisis alert for each brand whose negative volume spikes; returns those."""
    if not config.enabled:
        return []
    now = now or utcnow()
    window = timedelta(minutes=config.window_minutes)
    brands = session.scalars(
        select(MentionRecord.brand)
        .join(SentimentRecord)
        .where(SentimentRecord.label == "negative", MentionRecord.created_at > now - window)
        .group_by(MentionRecord.brand)
        .having(func.count() >= config.min_count)
    ).all()
    checks = [measure(session, brand, config, now=now) for brand in brands]
    spiking = [check for check in checks if check.is_spike(config)]
    # Before any crisis alert is changed: escalation holds a brand's crisis lock (shared)
    # before it locks any alert row, so it never holds a crisis alert this waits for
    # while waiting for one this holds.
    locks.serialise(session, *(crisis_lock(check.brand) for check in spiking))
    raised = []
    for check in spiking:
        key = crisis_key(check.brand, config)
        current = unresolved(session, key)
        if current is not None:
            # One crisis at a time per brand, until someone resolves it; note it goes on.
            current.details = {**(current.details or {}), "last_spike_at": now.isoformat()}
            continue
        raised.append(_raise(session, check, config, escalation, routing, now, key))
    return raised


def _raise(
    session: Session,
    check: SpikeCheck,
    config: SpikesConfig,
    escalation: EscalationConfig,
    routing: Routing,
    now: datetime,
    key: str,
) -> Alert:
    window = timedelta(minutes=config.window_minutes)
    top = session.execute(
        select(MentionRecord, AuthorRecord.handle)
        .join(SentimentRecord)
        .join(AuthorRecord, MentionRecord.author_id == AuthorRecord.id)
        .where(
            MentionRecord.brand == check.brand,
            SentimentRecord.label == "negative",
            MentionRecord.created_at > now - window,
            MentionRecord.created_at <= now,
        )
        .order_by(desc(MentionRecord.reach), desc(AuthorRecord.followers), MentionRecord.id)
        .limit(config.top_posts)
    ).all()
    ratio = f", {check.count / check.baseline:.1f}x" if check.baseline else ""
    reason = (
        f"{check.count} negative mentions in the last {config.window_minutes:g} min "
        f"(usual: {check.baseline:.1f}{ratio})"
    )
    alert = open_alert(
        session,
        kind=AlertKind.CRISIS,
        key=key,
        brand=check.brand,
        reason=reason,
        routing=routing,
        severity=Severity.CRITICAL,
        rule="spike",
        level=config.level,
        sla_minutes=escalation.sla_minutes.of(Severity.CRITICAL),
        mention_count=check.count,
        details={
            "window_minutes": config.window_minutes,
            "count": check.count,
            "baseline": round(check.baseline, 3),
            "samples": check.samples,
            "last_spike_at": now.isoformat(),
            "top": [
                {
                    "mention_id": mention.id,
                    "author": handle,
                    "reach": mention.reach,
                    "url": mention.url,
                    "text": mention.text[:1000],
                    "visibility": mention.visibility,
                }
                for mention, handle in top
            ],
        },
        now=now,
    )
    LOGGER.warning("crisis alert %d for %s: %s", alert.id, check.brand, reason)
    return alert
