"""The replies page: drafts to edit and approve or reject, approved replies and what holds
them, what was sent and what happened after, the skipped and failed ones; a dry-run
preview of each, a draft started from an alert, and the recovery report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, urlencode, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from social_crm.accounts.enums import Permission
from social_crm.accounts.service import Principal
from social_crm.db.base import utcnow
from social_crm.engagement import lifecycle, service
from social_crm.engagement.enums import ReplyStatus
from social_crm.engagement.recovery import recovery_report, reply_outcomes
from social_crm.engagement.sending import preview
from social_crm.errors import InvalidInput
from social_crm.web.auth import DatabaseDep, Reader, allowed, settings
from social_crm.web.pagination import DEFAULT_LIMIT, RecordId, decode_cursor, encode_cursor
from social_crm.web.templating import render

LOGGER = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
Responder = Annotated[Principal, Depends(allowed(Permission.REPLIES))]

# The status filter's choices: a reply being posted counts as approved, a skipped one as
# failed (neither went out).
STATUS_CHOICES: dict[str, tuple[str, ...] | None] = {
    "draft": (ReplyStatus.DRAFT,),
    "approved": (ReplyStatus.APPROVED, ReplyStatus.SENDING),
    "sent": (ReplyStatus.SENT,),
    "stopped": (ReplyStatus.SKIPPED, ReplyStatus.FAILED),
    "rejected": (ReplyStatus.REJECTED,),
    "all": None,
}
STATUS_WORDS = {
    "draft": "To approve",
    "approved": "Approved, to be sent",
    "sent": "Sent",
    "stopped": "Skipped or failed",
    "rejected": "Rejected",
    "all": "All",
}
# What the page says after an action (the redirect names the action, never free text).
DONE = {
    "drafted": "Draft started: check its text, then approve it.",
    "edited": "Text saved. The reply is a draft: approve it to send it.",
    "approved": "Approved: the daemon sends it at its next pass, as its limits allow.",
    "rejected": "Rejected: it will not be sent.",
    "queued": "Queued: the daemon tries it at its next pass, as its limits allow.",
}


@dataclass(frozen=True, slots=True)
class ReplyFilters:
    """The list's filters, as the query string gives them."""

    status: str = "draft"
    brand: str = ""
    network: str = ""

    @classmethod
    def of(cls, request: Request) -> ReplyFilters:
        """The filters of a request; InvalidInput for a status that does not exist."""
        params = request.query_params
        filters = cls(
            status=params.get("status") or "draft",
            brand=params.get("brand", ""),
            network=params.get("network", ""),
        )
        if filters.status not in STATUS_CHOICES:
            raise InvalidInput(
                f"no reply status {filters.status!r}; the choices are {', '.join(STATUS_CHOICES)}"
            )
        return filters

    def query(self, **extra: str) -> str:
        """The filters (and ``extra``) as a query string, without empty values."""
        fields = {"status": self.status, "brand": self.brand, "network": self.network, **extra}
        return urlencode({key: value for key, value in fields.items() if value})


def _window(request: Request) -> float:
    """How long an answered author is watched for the recovery rate, in days."""
    return settings(request).engagement.recovery_window_days


@router.get("/replies")
def replies_page(
    request: Request,
    user: Reader,
    db: DatabaseDep,
    cursor: str | None = None,
    done: str | None = None,
    reply: int | None = None,
) -> Response:
    """Replies in one status (drafts to approve first), newest first, with their actions."""
    filters = ReplyFilters.of(request)
    position = decode_cursor(cursor, keys=("before",))
    with db.transaction() as session:
        facets = service.reply_facets(
            session, brand=filters.brand or None, network=filters.network or None
        )
        items = service.list_replies(
            session,
            status=STATUS_CHOICES[filters.status],
            brand=filters.brand or None,
            network=filters.network or None,
            before_id=position["before"] if position else None,
            limit=DEFAULT_LIMIT + 1,
        )
        outcomes = reply_outcomes(
            session,
            [r.id for r in items if r.status == ReplyStatus.SENT],
            window_days=_window(request),
        )
    more = len(items) > DEFAULT_LIMIT
    items = items[:DEFAULT_LIMIT]
    next_cursor = encode_cursor({"before": items[-1].id}) if more and items else None
    counts = {
        choice: sum(facets.counts.get(s, 0) for s in statuses or facets.counts)
        for choice, statuses in STATUS_CHOICES.items()
    }
    return render(
        request,
        "replies/list.html",
        {
            "replies": items,
            "outcomes": outcomes,
            "filters": filters,
            "facets": facets,
            "counts": counts,
            "statuses": STATUS_WORDS,
            "first_page": cursor is None,
            "next_query": filters.query(cursor=next_cursor) if next_cursor else None,
            "back": f"/replies?{filters.query()}",
            "done": DONE.get(done or ""),
            "done_reply": reply,
            "can_act": user.can(Permission.REPLIES),
            "resolve_default": settings(request).engagement.resolve_alert,
            "now": utcnow(),
        },
    )


@router.get("/replies/report")
def report_page(
    request: Request,
    _user: Reader,
    db: DatabaseDep,
    brand: str | None = None,
) -> Response:
    """Did replying help? The recovery rate per brand, template and responder."""
    with db.transaction() as session:
        report = recovery_report(session, window_days=_window(request), brand=brand or None)
        brands = service.reply_facets(session).brands
    return render(
        request, "replies/report.html", {"report": report, "brand": brand or "", "brands": brands}
    )


@router.get("/replies/{reply_id}")
def reply_page(
    request: Request,
    reply_id: RecordId,
    user: Reader,
    db: DatabaseDep,
    done: str | None = None,
) -> Response:
    """One reply: its mention, every decision, what was sent and what happened after."""
    with db.transaction() as session:
        detail = service.get_reply(session, reply_id)
        outcome = reply_outcomes(session, [reply_id], window_days=_window(request)).get(reply_id)
    return render(
        request,
        "replies/detail.html",
        {
            "detail": detail,
            "r": detail.summary,
            "outcome": outcome,
            "back": f"/replies/{reply_id}",
            "done": DONE.get(done or ""),
            "can_act": user.can(Permission.REPLIES),
            "resolve_default": settings(request).engagement.resolve_alert,
            "now": utcnow(),
        },
    )


@router.get("/replies/{reply_id}/preview")
def preview_page(request: Request, reply_id: RecordId, _user: Reader, db: DatabaseDep) -> Response:
    """Exactly what sending the reply now would post, where and as whom; posts nothing and
    asks no network (the account is known once a send was tried)."""
    with db.transaction() as session:
        account = lifecycle.get(session, reply_id).account
        plan = preview(session, reply_id, settings(request).engagement, account=account)
    return render(request, "replies/preview.html", {"plan": plan})


def _back(target: str, done: str, reply_id: int) -> Response:
    """Back to the list the action came from (its filters kept), else to the reply's page,
    saying what was done."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or parts.path != "/replies":
        return RedirectResponse(f"/replies/{reply_id}?done={done}", status_code=303)
    kept = [(k, v) for k, v in parse_qsl(parts.query) if k in ("status", "brand", "network")]
    query = urlencode([*kept, ("done", done), ("reply", str(reply_id))])
    return RedirectResponse(f"/replies?{query}", status_code=303)


def _typed(text: str) -> str:
    """A textarea's text with the line breaks browsers send (CR LF) as they are stored."""
    return text.replace("\r\n", "\n")


@router.post("/replies/draft")
def start_draft(
    request: Request,
    user: Responder,
    db: DatabaseDep,
    alert_id: Annotated[int, Form(ge=1, le=2**63 - 1)],
    template: Annotated[str, Form()] = "",
    text: Annotated[str, Form()] = "",
) -> Response:
    """Start a draft answering an alert's mention, from a template or one's own text."""
    if bool(template.strip()) == bool(text.strip()):
        raise InvalidInput("choose a template or write your own text")
    with db.transaction() as session:
        reply = lifecycle.draft(
            session,
            lifecycle.alert_mention(session, alert_id),
            by=user.name,
            config=settings(request).engagement,
            template=template.strip() or None,
            text=_typed(text) if text.strip() else None,
        )
        reply_id = reply.id
    return RedirectResponse(f"/replies/{reply_id}?done=drafted", status_code=303)


@router.post("/replies/{reply_id}/edit")
def edit(
    reply_id: RecordId,
    user: Responder,
    db: DatabaseDep,
    text: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Save a reply's new text; an approved reply becomes a draft again."""
    with db.transaction() as session:
        lifecycle.edit(session, reply_id, text=_typed(text), by=user.name)
    return _back(back, "edited", reply_id)


@router.post("/replies/{reply_id}/approve")
def approve(
    request: Request,
    reply_id: RecordId,
    user: Responder,
    db: DatabaseDep,
    text: Annotated[str | None, Form()] = None,
    resolve_alert: Annotated[bool, Form()] = False,
    back: Annotated[str, Form()] = "",
) -> Response:
    """Approve a draft, in the words the form shows (saved first if they were changed)."""
    with db.transaction() as session:
        typed = _typed(text).strip() if text is not None else None
        if typed is not None and lifecycle.get(session, reply_id, lock=True).text != typed:
            lifecycle.edit(session, reply_id, text=typed, by=user.name)
        lifecycle.approve(
            session,
            reply_id,
            by=user.name,
            config=settings(request).engagement,
            resolve_alert=resolve_alert,
        )
    return _back(back, "approved", reply_id)


@router.post("/replies/{reply_id}/reject")
def reject(
    reply_id: RecordId,
    user: Responder,
    db: DatabaseDep,
    note: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Reject a draft, or withdraw an approved reply, with an optional reason."""
    with db.transaction() as session:
        lifecycle.reject(session, reply_id, by=user.name, note=note.strip() or None)
    return _back(back, "rejected", reply_id)


@router.post("/replies/{reply_id}/send")
def send(
    reply_id: RecordId,
    user: Responder,
    db: DatabaseDep,
    back: Annotated[str, Form()] = "",
) -> Response:
    """Have an approved reply tried at the next pass, or a failed one tried again."""
    with db.transaction() as session:
        lifecycle.queue(session, reply_id, by=user.name)
    return _back(back, "queued", reply_id)
