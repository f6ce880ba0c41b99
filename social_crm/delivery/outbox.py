"""Deliver queued alerts: claimed with a lease, sent outside any transaction, then recorded.

Each delivery (one alert, one channel, one level; or one digest) goes through three steps:

1. **Claim**, in a committed transaction of its own (with the next due rows, up to
   :data:`CLAIM_BATCH`): the row moves from ``pending`` (and due)
   to ``sending`` with ``lease_until = now + alerts.lease_seconds`` and one more attempt.
   The claim is a conditional UPDATE, and on PostgreSQL the candidate row is picked with
   ``SELECT ... FOR UPDATE SKIP LOCKED``, so two daemons never claim the same row.
2. **Send**, holding no database lock, with the row's fixed ``idempotency_key``.
3. **Record**, in a second transaction: ``sent``, or back to ``pending`` with an
   exponential backoff (with jitter, capped), or ``failed`` after ``max_attempts``.

A crash between 1 and 3 leaves the row ``sending``; once its lease has run out, any
daemon claims it again and re-sends it with the SAME idempotency key. So the guarantee is
**at-least-once delivery with a stable idempotency key**: effectively once for receivers
that drop duplicates by key, and a duplicate is only possible after a crash (or a lease
shorter than a send) between sending and recording. Per channel:

- ``webhook``: the ``Idempotency-Key`` header (and the same key in the JSON body);
  receivers that store seen keys process each alert once.
- ``email``: the ``Message-ID`` header is the same on every attempt
  (``<alert-12-team-0@sender-domain>``); mail clients and many servers show or keep
  one message per Message-ID.
- ``apprise``: chat services (Slack, Teams, Discord, ...) have no idempotency keys, so a
  re-send after a crash can show twice; the key is printed in the message (``Ref:``).

A row given up on (``failed``, after ``max_attempts``) is not given up for good: the next
time its channel delivers anything, it goes back to pending, once (``retried_at``), with a
fresh attempt budget and its key; ``social-crm alerts resend ID`` queues an alert's
deliveries again by hand (:func:`requeue`).

A channel that keeps failing only delays its own rows: every row is sent and recorded on
its own, and once a channel has failed in a pass of :func:`deliver_due`, its
other due rows wait for the next pass. So a dead or slow channel (one that times out)
costs the others at most one failed send per pass, not one per waiting row.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from social_crm.config import AlertsConfig
from social_crm.db import Database
from social_crm.db.base import utcnow
from social_crm.delivery.channels import Notifier
from social_crm.delivery.enums import DeliveryStatus
from social_crm.delivery.messages import AlertMessage, Message
from social_crm.delivery.models import Delivery
from social_crm.delivery.quiet_hours import held_until
from social_crm.errors import DeliveryError

LOGGER = logging.getLogger(__name__)

# Builds the message of one claimed row (its alert, or its digest), inside the claim's
# transaction: the domain that queued the row knows what it says; the outbox does not.
Composer = Callable[[Session, Delivery], Message]


# Due rows claimed together, in one transaction: the first of them is sent at once, the
# last after the sends before it.
CLAIM_BATCH = 10


@dataclass(frozen=True, slots=True)
class Claim:
    """A row this process may send: it holds the lease for ``attempt``."""

    delivery_id: int
    alert_id: int | None
    channel: str
    attempt: int
    message: Message
    # The row's status, lease and last attempt before the claim, to give it back unsent.
    before: tuple[str, datetime | None, datetime | None]


def _claimable(now: datetime) -> object:
    return or_(
        and_(Delivery.status == DeliveryStatus.PENDING, Delivery.next_attempt_at <= now),
        and_(Delivery.status == DeliveryStatus.SENDING, Delivery.lease_until < now),
    )


@dataclass(frozen=True, slots=True)
class DeliveryPass:
    """What one pass of the outbox did."""

    sent: int = 0
    failed: int = 0  # failed attempts; each failed row is retried later or given up on
    # The same failed attempts by channel, for the metrics.
    failed_by_channel: Mapping[str, int] = field(default_factory=dict, compare=False)


def deliver_due(
    db: Database,
    notifiers: Mapping[str, Notifier],
    policy: AlertsConfig,
    *,
    compose: Composer,
    now: datetime | None = None,
    limit: int = 100,
) -> DeliveryPass:
    """Try up to ``limit`` due deliveries, each sent and recorded on its own; returns what
    was sent and failed.

    ``compose`` builds each claimed row's message (see :data:`Composer`). Rows are claimed
    up to :data:`CLAIM_BATCH` at a time. A channel that fails is left alone for the rest
    of this pass: its other due rows are not claimed (those claimed with the failed one are
    given back as they were), nor counted as attempts, until the next pass. A claimed row
    whose lease is half over before its turn is given back too, and claimed again.
    """
    sent = failed = looked_at = 0
    failing: dict[str, int] = {}
    working: set[str] = set()  # channels that delivered in this pass (and revived their rows)
    while looked_at < limit:
        batch = min(CLAIM_BATCH, limit - looked_at)
        claimed_at = time.monotonic()
        claims = claim_due(db, policy, compose=compose, now=now, skip=failing, limit=batch)
        if claims is None:
            break
        looked_at += batch if len(claims) < batch else len(claims)
        for claim in claims:
            late = time.monotonic() - claimed_at > policy.lease_seconds / 2
            if claim.channel in failing or late:
                release(db, claim)
                continue
            error = _send(claim, notifiers)
            record(
                db,
                claim,
                policy,
                error=error,
                notifier_missing=claim.channel not in notifiers,
                revive=claim.channel not in working,
            )
            if error is None:
                working.add(claim.channel)
                sent += 1
            else:
                failed += 1
                failing[claim.channel] = failing.get(claim.channel, 0) + 1
    return DeliveryPass(sent=sent, failed=failed, failed_by_channel=failing)


def claim_due(
    db: Database,
    policy: AlertsConfig,
    *,
    compose: Composer,
    now: datetime | None = None,
    skip: Collection[str] = (),
    limit: int = 1,
) -> list[Claim] | None:
    """Lease up to ``limit`` due rows of channels not in ``skip``, in one transaction, and
    build their messages.

    None: nothing is due. The list leaves out the rows looked at but not claimed (held
    for quiet hours, or taken by another daemon).
    """
    now = now or utcnow()
    with db.transaction() as session:
        query = select(Delivery).where(_claimable(now))
        if skip:
            query = query.where(Delivery.channel.not_in(sorted(skip)))
        rows = session.scalars(
            query.order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return None
        lease_until = now + timedelta(seconds=policy.lease_seconds)
        claims = []
        for row in rows:
            message = compose(session, row)
            severity = message.severity if isinstance(message, AlertMessage) else None
            hold = held_until(policy.quiet_hours, severity, now)
            if hold is not None:
                row.next_attempt_at = hold
                LOGGER.info("delivery %s held for quiet hours until %s", row.idempotency_key, hold)
                continue
            # Conditional: on SQLite (no row locks) a second process finds nothing to update.
            taken = session.execute(
                update(Delivery)
                .where(Delivery.id == row.id, _claimable(now))
                .values(
                    status=DeliveryStatus.SENDING,
                    lease_until=lease_until,
                    attempts=Delivery.attempts + 1,
                    last_attempt_at=now,
                )
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:
                continue
            if row.status == DeliveryStatus.SENDING:
                LOGGER.warning(
                    "delivery %s was left sending (lease ran out): sending again with the same key",
                    row.idempotency_key,
                )
            claims.append(
                Claim(
                    row.id,
                    row.alert_id,
                    row.channel,
                    (row.attempts or 0) + 1,
                    message,
                    before=(row.status, row.lease_until, row.last_attempt_at),
                )
            )
        return claims


def release(db: Database, claim: Claim) -> None:
    """Give back a claimed row that was not sent, as it was before the claim: no attempt
    is counted. Nothing changes if this process no longer holds its lease."""
    status, lease_until, last_attempt_at = claim.before
    with db.transaction() as session:
        session.execute(
            update(Delivery)
            .where(
                Delivery.id == claim.delivery_id,
                Delivery.status == DeliveryStatus.SENDING,
                Delivery.attempts == claim.attempt,
            )
            .values(
                status=status,
                lease_until=lease_until,
                attempts=Delivery.attempts - 1,
                last_attempt_at=last_attempt_at,
            )
            .execution_options(synchronize_session=False)
        )


def _send(claim: Claim, notifiers: Mapping[str, Notifier]) -> DeliveryError | None:
    notifier = notifiers.get(claim.channel)
    try:
        if notifier is None:
            raise DeliveryError(f"channel {claim.channel!r} is no longer configured")
        notifier.send(claim.message)
    except DeliveryError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - a notifier bug must not leave the row leased
        LOGGER.exception("channel %s raised an unexpected error", claim.channel)
        return DeliveryError(f"{type(exc).__name__}: {exc}")
    return None


def record(
    db: Database,
    claim: Claim,
    policy: AlertsConfig,
    *,
    error: DeliveryError | None,
    notifier_missing: bool = False,
    revive: bool = True,
    now: datetime | None = None,
) -> None:
    """Store the outcome of a send, if this process still holds the row's lease.

    ``revive``: a success queues the channel's rows given up on again
    (:func:`retry_given_up`); a pass does it at its channel's first success only.
    """
    now = now or utcnow()
    leased = and_(
        Delivery.id == claim.delivery_id,
        Delivery.status == DeliveryStatus.SENDING,
        Delivery.attempts == claim.attempt,
    )
    what = f"alert {claim.alert_id}" if claim.alert_id else "digest"
    with db.transaction() as session:
        if error is None:
            done = session.execute(
                update(Delivery)
                .where(leased)
                .values(status=DeliveryStatus.SENT, sent_at=now, last_error=None, lease_until=None)
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:
                _lease_lost(claim)
                return
            LOGGER.info("%s delivered to %s", what, claim.channel)
            if revive:
                retry_given_up(session, claim.channel, now=now)
            return
        row = session.scalar(select(Delivery).where(leased).with_for_update())
        if row is None:
            _lease_lost(claim)
            return
        row.lease_until = None
        row.last_error = str(error)
        if row.attempts >= policy.max_attempts or notifier_missing:
            row.status = DeliveryStatus.FAILED
            LOGGER.error(
                "%s: giving up on %s after %d attempt(s): %s",
                what,
                row.channel,
                row.attempts,
                error,
            )
            return
        delay = min(policy.retry_base_seconds * 2 ** (row.attempts - 1), policy.retry_max_seconds)
        row.status = DeliveryStatus.PENDING
        row.next_attempt_at = max(now, row.last_attempt_at or now) + timedelta(
            seconds=delay * random.uniform(0.8, 1.2)
        )
        LOGGER.warning(
            "%s: %s failed (attempt %d), retrying in %.0f s: %s",
            what,
            row.channel,
            row.attempts,
            delay,
            error,
        )


def _lease_lost(claim: Claim) -> None:
    """Say that a send's outcome was not stored: another claim of the row came first."""
    LOGGER.warning("delivery %d: lease lost before its outcome was stored", claim.delivery_id)


def retry_given_up(session: Session, channel: str, *, now: datetime) -> int:
    """Queue again, once each, the rows given up on for a channel that works again.

    Returns how many went back to pending, with a fresh attempt budget and the same key.
    """
    revived = session.execute(
        update(Delivery)
        .where(
            Delivery.channel == channel,
            Delivery.status == DeliveryStatus.FAILED,
            Delivery.retried_at.is_(None),
        )
        .values(status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now, retried_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if revived:
        LOGGER.info(
            "%s works again: %d delivery(ies) given up on are queued again", channel, revived
        )
    return revived


def requeue(session: Session, rows: Collection[Delivery], *, now: datetime) -> None:
    """Queue these rows again at once, as new: a person asked for them to be sent again.

    A row that was sent gets a new idempotency key (``...-r1``, ``-r2``), or receivers that
    drop repeated keys would drop it; a failed one keeps its key: it never arrived.
    """
    for row in rows:
        if row.status == DeliveryStatus.SENT:
            base, _, resent = row.idempotency_key.rpartition("-r")
            count = int(resent) + 1 if base and resent.isdigit() else 1
            base = base if base and resent.isdigit() else row.idempotency_key
            row.idempotency_key = f"{base}-r{count}"
        row.status = DeliveryStatus.PENDING
        row.attempts = 0
        row.next_attempt_at = now
        row.retried_at = row.lease_until = row.last_error = None


@dataclass(frozen=True, slots=True)
class ChannelHealth:
    """What `social-crm status` shows for one channel."""

    channel: str
    sent: int
    pending: int  # pending, sending or waiting for a digest
    failed: int
    last_error: str | None
    last_error_at: datetime | None
    last_sent_at: datetime | None


def channel_report(session: Session) -> list[ChannelHealth]:
    """Delivery figures per channel, in channel order."""
    waiting = (DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.DIGEST)
    rows = session.execute(
        select(
            Delivery.channel,
            func.sum(case((Delivery.status == DeliveryStatus.SENT, 1), else_=0)),
            func.sum(case((Delivery.status.in_(waiting), 1), else_=0)),
            func.sum(case((Delivery.status == DeliveryStatus.FAILED, 1), else_=0)),
            func.max(Delivery.sent_at),
        )
        .group_by(Delivery.channel)
        .order_by(Delivery.channel)
    ).all()
    report = []
    for channel, sent, pending, failed, last_sent in rows:
        error = session.execute(
            select(Delivery.last_error, Delivery.last_attempt_at)
            .where(Delivery.channel == channel, Delivery.last_error.is_not(None))
            .order_by(Delivery.last_attempt_at.desc().nulls_last(), Delivery.id.desc())
            .limit(1)
        ).first()
        report.append(
            ChannelHealth(
                channel=channel,
                sent=int(sent or 0),
                pending=int(pending or 0),
                failed=int(failed or 0),
                last_error=error[0] if error else None,
                last_error_at=error[1] if error else None,
                last_sent_at=last_sent,
            )
        )
    return report
