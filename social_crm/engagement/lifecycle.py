"""The reply lifecycle: every change of a reply's status is defined here, and only here.

``draft -> approved -> sending -> sent``; a draft or an approved reply may be rejected.
Editing an approved reply withdraws its approval (it is a draft again, to be approved
again), so nothing goes out in words nobody approved; once a reply has been tried it can
no longer be edited: its words may be on the network, and a retry looks for them. The
send job moves an approved reply to ``sending`` before it posts, and from there to
``sent``, ``skipped`` (with its reason), ``failed`` (given up on), or back to
``approved`` to be tried again later. A person may queue a failed reply again. Each step
records who and when, in the reply's columns and in its history (``ReplyEvent``).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from social_crm.alerts.enums import AlertStatus
from social_crm.alerts.escalation import thread_key
from social_crm.alerts.models import Alert
from social_crm.config import DEFAULT_SUBJECT, EngagementConfig, ReplyTemplate, Situation
from social_crm.db.base import utcnow
from social_crm.engagement import templates
from social_crm.engagement.enums import ReplyAction, ReplyStatus
from social_crm.engagement.models import Reply, ReplyEvent
from social_crm.errors import Conflict, InvalidTransition, NotFound
from social_crm.mentions.models import AuthorRecord, MentionRecord

LOGGER = logging.getLogger(__name__)

# The statuses each status may move to.
TRANSITIONS: Mapping[ReplyStatus, frozenset[ReplyStatus]] = {
    ReplyStatus.DRAFT: frozenset({ReplyStatus.DRAFT, ReplyStatus.APPROVED, ReplyStatus.REJECTED}),
    ReplyStatus.APPROVED: frozenset(
        {
            ReplyStatus.DRAFT,  # edited: approval withdrawn
            ReplyStatus.APPROVED,  # queued again sooner, or held by a limit
            ReplyStatus.REJECTED,
            ReplyStatus.SENDING,
            ReplyStatus.SKIPPED,
        }
    ),
    ReplyStatus.SENDING: frozenset(
        {
            ReplyStatus.SENDING,  # claimed again after a crash
            ReplyStatus.SENT,
            ReplyStatus.SKIPPED,
            ReplyStatus.FAILED,
            ReplyStatus.APPROVED,  # to be retried
        }
    ),
    ReplyStatus.FAILED: frozenset({ReplyStatus.APPROVED}),
    ReplyStatus.SENT: frozenset(),
    ReplyStatus.REJECTED: frozenset(),
    ReplyStatus.SKIPPED: frozenset(),
}
# What a person may do to a reply, by the statuses it may be in.
DRAFTS = frozenset({ReplyStatus.DRAFT})
EDITABLE = frozenset({ReplyStatus.DRAFT, ReplyStatus.APPROVED})
REJECTABLE = frozenset({ReplyStatus.DRAFT, ReplyStatus.APPROVED})
QUEUEABLE = frozenset({ReplyStatus.APPROVED, ReplyStatus.FAILED})


def can_move(current: str, target: ReplyStatus) -> bool:
    """Whether the table allows a reply in ``current`` to move to ``target``."""
    return target in TRANSITIONS[ReplyStatus(current)]


def move(
    reply: Reply,
    target: ReplyStatus,
    *,
    action: ReplyAction,
    by: str,
    now: datetime,
    note: str | None = None,
) -> None:
    """Move ``reply`` to ``target`` and add the step to its history; InvalidTransition if the
    table does not allow it."""
    if not can_move(reply.status, target):
        raise InvalidTransition(f"reply {reply.id} is {reply.status}; it cannot become {target}")
    reply.status = target
    record(reply, action, by=by, now=now, note=note)


def record(
    reply: Reply, action: ReplyAction, *, by: str, now: datetime, note: str | None = None
) -> None:
    """Add a step to the reply's history."""
    reply.events.append(ReplyEvent(at=now, by=by, action=action, note=note))


def get(session: Session, reply_id: int, *, lock: bool = False) -> Reply:
    """The reply with ``reply_id``, or NotFound; ``lock``: held until the transaction ends."""
    query = select(Reply).where(Reply.id == reply_id)
    if lock:
        query = query.with_for_update()
    reply = session.scalar(query)
    if reply is None:
        raise NotFound(f"no reply with id {reply_id}")
    return reply


def _require(reply: Reply, allowed: frozenset[ReplyStatus], only: str) -> None:
    """InvalidTransition saying what the reply is and ``only`` what may be done, unless its
    status is in ``allowed``."""
    if ReplyStatus(reply.status) not in allowed:
        raise InvalidTransition(f"reply {reply.id} is {reply.status}; {only}")


def alert_for(session: Session, mention: MentionRecord) -> Alert | None:
    """The alert a reply to ``mention`` answers: the latest alert that names the mention,
    else the conversation's alert that is not resolved."""
    named = session.scalar(
        select(Alert)
        .where(or_(Alert.first_mention_id == mention.id, Alert.last_mention_id == mention.id))
        .order_by(Alert.id.desc())
        .limit(1)
    )
    if named is not None:
        return named
    return session.scalar(
        select(Alert)
        .where(Alert.thread_key == thread_key(mention), Alert.status != AlertStatus.RESOLVED)
        .order_by(Alert.id.desc())
        .limit(1)
    )


def alert_mention(session: Session, alert_id: int) -> int:
    """The mention a reply to an alert answers: the one that raised it; NotFound if none."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    if alert.first_mention_id is None:
        raise NotFound(f"alert {alert_id} is about no mention; there is nothing to reply to")
    return alert.first_mention_id


def new_reply(
    session: Session,
    mention: MentionRecord,
    *,
    text: str,
    situation: str,
    language: str,
    by: str,
    now: datetime,
    template: ReplyTemplate | None = None,
    private: bool = False,
    subject: str = "",
    rule: str | None = None,
) -> Reply:
    """A draft reply to ``mention``, tied to its alert and its author's customer."""
    alert = alert_for(session, mention)
    reply = Reply(
        mention_id=mention.id,
        author_id=mention.author_id,
        alert_id=alert.id if alert is not None else None,
        customer_id=mention.author.customer_id,
        brand=mention.brand,
        network=mention.network,
        thread_id=mention.thread_id,
        template=template.name if template is not None else None,
        situation=situation,
        language=language,
        rule=rule,
        text=text,
        private=private,
        subject=subject,
        status=ReplyStatus.DRAFT,
        created_by=by,
        created_at=now,
        key=str(uuid.uuid4()),
    )
    session.add(reply)
    record(
        reply,
        ReplyAction.DRAFTED,
        by=by,
        now=now,
        note=f"template {template.name}" if template else None,
    )
    return reply


def _mention(session: Session, mention_id: int) -> MentionRecord:
    """The mention a reply is to answer, with its author and customer; NotFound or Conflict."""
    mention = session.scalar(
        select(MentionRecord)
        .where(MentionRecord.id == mention_id)
        .options(joinedload(MentionRecord.author).joinedload(AuthorRecord.customer))
    )
    if mention is None:
        raise NotFound(f"no mention with id {mention_id}")
    if mention.deleted_at is not None:
        raise Conflict(f"mention {mention_id} was deleted; there is nothing to reply to")
    return mention


def draft(
    session: Session,
    mention_id: int,
    *,
    by: str,
    config: EngagementConfig,
    template: str | None = None,
    situation: Situation | str | None = None,
    language: str | None = None,
    text: str | None = None,
    private: bool | None = None,
    now: datetime | None = None,
) -> Reply:
    """Start a draft reply to a mention: from a template by name, from the brand's template
    for a situation (in the post's language unless ``language``), or from one's own text."""
    now = now or utcnow()
    chosen = [
        name
        for name, value in (("template", template), ("situation", situation), ("text", text))
        if value
    ]
    if len(chosen) != 1:
        raise Conflict("a draft starts from exactly one of: a template, a situation, a text")
    mention = _mention(session, mention_id)
    if text is not None:
        if not text.strip():
            raise Conflict("a reply needs some text")
        language = language or mention.language or config.brand(mention.brand).default_language
        reply = new_reply(
            session,
            mention,
            text=text.strip(),
            situation=Situation.CUSTOM,
            language=language,
            by=by,
            now=now,
            private=bool(private),
            subject=templates.render(DEFAULT_SUBJECT, templates.variables(config, mention)),
        )
        session.flush()
        return reply
    found = _template(config, mention, template=template, situation=situation, language=language)
    values = templates.variables(config, mention)
    reply = new_reply(
        session,
        mention,
        text=templates.render(found.text, values),
        situation=found.situation,
        language=found.language,
        by=by,
        now=now,
        template=found,
        private=found.private if private is None else private,
        subject=templates.render(found.subject, values),
    )
    session.flush()
    return reply


def _template(
    config: EngagementConfig,
    mention: MentionRecord,
    *,
    template: str | None,
    situation: Situation | str | None,
    language: str | None,
) -> ReplyTemplate:
    """The template a person named, or the brand's one for a situation; NotFound or Conflict."""
    if template is not None:
        found = config.template(template)
        if found is None:
            known = ", ".join(t.name for t in config.templates) or "none configured"
            raise NotFound(f"no reply template {template!r}; templates: {known}")
        if found.brand != mention.brand:
            raise Conflict(
                f"template {template!r} is for {found.brand}; "
                f"mention {mention.id} is about {mention.brand}"
            )
        return found
    situation = Situation(situation)
    if situation == Situation.CUSTOM:
        raise Conflict("custom templates are chosen by their name, not by the situation")
    found = templates.pick(
        config, brand=mention.brand, situation=situation, language=language or mention.language
    )
    if found is None:
        raise NotFound(f"{mention.brand} has no {situation} template")
    return found


def edit(
    session: Session, reply_id: int, *, text: str, by: str, now: datetime | None = None
) -> Reply:
    """Change a reply's text; an approved reply becomes a draft again, to be approved again."""
    now = now or utcnow()
    reply = get(session, reply_id, lock=True)
    _require(reply, EDITABLE, "only drafts and approved replies can be edited")
    if reply.sending_at is not None:
        raise InvalidTransition(
            f"reply {reply.id} was tried before and may be on the network already; "
            "its words cannot change"
        )
    if not text.strip():
        raise Conflict("a reply needs some text")
    was = reply.status
    reply.text, reply.edited_by, reply.edited_at = text.strip(), by, now
    reply.outgoing_text = None
    note = "approval withdrawn" if was == ReplyStatus.APPROVED else None
    if was == ReplyStatus.APPROVED:
        reply.approved_by = reply.approved_at = None
        reply.auto_send = reply.resolve_alert = False
        reply.next_attempt_at, reply.reason = None, None
    move(reply, ReplyStatus.DRAFT, action=ReplyAction.EDITED, by=by, now=now, note=note)
    return reply


def approve(
    session: Session,
    reply_id: int,
    *,
    by: str,
    config: EngagementConfig,
    resolve_alert: bool | None = None,
    now: datetime | None = None,
) -> Reply:
    """Approve a draft: it is queued for the send job. ``resolve_alert`` (default
    ``engagement.resolve_alert``): its alert is resolved once it is sent."""
    now = now or utcnow()
    reply = get(session, reply_id, lock=True)
    _require(reply, DRAFTS, "only drafts can be approved")
    if resolve_alert and reply.alert_id is None:
        raise Conflict(f"reply {reply.id} answers no alert; there is none to resolve")
    reply.approved_by, reply.approved_at = by, now
    reply.resolve_alert = reply.alert_id is not None and (
        config.resolve_alert if resolve_alert is None else resolve_alert
    )
    reply.next_attempt_at, reply.reason = now, None
    note = f"resolves alert {reply.alert_id} when sent" if reply.resolve_alert else None
    move(reply, ReplyStatus.APPROVED, action=ReplyAction.APPROVED, by=by, now=now, note=note)
    LOGGER.info("reply %d approved by %s", reply.id, by)
    return reply


def reject(
    session: Session,
    reply_id: int,
    *,
    by: str,
    note: str | None = None,
    now: datetime | None = None,
) -> Reply:
    """Reject a draft or withdraw an approved reply before it is sent; final."""
    now = now or utcnow()
    reply = get(session, reply_id, lock=True)
    _require(reply, REJECTABLE, "only drafts and approved replies can be rejected")
    reply.rejected_by, reply.rejected_at = by, now
    reply.next_attempt_at = None
    move(reply, ReplyStatus.REJECTED, action=ReplyAction.REJECTED, by=by, now=now, note=note)
    return reply


def queue(session: Session, reply_id: int, *, by: str, now: datetime | None = None) -> Reply:
    """Ask for an approved reply to go at the send job's next pass (its limits still apply),
    or for a failed one to be tried again."""
    now = now or utcnow()
    reply = get(session, reply_id, lock=True)
    if reply.status == ReplyStatus.DRAFT:
        raise InvalidTransition(f"reply {reply.id} is a draft; it is sent once approved")
    _require(reply, QUEUEABLE, "only approved and failed replies can be sent")
    if reply.status == ReplyStatus.FAILED:
        reply.attempts = 0  # a fresh budget; an earlier post is still looked for first
    reply.next_attempt_at, reply.reason = now, None
    move(reply, ReplyStatus.APPROVED, action=ReplyAction.QUEUED, by=by, now=now)
    return reply
