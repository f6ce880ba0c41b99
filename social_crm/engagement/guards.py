"""What keeps a reply from going out now: people who asked not to be contacted, and limits."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from social_crm.ambassadors.enums import ReviewStatus
from social_crm.ambassadors.models import AmbassadorReview
from social_crm.config import ReplyLimit, ReplyLimits
from social_crm.engagement.enums import ReplyStatus
from social_crm.engagement.models import Reply
from social_crm.mentions.models import AuthorRecord

LOGGER = logging.getLogger(__name__)

# Why a reply to a negative mention is not sent without a person's approval.
NEGATIVE_WAITS = "the mention is negative: automatic sending refused, a person approves it"


def contact_refusal(session: Session, author: AuthorRecord) -> str | None:
    """Why ``author`` gets no reply (an opt-out or a do-not-contact flag), or None."""
    who = f"{author.network}:{author.handle}"
    customer = author.customer
    if author.do_not_contact_at is not None:
        return f"{who} is not to be contacted (since {author.do_not_contact_at:%Y-%m-%d})"
    if customer is not None and customer.do_not_contact_at is not None:
        return (
            f"customer {customer.name} is not to be contacted "
            f"(since {customer.do_not_contact_at:%Y-%m-%d})"
        )
    review = session.get(AmbassadorReview, author.id)
    if review is not None and review.status == ReviewStatus.OPTED_OUT:
        return f"{who} opted out on {review.reviewed_at:%Y-%m-%d}"
    if customer is not None and customer.opted_out_at is not None:
        return f"customer {customer.name} opted out on {customer.opted_out_at:%Y-%m-%d}"
    return None


@dataclass(frozen=True, slots=True)
class Wait:
    """A limit a reply is over: the time it can go, and which limit holds it."""

    until: datetime
    reason: str


def limit_wait(
    session: Session,
    reply: Reply,
    limits: ReplyLimits,
    *,
    account: str | None,
    now: datetime,
) -> Wait | None:
    """The latest time a limit lets ``reply`` go, if any limit holds it now.

    Replies being sent and sent count, at the time they were (last) sent; a reply to the
    author in a private message counts like a public one.
    """
    scopes = [
        ("per-thread", limits.per_thread, Reply.thread_id == reply.thread_id, "in this thread"),
        (
            "per-author",
            limits.per_author,
            Reply.author_id == reply.author_id,
            f"to {reply.author.handle}",
        ),
    ]
    if account is not None:
        scopes.insert(
            0, ("per-account", limits.per_account, Reply.account == account, f"as {account}")
        )
    waits = []
    for name, limit, scope, whom in scopes:
        until = _free_at(session, reply, limit, scope, now=now)
        if until is not None and until > now:
            waits.append(
                Wait(until, f"{name} limit: {_count(limit)} per {limit.minutes:g} min {whom}")
            )
    return max(waits, key=lambda wait: wait.until) if waits else None


def _free_at(
    session: Session, reply: Reply, limit: ReplyLimit, scope: object, *, now: datetime
) -> datetime | None:
    """When the oldest of the last ``limit.count`` replies in ``scope`` leaves the window."""
    window = timedelta(minutes=limit.minutes)
    nth = session.scalar(
        select(Reply.sending_at)
        .where(
            Reply.network == reply.network,
            Reply.id != reply.id,
            Reply.status.in_((ReplyStatus.SENDING, ReplyStatus.SENT)),
            Reply.sending_at > now - window,
            scope,  # type: ignore[arg-type]
        )
        .order_by(Reply.sending_at.desc())
        .offset(limit.count - 1)
        .limit(1)
    )
    return nth + window if nth is not None else None


def _count(limit: ReplyLimit) -> str:
    """``1 reply`` or ``30 replies``."""
    return f"{limit.count} repl{'y' if limit.count == 1 else 'ies'}"
