"""``/api/v1/alerts``: the inbox and what people do with an alert."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from social_crm.accounts.enums import Permission
from social_crm.accounts.service import Principal, list_users
from social_crm.alerts import lifecycle, service
from social_crm.alerts.enums import AlertKind, AlertStatus
from social_crm.errors import InvalidInput
from social_crm.severity import Severity
from social_crm.web.api.schemas import AssignBody, NoteBody, Page, error_responses
from social_crm.web.auth import DatabaseDep, Reader, allowed
from social_crm.web.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    RecordId,
    decode_cursor,
    encode_cursor,
)

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/alerts", tags=["alerts"])
AlertsUser = Annotated[Principal, Depends(allowed(Permission.ALERTS))]
ACTION_ERRORS = error_responses(401, 403, 404, 409, 422)


@router.get("", response_model=Page[service.AlertSummary], responses=error_responses(401, 422))
def alerts(
    _user: Reader,
    db: DatabaseDep,
    status: Annotated[AlertStatus | None, Query(description="Only alerts in this status.")] = None,
    severity: Severity | None = None,
    kind: AlertKind | None = None,
    brand: str | None = None,
    network: Annotated[str | None, Query(description="The network of the first mention.")] = None,
    assignee: Annotated[
        str | None, Query(description=f"A user's name, or {service.UNASSIGNED} for no one.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[service.AlertSummary]:
    """Alerts, newest first, filtered."""
    position = decode_cursor(cursor, keys=("before",))
    with db.transaction() as session:
        items = service.list_alerts(
            session,
            status=status,
            severity=severity,
            kind=kind,
            brand=brand,
            network=network,
            assignee=assignee,
            before_id=position["before"] if position else None,
            limit=limit + 1,
        )
    more = len(items) > limit
    items = items[:limit]
    return Page(items=items, next_cursor=encode_cursor({"before": items[-1].id}) if more else None)


@router.get(
    "/{alert_id}", response_model=service.AlertDetail, responses=error_responses(401, 404, 422)
)
def alert(alert_id: RecordId, _user: Reader, db: DatabaseDep) -> service.AlertDetail:
    """One alert with its whole conversation, notes and deliveries."""
    return _detail(db, alert_id)


def _detail(db: DatabaseDep, alert_id: RecordId) -> service.AlertDetail:
    """The alert as it is now (after an action's transaction is committed)."""
    with db.transaction() as session:
        return service.get_alert(session, alert_id)


@router.post("/{alert_id}/acknowledge", response_model=service.AlertDetail, responses=ACTION_ERRORS)
def acknowledge(alert_id: RecordId, user: AlertsUser, db: DatabaseDep) -> service.AlertDetail:
    """Acknowledge an open alert as the token's user; it stops escalating."""
    with db.transaction() as session:
        lifecycle.acknowledge(session, alert_id, by=user.name)
    return _detail(db, alert_id)


@router.post("/{alert_id}/assign", response_model=service.AlertDetail, responses=ACTION_ERRORS)
def assign(
    alert_id: RecordId, body: AssignBody, user: AlertsUser, db: DatabaseDep
) -> service.AlertDetail:
    """Give an alert that is not resolved to a user."""
    with db.transaction() as session:
        if body.assignee not in {u.name for u in list_users(session)}:
            raise InvalidInput(f"no user {body.assignee!r} to assign the alert to")
        lifecycle.assign(session, alert_id, to=body.assignee)
    LOGGER.info("alert %d assigned to %s by %s", alert_id, body.assignee, user.name)
    return _detail(db, alert_id)


@router.post("/{alert_id}/resolve", response_model=service.AlertDetail, responses=ACTION_ERRORS)
def resolve(alert_id: RecordId, user: AlertsUser, db: DatabaseDep) -> service.AlertDetail:
    """Resolve an alert as the token's user."""
    with db.transaction() as session:
        lifecycle.resolve(session, alert_id, by=user.name)
    return _detail(db, alert_id)


@router.post("/{alert_id}/reopen", response_model=service.AlertDetail, responses=ACTION_ERRORS)
def reopen(alert_id: RecordId, user: AlertsUser, db: DatabaseDep) -> service.AlertDetail:
    """Reopen a resolved alert (409 while another alert is open for its conversation)."""
    with db.transaction() as session:
        lifecycle.reopen(session, alert_id, by=user.name)
    return _detail(db, alert_id)


@router.post(
    "/{alert_id}/notes",
    status_code=201,
    response_model=service.AlertNoteView,
    responses=ACTION_ERRORS,
)
def add_note(
    alert_id: RecordId, body: NoteBody, user: AlertsUser, db: DatabaseDep
) -> service.AlertNoteView:
    """Leave a note on an alert for the team."""
    with db.transaction() as session:
        note = lifecycle.add_note(session, alert_id, by=user.name, text=body.text)
        return service.AlertNoteView(note.id, note.author, note.text, note.created_at)
