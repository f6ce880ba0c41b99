"""Mentions become alerts: rules, routing to levels and digests, one alert per conversation.

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
- **Reopening**: a negative mention in a resolved conversation opens a NEW alert (see
  :mod:`social_crm.alerts.lifecycle`; the old one keeps its history, the new one names it
  in ``details.reopens``, with who resolved it and when).
- **Levels**: ``alerts.levels`` lists the channels of each escalation level (default: one
  level with every channel). An alert notifies its start level's channels (and every lower
  level's) at once; :mod:`social_crm.alerts.sla` moves it on when nobody acknowledges it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, or_, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from social_crm.alerts.enums import AlertKind, AlertStatus
from social_crm.alerts.models import Alert
from social_crm.alerts.rules import Facts, first_match
from social_crm.config import AlertsConfig, EscalationConfig, EscalationRule, SpikesConfig
from social_crm.db import locks
from social_crm.db.base import utcnow
from social_crm.delivery.enums import DeliveryKind, DeliveryStatus
from social_crm.delivery.models import Delivery
from social_crm.errors import ConfigError
from social_crm.mentions.models import MentionRecord, SentimentRecord, with_authors
from social_crm.severity import Severity

LOGGER = logging.getLogger(__name__)

KEY_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass(frozen=True, slots=True)
class Routing:
    """Which channels each escalation level notifies, and which severities wait for a digest."""

    levels: tuple[tuple[str, ...], ...]
    digest_at_most: Severity | None = None  # severities up to this one go to the digest

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
        return (
            self.digest_at_most is not None
            and Severity(severity).rank <= Severity(self.digest_at_most).rank
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


@dataclass(frozen=True, slots=True)
class EscalationPass:
    """What one batch of escalation did: the mentions it looked at, the alerts it opened."""

    looked_at: int
    opened: list[Alert]


def escalate_pending(
    session: Session,
    config: EscalationConfig,
    routing: Routing | Sequence[str],
    *,
    now: datetime | None = None,
    limit: int = 500,
) -> list[Alert]:
    """Look at up to ``limit`` classified mentions not yet escalated; returns the alerts
    opened (see :func:`escalate_batch`)."""
    return escalate_batch(session, config, routing, now=now, limit=limit).opened


def escalate_batch(
    session: Session,
    config: EscalationConfig,
    routing: Routing | Sequence[str],
    *,
    now: datetime | None = None,
    limit: int = 500,
) -> EscalationPass:
    """Look at up to ``limit`` classified mentions not yet escalated, oldest first.

    Each mention is looked at once (``escalated_at``); on PostgreSQL the rows are locked
    with SKIP LOCKED so several daemons share the work without looking at one twice. The
    conversations (and authors) of the matching ones are serialised with advisory locks,
    and the alerts they may be counted in are locked until the transaction ends: two
    daemons never open two alerts for one conversation, nor lose a count.
    """
    if not isinstance(routing, Routing):
        routing = Routing.single(routing)
    now = now or utcnow()
    claimed = session.execute(
        select(MentionRecord.id, SentimentRecord.label)
        .join(SentimentRecord)
        .where(MentionRecord.escalated_at.is_(None))
        # In the order they were written: one poll can bring a reply before its post, and
        # the post (a VIP's complaint, say) should open the conversation's alert.
        .order_by(MentionRecord.created_at, MentionRecord.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=MentionRecord)
    ).all()
    _mark_escalated(session, [mention_id for mention_id, _ in claimed], now)
    rules = config.effective_rules
    # A rule matches only the labels it lists: only mentions with one of those are read
    # whole, with their authors (most mentions are not negative).
    labels = {label for rule in rules for label in rule.sentiment}
    wanted = [mention_id for mention_id, label in claimed if label in labels]
    matched: list[tuple[MentionRecord, EscalationRule]] = []
    for mention in with_authors(session, wanted):
        if mention.deleted_at is not None:
            continue
        facts = Facts.of(mention)
        rule = first_match(rules, facts) if facts else None
        if rule is not None:
            matched.append((mention, rule))
    # One daemon at a time opens or extends the alert of a conversation (or of an author
    # within the cooldown): another escalating the same one waits until this commits.
    # Lock order, the same wherever these alerts change: advisory locks first, all at once
    # (sorted by key), then alert rows in id order. One alert can be found by its
    # conversation in one batch and by its author (or as the brand's crisis) in another,
    # so the rows are locked up front, not mention by mention. None appears meanwhile: an
    # alert becomes unresolved only under every advisory lock that finds it (``alert_locks``;
    # escalating daemons share the crisis lock).
    locks.serialise(
        session,
        *(name for mention, _ in matched for name in _lock_names(mention)),
        shared=[crisis_lock(mention.brand) for mention, rule in matched if _joins_crisis(rule)],
    )
    _lock_alerts(session, matched, config)
    opened = []
    for mention, rule in matched:
        alert = _escalate(session, mention, rule, config, routing, now)
        if alert is not None:
            opened.append(alert)
    session.flush()
    return EscalationPass(looked_at=len(claimed), opened=opened)


def _mark_escalated(session: Session, ids: Sequence[int], now: datetime) -> None:
    """Set ``escalated_at`` on the mentions ``ids``: one UPDATE per 500."""
    for start in range(0, len(ids), 500):
        session.execute(
            update(MentionRecord)
            .where(MentionRecord.id.in_(ids[start : start + 500]))
            .values(escalated_at=now)
            .execution_options(synchronize_session=False)
        )


def thread_key(mention: MentionRecord) -> str:
    """The conversation a mention belongs to, across every network."""
    return f"{mention.network}:{mention.thread_id}"


def _lock_names(mention: MentionRecord) -> tuple[str, str]:
    """The advisory locks escalating ``mention`` holds: its conversation's and its author's."""
    return f"alert:{thread_key(mention)}", f"alert-author:{mention.author_id}:{mention.brand}"


def crisis_lock(brand: str) -> str:
    """The advisory lock of ``brand``'s crisis alert: escalation counting mentions into it
    holds it shared, what raises, reopens or updates it holds it alone."""
    return f"alert-crisis:{brand}"


def alert_locks(alert: Alert) -> tuple[str, ...]:
    """The advisory locks of every escalation that may look for ``alert``: held while it
    becomes unresolved again."""
    if alert.kind == AlertKind.CRISIS:
        return (crisis_lock(alert.brand),)
    return f"alert:{alert.thread_key}", f"alert-author:{alert.author_id}:{alert.brand}"


def _lock_alerts(
    session: Session,
    matched: Sequence[tuple[MentionRecord, EscalationRule]],
    config: EscalationConfig,
) -> None:
    """Lock, in id order, every unresolved alert the matched mentions may be counted in:
    their conversations', their authors' and their brands' crises."""
    if not matched:
        return
    found = [Alert.thread_key.in_(sorted({thread_key(mention) for mention, _ in matched}))]
    if config.author_cooldown_minutes > 0:
        authors = sorted({(mention.author_id, mention.brand) for mention, _ in matched})
        found.append(
            and_(Alert.kind == AlertKind.MENTION, tuple_(Alert.author_id, Alert.brand).in_(authors))
        )
    brands = sorted({mention.brand for mention, rule in matched if _joins_crisis(rule)})
    if brands:
        found.append(and_(Alert.kind == AlertKind.CRISIS, Alert.brand.in_(brands)))
    session.execute(
        select(Alert.id)
        .where(Alert.status != AlertStatus.RESOLVED, or_(*found))
        .order_by(Alert.id)
        .with_for_update()
    )


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
        unresolved(session, key, lock=True)
        or _author_alert(session, mention, config)
        or _crisis_alert(session, mention, rule)
    )
    if current is not None:
        _add_mention(current, mention, rule, config, routing, now)
        return None
    sentiment = mention.sentiment
    assert sentiment is not None
    fields: dict[str, Any] = {
        "kind": AlertKind.MENTION,
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
            current = unresolved(session, key, lock=True)
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
        .where(Alert.thread_key == key, Alert.status == AlertStatus.RESOLVED)
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
        _locked(
            select(Alert)
            .where(
                Alert.kind == AlertKind.MENTION,
                Alert.status != AlertStatus.RESOLVED,
                Alert.author_id == mention.author_id,
                Alert.brand == mention.brand,
                Alert.last_mention_at >= since,
            )
            .order_by(Alert.id.desc())
            .limit(1)
        )
    )


def _joins_crisis(rule: EscalationRule) -> bool:
    """Whether a mention matching ``rule`` is counted in its brand's crisis (medium, low)."""
    return Severity(rule.severity).rank < Severity.HIGH.rank


def _crisis_alert(session: Session, mention: MentionRecord, rule: EscalationRule) -> Alert | None:
    """The brand's unresolved crisis alert, which gathers its medium and low mentions."""
    if not _joins_crisis(rule):
        return None
    crisis = session.scalar(
        _locked(
            select(Alert)
            .where(
                Alert.kind == AlertKind.CRISIS,
                Alert.status != AlertStatus.RESOLVED,
                Alert.brand == mention.brand,
            )
            .order_by(Alert.id.desc())
            .limit(1)
        )
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
    if alert.kind == AlertKind.CRISIS and mention.created_at <= alert.opened_at:
        return  # counted when the crisis was measured
    alert.mention_count += 1
    if alert.last_mention_at is None or mention.created_at >= alert.last_mention_at:
        alert.last_mention_id, alert.last_mention_at = mention.id, mention.created_at
        set_committed_value(alert, "last_mention", mention)
    if (
        alert.kind != AlertKind.MENTION
        or Severity(rule.severity).rank <= Severity(alert.severity).rank
    ):
        return
    LOGGER.info(
        "alert %d raised from %s to %s by rule %s",
        alert.id,
        alert.severity,
        rule.severity,
        rule.name,
    )
    alert.severity, alert.rule = rule.severity, rule.name
    if alert.status != AlertStatus.OPEN:
        return  # someone is on it already
    if not routing.wants_digest(rule.severity):
        for delivery in alert.deliveries:
            if delivery.status == DeliveryStatus.DIGEST:
                delivery.status, delivery.next_attempt_at = DeliveryStatus.PENDING, now
    if rule.level > alert.level:
        queue_deliveries(alert, routing, range(alert.level + 1, rule.level + 1), now=now)
        alert.level, alert.escalated_at = rule.level, now
    due = sla_due(config.sla_minutes.of(rule.severity), routing, alert.level, now)
    if due is not None and (alert.sla_due_at is None or due < alert.sla_due_at):
        alert.sla_due_at = due


def sla_due(
    minutes: float | None, routing: Routing, level: int, since: datetime
) -> datetime | None:
    """When an alert at ``level`` moves on if unacknowledged; None: no SLA or no next level."""
    if minutes is None or level + 1 >= len(routing.levels):
        return None
    return since + timedelta(minutes=minutes)


def queue_deliveries(
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
                    kind=DeliveryKind.ALERT,
                    channel=channel,
                    level=level,
                    idempotency_key=delivery_key(alert.id, channel, level),
                    status=DeliveryStatus.DIGEST if digest else DeliveryStatus.PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )


def unresolved(session: Session, key: str, *, lock: bool = False) -> Alert | None:
    """The alert of ``key`` that is not resolved yet, if any; ``lock``: locked to change."""
    query = select(Alert).where(Alert.thread_key == key, Alert.status != AlertStatus.RESOLVED)
    return session.scalar(_locked(query) if lock else query)


def _locked(query: Select[tuple[Alert]]) -> Select[tuple[Alert]]:
    """``query`` locking the alert it finds until the transaction ends. It waits for a
    daemon changing the alert and reads what that one committed, so a count is not lost
    (each transaction has a session of its own: no stale copy of the alert is in it)."""
    return query.with_for_update()


def open_alert(
    session: Session,
    *,
    kind: AlertKind,
    key: str,
    brand: str,
    reason: str,
    channels: Sequence[str] | None = None,
    routing: Routing | None = None,
    severity: Severity = Severity.MEDIUM,
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
        status=AlertStatus.OPEN,
        reason=reason,
        severity=severity,
        rule=rule,
        level=level,
        opened_at=now,
        escalated_at=now,
        # By id: the mention is stored already, and the flush need not walk its objects.
        first_mention_id=first_mention.id if first_mention else None,
        last_mention_id=first_mention.id if first_mention else None,
        last_mention_at=first_mention.created_at if first_mention else None,
        author_id=first_mention.author_id if first_mention else None,
        mention_count=mention_count if mention_count is not None else int(bool(first_mention)),
        details=details,
        sla_due_at=sla_due(sla_minutes, routing, level, now),
    )
    session.add(alert)
    session.flush()  # the id goes into the deliveries' idempotency keys
    set_committed_value(alert, "first_mention", first_mention)
    set_committed_value(alert, "last_mention", first_mention)
    digest = level == 0 and routing.wants_digest(severity)
    queue_deliveries(alert, routing, range(0, level + 1), now=now, digest=digest)
    session.flush()
    return alert
