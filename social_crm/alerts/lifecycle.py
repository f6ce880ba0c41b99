"""The alert lifecycle: every change of an alert's status is defined here, and only here.

``open -> acknowledged -> resolved`` (an open alert may also be resolved at once), each
step with who and when; an alert can be assigned to someone at any point before it is
resolved, which does not change its status. Only a person reopens a resolved alert
(``resolved -> open``), and only while no other alert is open for its conversation:
a negative mention in a resolved conversation does not reopen it, escalation opens a
NEW alert that names the old one (``details.reopens``), so the old one keeps its history.
Notes may be added to an alert in any status.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from social_crm.alerts.enums import AlertStatus
from social_crm.alerts.escalation import alert_locks
from social_crm.alerts.models import Alert, AlertNote
from social_crm.db import locks
from social_crm.db.base import utcnow
from social_crm.delivery.enums import DeliveryStatus
from social_crm.delivery.models import Delivery
from social_crm.errors import Conflict, InvalidInput, InvalidTransition, NotFound

LOGGER = logging.getLogger(__name__)

# The statuses each status may move to.
TRANSITIONS: Mapping[AlertStatus, frozenset[AlertStatus]] = {
    AlertStatus.OPEN: frozenset({AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED}),
    AlertStatus.ACKNOWLEDGED: frozenset({AlertStatus.RESOLVED}),
    AlertStatus.RESOLVED: frozenset({AlertStatus.OPEN}),  # a person reopens it
}
# The statuses in which an alert may be (re)assigned.
ASSIGNABLE: frozenset[AlertStatus] = frozenset({AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED})


def can_move(current: str, target: AlertStatus) -> bool:
    """Whether the table allows an alert in ``current`` to move to ``target``."""
    return target in TRANSITIONS[AlertStatus(current)]


def acknowledge(session: Session, alert_id: int, *, by: str) -> Alert:
    """Mark an open alert as taken by ``by``; it no longer re-escalates."""
    alert = _get(session, alert_id)
    if not can_move(alert.status, AlertStatus.ACKNOWLEDGED):
        raise InvalidTransition(
            f"alert {alert_id} is {alert.status}; only open alerts can be acknowledged"
        )
    alert.status, alert.acknowledged_at, alert.acknowledged_by = (
        AlertStatus.ACKNOWLEDGED,
        utcnow(),
        by,
    )
    alert.sla_due_at = None
    return alert


def resolve(
    session: Session,
    alert_id: int,
    *,
    by: str,
    now: datetime | None = None,
    note: str | None = None,
) -> Alert:
    """Close an alert, with a ``note`` on how (e.g. the reply that answered it); its
    deliveries still waiting for a digest are dropped."""
    alert = _get(session, alert_id)
    if not can_move(alert.status, AlertStatus.RESOLVED):
        raise InvalidTransition(f"alert {alert_id} is already resolved")
    now = now or utcnow()
    alert.status, alert.resolved_at, alert.resolved_by = AlertStatus.RESOLVED, now, by
    alert.resolution = note
    alert.sla_due_at = None
    # Conditional, so a row a digest took meanwhile (digested) stays in that digest.
    session.execute(
        update(Delivery)
        .where(Delivery.alert_id == alert.id, Delivery.status == DeliveryStatus.DIGEST)
        .values(status=DeliveryStatus.SKIPPED)
    )
    LOGGER.info("alert %d resolved by %s", alert.id, by)
    return alert


def reopen(session: Session, alert_id: int, *, by: str) -> Alert:
    """Open a resolved alert again, unacknowledged; Conflict if its conversation has a newer
    alert still open (that one carries on instead)."""
    alert = _get(session, alert_id)
    if not can_move(alert.status, AlertStatus.OPEN):
        raise InvalidTransition(
            f"alert {alert_id} is {alert.status}; only resolved alerts can be reopened"
        )
    # Under the locks escalation opens an alert with: a daemon escalating its conversation
    # or author sees it reopened before locking the alerts it may count in, or commits
    # its newer alert first (found below).
    locks.serialise(session, *alert_locks(alert))
    newer = session.scalar(
        select(Alert.id).where(
            Alert.thread_key == alert.thread_key,
            Alert.status != AlertStatus.RESOLVED,
            Alert.id != alert.id,
        )
    )
    if newer is not None:
        raise Conflict(f"alert {newer} is open for the same conversation; carry on there")
    alert.status = AlertStatus.OPEN
    alert.acknowledged_at = alert.acknowledged_by = None
    alert.resolved_at = alert.resolved_by = None
    alert.reopened_at, alert.reopened_by = utcnow(), by
    LOGGER.info("alert %d reopened by %s", alert.id, by)
    return alert


MAX_NOTE_LENGTH = 5000


def add_note(session: Session, alert_id: int, *, by: str, text: str) -> AlertNote:
    """Leave a note on an alert for the team; InvalidInput for an empty or overlong one."""
    alert = _get(session, alert_id)
    text = text.strip()
    if not text:
        raise InvalidInput("a note needs some text")
    if len(text) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"a note is at most {MAX_NOTE_LENGTH} characters")
    note = AlertNote(alert_id=alert.id, author=by, text=text)
    session.add(note)
    session.flush()
    return note


def assign(session: Session, alert_id: int, *, to: str) -> Alert:
    """Give an alert that is not resolved to ``to`` (assigning does not acknowledge it)."""
    alert = _get(session, alert_id)
    if AlertStatus(alert.status) not in ASSIGNABLE:
        raise InvalidTransition(f"alert {alert_id} is {alert.status}; it cannot be assigned")
    alert.assignee, alert.assigned_at = to, utcnow()
    return alert


def _get(session: Session, alert_id: int) -> Alert:
    """The alert with ``alert_id``, or NotFound."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    return alert
