"""The alerts inbox: filtered list (refreshed every few seconds), one alert's whole
conversation, and what people do with it: acknowledge, assign, resolve, reopen, note."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from social_crm.accounts.enums import Permission
from social_crm.accounts.service import Principal, list_users
from social_crm.alerts import lifecycle, service
from social_crm.alerts.enums import AlertStatus
from social_crm.db import Database
from social_crm.engagement import service as replies
from social_crm.errors import InvalidInput
from social_crm.severity import Severity
from social_crm.web.auth import DatabaseDep, Reader, allowed, settings
from social_crm.web.pagination import DEFAULT_LIMIT, RecordId, decode_cursor, encode_cursor
from social_crm.web.templating import render

LOGGER = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
AlertsUser = Annotated[Principal, Depends(allowed(Permission.ALERTS))]

# The status filter's choices: "active" is every alert not yet resolved.
ACTIVE = "active"
STATUS_CHOICES: dict[str, tuple[str, ...] | None] = {
    ACTIVE: (AlertStatus.OPEN, AlertStatus.ACKNOWLEDGED),
    AlertStatus.OPEN.value: (AlertStatus.OPEN,),
    AlertStatus.ACKNOWLEDGED.value: (AlertStatus.ACKNOWLEDGED,),
    AlertStatus.RESOLVED.value: (AlertStatus.RESOLVED,),
    "all": None,
}
# What the page says after an action (the redirect names the action, never free text).
DONE = {
    "acknowledged": "Alert acknowledged: it no longer escalates.",
    "assigned": "Alert assigned.",
    "resolved": "Alert resolved.",
    "reopened": "Alert reopened.",
    "noted": "Note added.",
}


@dataclass(frozen=True, slots=True)
class AlertFilters:
    """The inbox's filters, as the query string gives them."""

    status: str = ACTIVE
    severity: str = ""
    brand: str = ""
    network: str = ""
    assignee: str = ""

    @classmethod
    def of(cls, request: Request) -> AlertFilters:
        """The filters of a request; InvalidInput for a status or severity that does not exist."""
        params = request.query_params
        filters = cls(
            status=params.get("status") or ACTIVE,
            severity=params.get("severity", ""),
            brand=params.get("brand", ""),
            network=params.get("network", ""),
            assignee=params.get("assignee", ""),
        )
        if filters.status not in STATUS_CHOICES:
            raise InvalidInput(f"no alert status {filters.status!r}")
        if filters.severity and filters.severity not in set(Severity):
            raise InvalidInput(f"no severity {filters.severity!r}")
        return filters

    def query(self, **extra: str) -> str:
        """The filters (and ``extra``) as a query string, without empty values."""
        fields = {
            "status": self.status,
            "severity": self.severity,
            "brand": self.brand,
            "network": self.network,
            "assignee": self.assignee,
            **extra,
        }
        return urlencode({key: value for key, value in fields.items() if value})


def _page(db: Database, filters: AlertFilters, cursor: str | None) -> dict[str, Any]:
    """One page of the filtered alerts and the cursor of the next."""
    position = decode_cursor(cursor, keys=("before",))
    with db.transaction() as session:
        items = service.list_alerts(
            session,
            status=STATUS_CHOICES[filters.status],
            severity=filters.severity or None,
            brand=filters.brand or None,
            network=filters.network or None,
            assignee=filters.assignee or None,
            before_id=position["before"] if position else None,
            limit=DEFAULT_LIMIT + 1,
        )
    more = len(items) > DEFAULT_LIMIT
    items = items[:DEFAULT_LIMIT]
    next_cursor = encode_cursor({"before": items[-1].id}) if more and items else None
    return {
        "alerts": items,
        "filters": filters,
        "first_page": cursor is None,
        "next_query": filters.query(cursor=next_cursor) if next_cursor else None,
    }


@router.get("/alerts")
def alerts_page(
    request: Request,
    _user: Reader,
    db: DatabaseDep,
    cursor: str | None = None,
) -> Response:
    """The inbox: filters, and the newest alerts that match them."""
    filters = AlertFilters.of(request)
    with db.transaction() as session:
        facets = service.alert_facets(session)
    context = _page(db, filters, cursor)
    return render(
        request,
        "alerts/list.html",
        {
            **context,
            "facets": facets,
            "statuses": list(STATUS_CHOICES),
            "severities": [s.value for s in reversed(Severity)],
            "unassigned": service.UNASSIGNED,
        },
    )


@router.get("/alerts/list")
def alerts_fragment(
    request: Request,
    _user: Reader,
    db: DatabaseDep,
    cursor: str | None = None,
) -> Response:
    """The list alone, for the inbox to refresh itself with (htmx)."""
    return render(request, "alerts/_list.html", _page(db, AlertFilters.of(request), cursor))


@router.get("/alerts/{alert_id}")
def alert_page(
    request: Request,
    alert_id: RecordId,
    user: Reader,
    db: DatabaseDep,
    done: str | None = None,
) -> Response:
    """One alert: its lifecycle, the whole conversation, notes, deliveries and replies."""
    with db.transaction() as session:
        detail = service.get_alert(session, alert_id)
        people = [u.name for u in list_users(session)]
        answers = replies.alert_replies(session, alert_id)
        draft_options = replies.draft_options(session, alert_id, settings(request).engagement)
    return render(
        request,
        "alerts/detail.html",
        {
            "alert": detail,
            "summary": detail.summary,
            "done": DONE.get(done or ""),
            "can_act": user.can(Permission.ALERTS),
            "people": people,
            "replies": answers,
            "draft_options": draft_options,
            "can_reply": user.can(Permission.REPLIES),
        },
    )


def _back(alert_id: int, done: str) -> Response:
    return RedirectResponse(f"/alerts/{alert_id}?done={done}", status_code=303)


@router.post("/alerts/{alert_id}/acknowledge")
def acknowledge(
    alert_id: RecordId,
    user: AlertsUser,
    db: DatabaseDep,
) -> Response:
    """Acknowledge: someone is on it; it stops escalating."""
    with db.transaction() as session:
        lifecycle.acknowledge(session, alert_id, by=user.name)
    return _back(alert_id, "acknowledged")


@router.post("/alerts/{alert_id}/assign")
def assign(
    alert_id: RecordId,
    user: AlertsUser,
    db: DatabaseDep,
    assignee: Annotated[str, Form()] = "",
) -> Response:
    """Give the alert to someone (or to oneself)."""
    assignee = assignee.strip() or user.name
    with db.transaction() as session:
        if assignee not in {u.name for u in list_users(session)}:
            raise InvalidInput(f"no user {assignee!r} to assign the alert to")
        lifecycle.assign(session, alert_id, to=assignee)
    LOGGER.info("alert %d assigned to %s by %s", alert_id, assignee, user.name)
    return _back(alert_id, "assigned")


@router.post("/alerts/{alert_id}/resolve")
def resolve(
    alert_id: RecordId,
    user: AlertsUser,
    db: DatabaseDep,
) -> Response:
    """Resolve: nothing more to do."""
    with db.transaction() as session:
        lifecycle.resolve(session, alert_id, by=user.name)
    return _back(alert_id, "resolved")


@router.post("/alerts/{alert_id}/reopen")
def reopen(
    alert_id: RecordId,
    user: AlertsUser,
    db: DatabaseDep,
) -> Response:
    """Reopen a resolved alert."""
    with db.transaction() as session:
        lifecycle.reopen(session, alert_id, by=user.name)
    return _back(alert_id, "reopened")


@router.post("/alerts/{alert_id}/notes")
def add_note(
    alert_id: RecordId,
    user: AlertsUser,
    db: DatabaseDep,
    text: Annotated[str, Form()] = "",
) -> Response:
    """Leave a note for the team."""
    with db.transaction() as session:
        lifecycle.add_note(session, alert_id, by=user.name, text=text)
    return _back(alert_id, "noted")
