"""Mentions become alerts: rules, one alert per conversation, lifecycle, SLA re-escalation.

- **Rules** (:mod:`social_crm.alerts.rules`): the first matching rule sets the alert's severity and
  the escalation level it starts at; a mention that matches no rule raises nothing.
- **One alert per conversation**: a mention whose thread (``network:thread``) has an alert
  that is not resolved is added to it (the database enforces one unresolved alert per
  thread key with a partial unique index); so is a mention by the same author about the
  same brand within ``escalation.author_cooldown_minutes`` of that author's alert. The
  alert counts its mentions and keeps the latest (``last_mention_id``, ``last_mention_at``).
  A more severe match raises the alert's severity (and starts level, SLA) but sends no
  second message, except that an alert waiting for a digest is then sent at once.
  While a brand's crisis (:mod:`social_crm.alerts.spikes`) is unresolved and its spike goes on
  (and for one window after the last check that saw it), the brand's medium and low
  mentions of that time are counted in the crisis alert instead of opening their own;
  high and critical ones still open theirs.
- **Lifecycle**: open -> acknowledged -> resolved, each step with who and when; an alert
  can be assigned to someone at any point before it is resolved. A negative mention in a
  resolved conversation reopens it as a NEW alert (the old one keeps its history; the new
  one names it in ``details.reopens``, with who resolved it and when).
- **Levels and SLA**: ``alerts.levels`` lists the channels of each escalation level
  (default: one level with every channel). An alert notifies its start level's channels
  (and every lower level's) at once; if it is still open (not acknowledged) when its
  severity's SLA (``escalation.sla_minutes``) runs out, :func:`check_sla` queues it for
  the next level's channels, once per level, and restarts the clock, until the last level.
  During quiet hours that hold the alert's severity, the clock starts again when they end.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from social_crm.alerts.models import Alert
from social_crm.alerts.rules import Facts, first_match
from social_crm.config import (
    AlertsConfig,
    EscalationConfig,
    EscalationRule,
    QuietHours,
    SpikesConfig,
    severity_rank,
)
from social_crm.db.base import utcnow
from social_crm.delivery.models import Delivery
from social_crm.errors import ConfigError, NotFoundError, SocialCrmError
from social_crm.mentions.models import AuthorRecord, MentionRecord, SentimentRecord

LOGGER = logging.getLogger(__name__)

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class Routing:
    """Which channels each escalation level notifies, and which severities wait for a digest."""

    levels: tuple[tuple[str, ...], ...]
    digest_at_most: str | None = None  # severities up to this one go to the digest

    @classmethod
    def single(cls, channels: Sequence[str]) -> Routing:
        """One level with every channel, no digest."""
        return cls(levels=(tuple(channels),))

    @classmethod
    def from_config(cls, alerts: AlertsConfig, channels: Sequence[str]) -> Routing:
        """``alerts.levels`` (default: one level with ``channels``) and ``alerts.digest``."""
        levels = alerts.levels or [list(channels)]
        return cls(
            levels=tuple(tuple(level) for level in levels),
            digest_at_most=alerts.digest.severity_at_most if alerts.digest else None,
        )

    def wants_digest(self, severity: str) -> bool:
        """True when alerts of ``severity`` wait for the digest instead of going out at once."""
        return self.digest_at_most is not None and severity_rank(severity) <= severity_rank(
            self.digest_at_most
        )


def check_levels(routing: Routing, escalation: EscalationConfig, spikes: SpikesConfig) -> None:
    """Fail at start-up when a rule or the crisis alert starts at a level that does not exist."""
    count = len(routing.levels)
    for number, rule in enumerate(escalation.rules or []):
        if rule.level >= count:
            raise ConfigError(
                f"escalation.rules.{number} (name {rule.name!r}): level {rule.level}, but "
                f"alerts.levels has {count} level(s), numbered from 0"
            )
    if spikes.level >= count:
        raise ConfigError(
            f"spikes.level: {spikes.level}, but alerts.levels has {count} level(s), numbered from 0"
        )


def delivery_key(alert_id: int, channel: str, level: int) -> str:
    """The idempotency key of one alert's delivery to one channel at one level."""
    return f"alert-{alert_id}-{KEY_UNSAFE.sub('_', channel)}-{level}"


def escalate_pending(
    session: Session,
    config: EscalationConfig,
    routing: Routing | Sequence[str],
    *,
    now: datetime | None = None,
    limit: int = 500,
) -> list[Alert]:
    """Look at classified mentions not yet escalated; returns the alerts opened.

    Mentions are taken oldest first and each is looked at once (``escalated_at``); on
    PostgreSQL the rows are locked with SKIP LOCKED so several daemons share the work
    without looking at one twice.
    """
    if not isinstance(routing, Routing):
        routing = Routing.single(routing)
    now = now or utcnow()
    mentions = session.scalars(
        select(MentionRecord)
        .join(SentimentRecord)
        .where(MentionRecord.escalated_at.is_(None))
        .options(
            joinedload(MentionRecord.sentiment),
            joinedload(MentionRecord.author).joinedload(AuthorRecord.customer),
        )
        # In the order they were written: one poll can bring a reply before its post, and
        # the post (a VIP's complaint, say) should open the conversation's alert.
        .order_by(MentionRecord.created_at, MentionRecord.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=MentionRecord)
    ).all()
    rules = config.effective_rules
    opened = []
    for mention in mentions:
        mention.escalated_at = now
        if mention.deleted_at is not None:
            continue
        facts = Facts.of(mention)
        rule = first_match(rules, facts) if facts else None
        if rule is None:
            continue
        alert = _escalate(session, mention, rule, config, routing, now)
        if alert is not None:
            opened.append(alert)
    session.flush()
    return opened


def thread_key(mention: MentionRecord) -> str:
    """The conversation a mention belongs to, across every network."""
    return f"{mention.network}:{mention.thread_id}"


def _escalate(
    session: Session,
    mention: MentionRecord,
    rule: EscalationRule,
    config: EscalationConfig,
    routing: Routing,
    now: datetime,
) -> Alert | None:
    """Add the mention to its conversation's or author's alert, or open one; the new alert."""
    key = thread_key(mention)
    current = (
        unresolved(session, key)
        or _author_alert(session, mention, config)
        or _crisis_alert(session, mention, rule)
    )
    if current is not None:
        _add_mention(current, mention, rule, config, routing, now)
        return None
    sentiment = mention.sentiment
    assert sentiment is not None
    fields: dict[str, Any] = {
        "kind": "mention",
        "key": key,
        "brand": mention.brand,
        "reason": (
            f"{sentiment.label} mention ({sentiment.confidence:.0%} confident) on {mention.network}"
        ),
        "routing": routing,
        "severity": rule.severity,
        "rule": rule.name,
        "level": rule.level,
        "first_mention": mention,
        "sla_minutes": config.sla_minutes.of(rule.severity),
        "details": _reopens(session, key),
        "now": now,
    }
    if session.get_bind().dialect.name != "postgresql":
        alert = open_alert(session, **fields)
    else:
        # Another daemon may open this thread's alert at the same moment: the partial
        # unique index refuses the second; that one adds its mention to the first instead.
        try:
            with session.begin_nested():
                alert = open_alert(session, **fields)
        except IntegrityError:
            current = unresolved(session, key)
            if current is None:
                raise
            _add_mention(current, mention, rule, config, routing, now)
            return None
    LOGGER.info("%s alert %d opened for %s (rule %s)", rule.severity, alert.id, key, rule.name)
    return alert


def _reopens(session: Session, key: str) -> dict[str, Any] | None:
    """What a new alert in a conversation whose last alert was resolved says about that one."""
    previous = session.scalar(
        select(Alert)
        .where(Alert.thread_key == key, Alert.status == RESOLVED)
        .order_by(Alert.id.desc())
        .limit(1)
    )
    if previous is None:
        return None
    return {
        "reopens": previous.id,
        "resolved_by": previous.resolved_by,
        "resolved_at": previous.resolved_at.isoformat() if previous.resolved_at else None,
    }


def _author_alert(
    session: Session, mention: MentionRecord, config: EscalationConfig
) -> Alert | None:
    """The author's unresolved alert about the same brand, if its last mention is recent."""
    if config.author_cooldown_minutes <= 0:
        return None
    since = mention.created_at - timedelta(minutes=config.author_cooldown_minutes)
    return session.scalar(
        select(Alert)
        .where(
            Alert.kind == "mention",
            Alert.status != RESOLVED,
            Alert.author_id == mention.author_id,
            Alert.brand == mention.brand,
            Alert.last_mention_at >= since,
        )
        .order_by(Alert.id.desc())
        .limit(1)
    )


def _crisis_alert(session: Session, mention: MentionRecord, rule: EscalationRule) -> Alert | None:
    """The brand's unresolved crisis alert, which gathers its medium and low mentions."""
    if severity_rank(rule.severity) >= severity_rank("high"):
        return None
    crisis = session.scalar(
        select(Alert)
        .where(Alert.kind == "crisis", Alert.status != RESOLVED, Alert.brand == mention.brand)
        .order_by(Alert.id.desc())
        .limit(1)
    )
    if crisis is None:
        return None
    details = crisis.details or {}
    window = timedelta(minutes=float(details.get("window_minutes", 60)))
    last = details.get("last_spike_at")
    hot_until = (datetime.fromisoformat(last) if last else crisis.opened_at) + window
    return crisis if crisis.opened_at - window < mention.created_at <= hot_until else None


def _add_mention(
    alert: Alert,
    mention: MentionRecord,
    rule: EscalationRule,
    config: EscalationConfig,
    routing: Routing,
    now: datetime,
) -> None:
    """Count the mention in the alert; a more severe rule raises the alert's severity."""
    if alert.kind == "crisis" and mention.created_at <= alert.opened_at:
        return  # counted when the crisis was measured
    alert.mention_count += 1
    if alert.last_mention_at is None or mention.created_at >= alert.last_mention_at:
        alert.last_mention, alert.last_mention_at = mention, mention.created_at
    if alert.kind != "mention" or severity_rank(rule.severity) <= severity_rank(alert.severity):
        return
    LOGGER.info(
        "alert %d raised from %s to %s by rule %s",
        alert.id,
        alert.severity,
        rule.severity,
        rule.name,
    )
    alert.severity, alert.rule = rule.severity, rule.name
    if alert.status != OPEN:
        return  # someone is on it already
    if not routing.wants_digest(rule.severity):
        for delivery in alert.deliveries:
            if delivery.status == "digest":
                delivery.status, delivery.next_attempt_at = "pending", now
    if rule.level > alert.level:
        _queue(alert, routing, range(alert.level + 1, rule.level + 1), now=now)
        alert.level, alert.escalated_at = rule.level, now
    due = _sla_due(config.sla_minutes.of(rule.severity), routing, alert.level, now)
    if due is not None and (alert.sla_due_at is None or due < alert.sla_due_at):
        alert.sla_due_at = due


def _sla_due(
    minutes: float | None, routing: Routing, level: int, since: datetime
) -> datetime | None:
    """When an alert at ``level`` moves on if unacknowledged; None: no SLA or no next level."""
    if minutes is None or level + 1 >= len(routing.levels):
        return None
    return since + timedelta(minutes=minutes)


def _queue(
    alert: Alert, routing: Routing, levels: range, *, now: datetime, digest: bool = False
) -> None:
    """Outbox rows for the channels of ``levels``; a channel named twice is sent once."""
    seen: set[str] = set()
    for level in levels:
        channels = routing.levels[min(level, len(routing.levels) - 1)] if routing.levels else ()
        for channel in channels:
            if channel in seen:
                continue
            seen.add(channel)
            alert.deliveries.append(
                Delivery(
                    kind="alert",
                    channel=channel,
                    level=level,
                    idempotency_key=delivery_key(alert.id, channel, level),
                    status="digest" if digest else "pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )


def unresolved(session: Session, key: str) -> Alert | None:
    """The alert of ``key`` that is not resolved yet, if any."""
    return session.scalar(select(Alert).where(Alert.thread_key == key, Alert.status != RESOLVED))


def open_alert(
    session: Session,
    *,
    kind: str,
    key: str,
    brand: str,
    reason: str,
    channels: Sequence[str] | None = None,
    routing: Routing | None = None,
    severity: str = "medium",
    rule: str | None = None,
    level: int = 0,
    first_mention: MentionRecord | None = None,
    sla_minutes: float | None = None,
    details: dict[str, Any] | None = None,
    mention_count: int | None = None,
    now: datetime | None = None,
) -> Alert:
    """A new open alert, queued for the channels of its level (``channels``: one level)."""
    now = now or utcnow()
    if routing is None:
        routing = Routing.single(channels or ())
    alert = Alert(
        kind=kind,
        thread_key=key,
        brand=brand,
        status=OPEN,
        reason=reason,
        severity=severity,
        rule=rule,
        level=level,
        opened_at=now,
        escalated_at=now,
        first_mention=first_mention,
        last_mention=first_mention,
        last_mention_at=first_mention.created_at if first_mention else None,
        author_id=first_mention.author_id if first_mention else None,
        mention_count=mention_count if mention_count is not None else int(bool(first_mention)),
        details=details,
        sla_due_at=_sla_due(sla_minutes, routing, level, now),
    )
    session.add(alert)
    session.flush()  # the id goes into the deliveries' idempotency keys
    digest = level == 0 and routing.wants_digest(severity)
    _queue(alert, routing, range(0, level + 1), now=now, digest=digest)
    session.flush()
    return alert


def check_sla(
    session: Session,
    config: EscalationConfig,
    routing: Routing,
    *,
    quiet: QuietHours | None = None,
    now: datetime | None = None,
) -> list[Alert]:
    """Re-escalate open alerts whose SLA ran out to their next level; returns them.

    An alert whose deliveries are held by the quiet hours (``quiet``) was not seen by
    anyone yet: its SLA starts again when the quiet hours end, instead of re-escalating to
    a level that would be held too.
    """
    from social_crm.delivery.digests import held_until  # digest builds on this module

    now = now or utcnow()
    due = session.scalars(
        select(Alert)
        .where(Alert.status == OPEN, Alert.sla_due_at.is_not(None), Alert.sla_due_at <= now)
        .order_by(Alert.sla_due_at)
        .with_for_update(skip_locked=True)
    ).all()
    escalated = []
    for alert in due:
        level = alert.level + 1
        if level >= len(routing.levels):
            alert.sla_due_at = None  # no level left (levels were shortened since)
            continue
        hold = held_until(quiet, alert.severity, now)
        if hold is not None:
            alert.sla_due_at = _sla_due(
                config.sla_minutes.of(alert.severity), routing, alert.level, hold
            )
            LOGGER.info(
                "alert %d: SLA restarts when the quiet hours end (%s)", alert.id, hold.isoformat()
            )
            continue
        _queue(alert, routing, range(level, level + 1), now=now)
        alert.level, alert.escalated_at = level, now
        alert.sla_due_at = _sla_due(config.sla_minutes.of(alert.severity), routing, level, now)
        LOGGER.warning(
            "alert %d (%s) not acknowledged in time: escalated to level %d (%s)",
            alert.id,
            alert.severity,
            level,
            ", ".join(routing.levels[level]),
        )
        escalated.append(alert)
    session.flush()
    return escalated


def _loaded() -> list[Any]:
    return [
        joinedload(Alert.first_mention).joinedload(MentionRecord.author),
        joinedload(Alert.first_mention).joinedload(MentionRecord.sentiment),
        joinedload(Alert.last_mention).joinedload(MentionRecord.author),
        joinedload(Alert.deliveries),
    ]


def list_alerts(
    session: Session,
    *,
    status: str | None = None,
    severity: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
) -> list[Alert]:
    """Alerts, newest first, with their mentions and deliveries loaded."""
    query = select(Alert).options(*_loaded()).order_by(Alert.id.desc())
    if status:
        query = query.where(Alert.status == status)
    if severity:
        query = query.where(Alert.severity == severity)
    if kind:
        query = query.where(Alert.kind == kind)
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query).unique())


def get_alert(session: Session, alert_id: int) -> Alert:
    """One alert with its mentions and deliveries; NotFoundError when there is none."""
    alert = (
        session.scalars(select(Alert).where(Alert.id == alert_id).options(*_loaded()))
        .unique()
        .first()
    )
    if alert is None:
        raise NotFoundError(f"no alert with id {alert_id}")
    return alert


def acknowledge(session: Session, alert_id: int, *, by: str) -> Alert:
    """Mark an open alert as taken by ``by``; it no longer re-escalates."""
    alert = _get(session, alert_id)
    if alert.status != OPEN:
        raise SocialCrmError(
            f"alert {alert_id} is {alert.status}; only open alerts can be acknowledged"
        )
    alert.status, alert.acknowledged_at, alert.acknowledged_by = ACKNOWLEDGED, utcnow(), by
    alert.sla_due_at = None
    return alert


def resolve(session: Session, alert_id: int, *, by: str) -> Alert:
    """Close an alert; a later negative mention in its thread opens a new one."""
    alert = _get(session, alert_id)
    if alert.status == RESOLVED:
        raise SocialCrmError(f"alert {alert_id} is already resolved")
    alert.status, alert.resolved_at, alert.resolved_by = RESOLVED, utcnow(), by
    alert.sla_due_at = None
    return alert


def assign(session: Session, alert_id: int, *, to: str) -> Alert:
    """Give an alert that is not resolved to ``to`` (assigning does not acknowledge it)."""
    alert = _get(session, alert_id)
    if alert.status == RESOLVED:
        raise SocialCrmError(f"alert {alert_id} is resolved; it cannot be assigned")
    alert.assignee, alert.assigned_at = to, utcnow()
    return alert


def _get(session: Session, alert_id: int) -> Alert:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFoundError(f"no alert with id {alert_id}")
    return alert
