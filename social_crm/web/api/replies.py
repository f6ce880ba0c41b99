"""``/api/v1/replies``: drafts, approval, sending, a dry-run preview, and the recovery report."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request

from social_crm.accounts.enums import Permission
from social_crm.accounts.service import Principal
from social_crm.db import Database
from social_crm.engagement import lifecycle, service
from social_crm.engagement.enums import ReplyStatus
from social_crm.engagement.recovery import RecoveryReport, recovery_report
from social_crm.engagement.sending import Preview, preview
from social_crm.web.api.schemas import (
    ApproveBody,
    DraftBody,
    EditBody,
    Page,
    RejectBody,
    error_responses,
)
from social_crm.web.auth import DatabaseDep, Reader, allowed, settings
from social_crm.web.pagination import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    RecordId,
    decode_cursor,
    encode_cursor,
)

LOGGER = logging.getLogger(__name__)

router = APIRouter(prefix="/replies", tags=["replies"])
Responder = Annotated[Principal, Depends(allowed(Permission.REPLIES))]
ACTION_ERRORS = error_responses(401, 403, 404, 409, 422)


@router.get("", response_model=Page[service.ReplySummary], responses=error_responses(401, 422))
def replies(
    _user: Reader,
    db: DatabaseDep,
    status: Annotated[ReplyStatus | None, Query(description="Only replies in this status.")] = None,
    brand: str | None = None,
    network: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[service.ReplySummary]:
    """Replies, newest first, filtered."""
    position = decode_cursor(cursor, keys=("before",))
    with db.transaction() as session:
        items = service.list_replies(
            session,
            status=status,
            brand=brand,
            network=network,
            before_id=position["before"] if position else None,
            limit=limit + 1,
        )
    more = len(items) > limit
    items = items[:limit]
    return Page(items=items, next_cursor=encode_cursor({"before": items[-1].id}) if more else None)


@router.get("/report", response_model=RecoveryReport, responses=error_responses(401, 422))
def report(
    request: Request,
    _user: Reader,
    db: DatabaseDep,
    brand: str | None = None,
    window_days: Annotated[
        float | None,
        Query(gt=0, le=3650, description="Days an author is watched; default: the configured."),
    ] = None,
) -> RecoveryReport:
    """Did replying help? Answered negative conversations, recovered, pending, and the rate,
    per brand, template and responder."""
    window = window_days or settings(request).engagement.recovery_window_days
    with db.transaction() as session:
        return recovery_report(session, window_days=window, brand=brand)


@router.post("", status_code=201, response_model=service.ReplyDetail, responses=ACTION_ERRORS)
def draft(
    request: Request, body: DraftBody, user: Responder, db: DatabaseDep
) -> service.ReplyDetail:
    """Start a draft reply to a mention (or an alert's first mention), by the token's user."""
    with db.transaction() as session:
        mention_id = body.mention_id
        if mention_id is None:
            assert body.alert_id is not None  # the body names one or the other
            mention_id = lifecycle.alert_mention(session, body.alert_id)
        reply = lifecycle.draft(
            session,
            mention_id,
            by=user.name,
            config=settings(request).engagement,
            template=body.template,
            situation=body.situation,
            language=body.language,
            text=body.text,
            private=body.private,
        )
        reply_id = reply.id
    return _detail(db, reply_id)


@router.get(
    "/{reply_id}", response_model=service.ReplyDetail, responses=error_responses(401, 404, 422)
)
def reply(reply_id: RecordId, _user: Reader, db: DatabaseDep) -> service.ReplyDetail:
    """One reply with its mention, every decision and its history."""
    return _detail(db, reply_id)


def _detail(db: Database, reply_id: int) -> service.ReplyDetail:
    """The reply as it is now (after an action's transaction is committed)."""
    with db.transaction() as session:
        return service.get_reply(session, reply_id)


@router.get("/{reply_id}/preview", response_model=Preview, responses=error_responses(401, 404, 422))
def dry_run(request: Request, reply_id: RecordId, _user: Reader, db: DatabaseDep) -> Preview:
    """What sending the reply now would post, where and as whom, and what would hold it;
    posts nothing and asks no network (``account`` is null until a send was tried)."""
    with db.transaction() as session:
        account = lifecycle.get(session, reply_id).account
        return preview(session, reply_id, settings(request).engagement, account=account)


@router.post("/{reply_id}/edit", response_model=service.ReplyDetail, responses=ACTION_ERRORS)
def edit(
    reply_id: RecordId, body: EditBody, user: Responder, db: DatabaseDep
) -> service.ReplyDetail:
    """Change a reply's text; an approved reply becomes a draft again, to be approved again."""
    with db.transaction() as session:
        lifecycle.edit(session, reply_id, text=body.text, by=user.name)
    return _detail(db, reply_id)


@router.post("/{reply_id}/approve", response_model=service.ReplyDetail, responses=ACTION_ERRORS)
def approve(
    request: Request,
    reply_id: RecordId,
    user: Responder,
    db: DatabaseDep,
    body: Annotated[ApproveBody | None, Body()] = None,
) -> service.ReplyDetail:
    """Approve a draft as the token's user: the daemon sends it when its limits allow."""
    with db.transaction() as session:
        lifecycle.approve(
            session,
            reply_id,
            by=user.name,
            config=settings(request).engagement,
            resolve_alert=body.resolve_alert if body else None,
        )
    return _detail(db, reply_id)


@router.post("/{reply_id}/reject", response_model=service.ReplyDetail, responses=ACTION_ERRORS)
def reject(
    reply_id: RecordId,
    user: Responder,
    db: DatabaseDep,
    body: Annotated[RejectBody | None, Body()] = None,
) -> service.ReplyDetail:
    """Reject a draft, or withdraw an approved reply before it is sent (final)."""
    with db.transaction() as session:
        lifecycle.reject(session, reply_id, by=user.name, note=body.note if body else None)
    return _detail(db, reply_id)


@router.post("/{reply_id}/send", response_model=service.ReplyDetail, responses=ACTION_ERRORS)
def send(reply_id: RecordId, user: Responder, db: DatabaseDep) -> service.ReplyDetail:
    """Have an approved reply tried at the daemon's next pass (its limits still apply), or a
    failed one tried again."""
    with db.transaction() as session:
        lifecycle.queue(session, reply_id, by=user.name)
    return _detail(db, reply_id)
