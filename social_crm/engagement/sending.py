"""Send approved replies: claimed in their own transaction, posted outside any, then recorded.

Each reply goes through three steps:

1. **Claim**, in its own committed transaction, holding the claim lock (a watermark row
   every send job updates first, so replies are claimed one job at a time and the limits
   are counted right; on PostgreSQL the candidate is also picked ``FOR UPDATE SKIP
   LOCKED``). An approved reply that is due, or one left ``sending`` whose lease ran out,
   is checked without the network: an author who opted out or is not to be contacted, or
   a mention deleted meanwhile, skips it with that reason; an automatic approval on a
   negative mention sends it back to the drafts; a limit (per account, thread, author)
   makes it wait, with the reason and the time it can go. Otherwise it becomes
   ``sending``, with the attempt's time, a lease and the account it goes out as, and
   its outgoing text (body and footer) is fixed. That is committed BEFORE anything is
   posted.
2. **Inspect, then post**, holding no lock. The connector's ``inspect`` says whether the
   target is still open (deleted, removed, locked or archived: skipped) and which replies
   the brand's account wrote there. A reply claimed before (a crash between posting and
   recording, or a failure whose outcome is unknown) whose words are already there is
   recorded as sent rather than posted again. A reply from the account that is not one of
   ours means a person answered by hand: skipped. Otherwise ``reply`` posts it once, with
   the reply's idempotency key (the same on every attempt).
3. **Record**, in a second transaction, if the lease is still this job's: sent (and its
   alert resolved, if that was asked), skipped, back to approved with an exponential
   backoff (or after the network's retry-after), or failed: at once when the credentials
   are refused, after ``engagement.max_attempts`` otherwise.

So a reply is posted at most once per claim, and a claim after a crash looks for the
post before posting: **never twice**, as far as the network shows its own replies.
"""

from __future__ import annotations

import logging
import random
import re
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from connectors.base import Outgoing, Posted, Replyable, ReplyTarget
from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    RateLimitedError,
    TargetUnavailable,
    TransientConnectorError,
)
from social_crm.alerts import lifecycle as alert_lifecycle
from social_crm.alerts.enums import AlertStatus
from social_crm.alerts.models import Alert
from social_crm.config import EngagementConfig
from social_crm.db import Database, watermarks
from social_crm.db.base import utcnow
from social_crm.db.watermarks import Watermark
from social_crm.engagement import lifecycle
from social_crm.engagement.enums import ReplyAction, ReplyStatus
from social_crm.engagement.guards import NEGATIVE_WAITS, contact_refusal, limit_wait
from social_crm.engagement.models import Reply
from social_crm.engagement.templates import with_footer

LOGGER = logging.getLogger(__name__)

# The watermark row send jobs update first in a claim: one claim at a time.
CLAIM_LOCK = "replies:claim"
# Who the send job's steps are recorded as, in a reply's history.
SENDER = "daemon"
# Why nothing can be posted under a target, by the status inspect gives.
GONE = {
    "deleted": "the post was deleted by its author",
    "removed": "the post was removed by moderators",
    "locked": "the thread is locked",
    "archived": "the thread is archived",
}
# A mention as written (``@user`` or ``@user@instance``); Mastodon shows ``@user``.
MENTION = re.compile(r"(?<![\w@/])@(\w+)(?:@[\w.-]+\w(?::\d+)?)?")
# The reason an approved reply carries while engagement.dry_run holds it.
DRY_RUN = "dry run: not posted (engagement.dry_run is on)"


@dataclass(frozen=True, slots=True)
class Claim:
    """A reply this job may post: it holds the lease for ``attempt``."""

    reply_id: int
    network: str
    attempt: int
    account: str
    outgoing: Outgoing
    recovering: bool  # claimed before: the network may already hold its post
    refusal: str | None  # found at the claim; applied once no earlier post is found
    ours: frozenset[str]  # network ids of our replies in the thread or to the author
    in_flight: frozenset[str]  # texts of those of them not known posted


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    posted: Posted | None = None
    recovered: bool = False  # found on the network rather than posted now
    skipped: str | None = None
    error: ConnectorError | None = None


@dataclass(frozen=True, slots=True)
class SendPass:
    """What one pass of the send job did."""

    sent: int = 0
    skipped: int = 0
    waiting: int = 0  # held by a limit
    failed: int = 0  # failed attempts; each is retried later or given up on


def same_text(posted: str, ours: str) -> bool:
    """Whether the network's text is ours: whitespace aside, any @mentions the network put
    in front, and mentions as Mastodon shows them (``@user`` for ``@user@instance``)."""
    theirs, mine = _words(posted), _words(ours)
    return theirs == mine or _after_mentions(theirs) == _after_mentions(mine)


def _words(text: str) -> list[str]:
    """The words of ``text``, each mention reduced to the user name Mastodon shows."""
    return MENTION.sub(lambda found: "@" + found.group(1).lower(), text).split()


def _after_mentions(words: list[str]) -> list[str]:
    """The words after any leading @mentions."""
    start = 0
    while start < len(words) and words[start].startswith("@"):
        start += 1
    return words[start:]


def send_due(
    db: Database,
    connectors: Mapping[str, Replyable],
    config: EngagementConfig,
    *,
    now: datetime | None = None,
    limit: int = 50,
) -> SendPass:
    """Try up to ``limit`` due replies, one at a time, through the connector of their network.

    A network whose attempt fails is left alone for the rest of the pass.
    """
    now = now or utcnow()
    refusals: dict[str, str] = {}
    accounts = reply_accounts(connectors, refusals=refusals)
    if refusals:
        _note_refusals(db, refusals, now=now)
    counts: Counter[str] = Counter()
    failing: set[str] = set()
    for _ in range(limit):
        claim = claim_next(db, config, accounts, now=now, skip=failing, counts=counts)
        if claim is None:
            break
        outcome = attempt(connectors[claim.network], claim)
        record(db, claim, outcome, config, now=now)
        if outcome.posted is not None:
            counts["sent"] += 1
        elif outcome.skipped is not None:
            counts["skipped"] += 1
        else:
            counts["failed"] += 1
            failing.add(claim.network)
    return SendPass(
        sent=counts["sent"],
        skipped=counts["skipped"],
        waiting=counts["waiting"],
        failed=counts["failed"],
    )


def anything_to_send(db: Database) -> bool:
    """Whether any reply is approved or being sent: without one, no network is asked."""
    waiting = (ReplyStatus.APPROVED, ReplyStatus.SENDING)
    with db.transaction() as session:
        return (
            session.scalar(select(Reply.id).where(Reply.status.in_(waiting)).limit(1)) is not None
        )


def reply_accounts(
    connectors: Mapping[str, Replyable], *, refusals: dict[str, str] | None = None
) -> dict[str, str]:
    """The account each network's replies go out as; a network that cannot say is left out
    (and why goes into ``refusals``: a connector set up to listen only, say)."""
    accounts = {}
    for network, connector in connectors.items():
        try:
            accounts[network] = connector.reply_account()
        except Exception as exc:  # noqa: BLE001 - that network waits; the others go on
            LOGGER.debug("%s: cannot tell which account replies go out as: %s", network, exc)
            if refusals is not None:
                refusals[network] = str(exc)
    return accounts


def _note_refusals(db: Database, refusals: Mapping[str, str], *, now: datetime) -> None:
    """Approved replies due on a network whose connector cannot reply say so, logged once."""
    with db.transaction() as session:
        rows = session.scalars(
            select(Reply)
            .where(
                Reply.status == ReplyStatus.APPROVED,
                Reply.next_attempt_at <= now,
                Reply.network.in_(list(refusals)),
            )
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            reason = f"the {row.network} connector cannot reply: {refusals[row.network]}"
            if row.reason != reason:
                row.reason = reason
                LOGGER.warning("reply %d waits: %s", row.id, reason)


def _claimable(now: datetime) -> object:
    return or_(
        and_(Reply.status == ReplyStatus.APPROVED, Reply.next_attempt_at <= now),
        and_(Reply.status == ReplyStatus.SENDING, Reply.lease_until < now),
    )


def _lock_claims(session: Session, now: datetime) -> None:
    """Take the claim lock: the first write of the transaction, so SQLite serialises too."""
    taken = session.execute(
        update(Watermark).where(Watermark.name == CLAIM_LOCK).values(at=now)
    ).rowcount
    if not taken:
        watermarks.put(session, CLAIM_LOCK, now)


def claim_next(
    db: Database,
    config: EngagementConfig,
    accounts: Mapping[str, str],
    *,
    now: datetime,
    skip: Collection[str] = (),
    counts: Counter[str] | None = None,
) -> Claim | None:
    """Claim the next due reply of a network in ``accounts`` (not in ``skip``); None when
    none is left. Replies skipped or held by a limit on the way are counted in ``counts``."""
    counts = counts if counts is not None else Counter()
    networks = sorted(set(accounts) - set(skip))
    if not networks:
        return None
    with db.transaction() as session:
        _lock_claims(session, now)
        while True:
            row = session.scalar(
                select(Reply)
                .where(_claimable(now), Reply.network.in_(networks))
                .order_by(Reply.next_attempt_at, Reply.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if row is None:
                return None
            claim = _claim(session, row, config, accounts[row.network], now=now, counts=counts)
            if claim is not None:
                return claim
            session.flush()


def _claim(
    session: Session,
    row: Reply,
    config: EngagementConfig,
    account: str,
    *,
    now: datetime,
    counts: Counter[str],
) -> Claim | None:
    """Claim ``row``, or settle it without the network (skipped, waiting, back to draft)."""
    recovering = row.sending_at is not None
    refusal = refusal_of(session, row)
    if not recovering:
        if refusal is not None:
            row.reason, row.next_attempt_at = refusal, None
            lifecycle.move(
                row,
                ReplyStatus.SKIPPED,
                action=ReplyAction.SKIPPED,
                by=SENDER,
                now=now,
                note=refusal,
            )
            LOGGER.info("reply %d skipped: %s", row.id, refusal)
            counts["skipped"] += 1
            return None
        if row.auto_send and _negative(row):
            row.reason, row.next_attempt_at = NEGATIVE_WAITS, None
            row.approved_by = row.approved_at = None
            row.auto_send = False
            lifecycle.move(
                row,
                ReplyStatus.DRAFT,
                action=ReplyAction.AUTO_SEND_REFUSED,
                by=SENDER,
                now=now,
                note=NEGATIVE_WAITS,
            )
            return None
        wait = limit_wait(session, row, config.limits_for(row.network), account=account, now=now)
        if wait is not None:
            row.next_attempt_at = wait.until
            if row.reason != wait.reason:
                row.reason = wait.reason
                lifecycle.record(
                    row,
                    ReplyAction.WAITING,
                    by=SENDER,
                    now=now,
                    note=f"{wait.reason}; can go at {wait.until:%Y-%m-%d %H:%M} UTC",
                )
            counts["waiting"] += 1
            return None
    if row.outgoing_text is None:
        row.outgoing_text = with_footer(row.text, config.brand(row.brand).footer)
    row.attempts += 1
    row.sending_at, row.account, row.reason = now, account, None
    row.lease_until = now + timedelta(seconds=config.lease_seconds)
    if row.status == ReplyStatus.SENDING:
        LOGGER.warning(
            "reply %d was left sending (lease ran out): looking for its post first", row.id
        )
    lifecycle.move(
        row,
        ReplyStatus.SENDING,
        action=ReplyAction.SENDING,
        by=SENDER,
        now=now,
        note=f"attempt {row.attempts} as {account}",
    )
    return Claim(
        reply_id=row.id,
        network=row.network,
        attempt=row.attempts,
        account=account,
        outgoing=outgoing(row),
        recovering=recovering,
        refusal=refusal,
        ours=frozenset(
            session.scalars(
                select(Reply.posted_id).where(_nearby(row), Reply.posted_id.is_not(None))
            )
        ),
        in_flight=frozenset(
            session.scalars(
                select(Reply.outgoing_text).where(
                    _nearby(row),
                    Reply.id != row.id,
                    Reply.sending_at.is_not(None),
                    Reply.posted_id.is_(None),
                    Reply.outgoing_text.is_not(None),
                )
            )
        ),
    )


def _nearby(row: Reply) -> ColumnElement[bool]:
    """Replies inspect may list beside ``row``'s target: those in its thread, and those to
    its author (Reddit lists the private messages to the author since the post, whatever
    they were about)."""
    return and_(
        Reply.network == row.network,
        or_(Reply.thread_id == row.thread_id, Reply.author_id == row.author_id),
    )


def refusal_of(session: Session, row: Reply) -> str | None:
    """Why ``row`` must not be posted, as far as the database knows, or None."""
    if row.mention.deleted_at is not None:
        return GONE["deleted"]
    return contact_refusal(session, row.author)


def _negative(row: Reply) -> bool:
    """Whether the mention the reply answers is labelled negative."""
    sentiment = row.mention.sentiment
    return sentiment is not None and sentiment.label == "negative"


def outgoing(row: Reply) -> Outgoing:
    """The reply exactly as the connector is to post it."""
    mention = row.mention
    return Outgoing(
        target=ReplyTarget(
            native_id=mention.native_id,
            thread_id=mention.thread_id,
            author_handle=mention.author.handle,
            locator=mention.locator,
            visibility=mention.visibility,
        ),
        text=row.outgoing_text or with_footer(row.text, None),
        idempotency_key=row.idempotency_key,
        private=row.private,
        subject=row.subject if row.private else "",
    )


def attempt(connector: Replyable, claim: Claim) -> Outcome:
    """Inspect the target and post the reply unless it is there already or must not go."""
    try:
        state = connector.inspect(claim.outgoing.target)
        if claim.recovering:
            for posted in state.account_replies:
                if same_text(posted.text, claim.outgoing.text):
                    LOGGER.warning(
                        "reply %d was already posted (%s): recorded, not posted again",
                        claim.reply_id,
                        posted.url,
                    )
                    return Outcome(posted=posted, recovered=True)
        if state.status != "open":
            return Outcome(skipped=_gone(state.status))
        if claim.refusal is not None:
            return Outcome(skipped=claim.refusal)
        for posted in state.account_replies:
            if posted.native_id in claim.ours or any(
                same_text(posted.text, text) for text in claim.in_flight
            ):
                continue
            return Outcome(skipped=f"a person already answered from {claim.account}: {posted.url}")
        return Outcome(posted=connector.reply(claim.outgoing))
    except TargetUnavailable as exc:
        # The network refused it for its target (closed or deleted since inspect read it):
        # nothing was posted, and trying again would not help.
        return Outcome(skipped=_gone(exc.reason))
    except ConnectorError as exc:
        return Outcome(error=exc)
    except Exception as exc:  # noqa: BLE001 - a connector bug must not leave the lease held
        LOGGER.exception("replying on %s raised an unexpected error", claim.network)
        return Outcome(error=TransientConnectorError(f"{type(exc).__name__}: {exc}"))


def _gone(status: str) -> str:
    """Why nothing can be posted under a target the network says is ``status``."""
    return GONE.get(status, f"the post is {status}")


def record(
    db: Database,
    claim: Claim,
    outcome: Outcome,
    config: EngagementConfig,
    *,
    now: datetime | None = None,
) -> None:
    """Store what an attempt came to, if this job still holds the reply's lease."""
    now = now or utcnow()
    with db.transaction() as session:
        row = session.scalar(
            select(Reply)
            .where(
                Reply.id == claim.reply_id,
                Reply.status == ReplyStatus.SENDING,
                Reply.attempts == claim.attempt,
            )
            .with_for_update()
        )
        if row is None:
            LOGGER.warning("reply %d: lease lost before its outcome was stored", claim.reply_id)
            return
        row.lease_until = None
        if outcome.posted is not None:
            _sent(session, row, outcome.posted, recovered=outcome.recovered, now=now)
        elif outcome.skipped is not None:
            row.reason, row.next_attempt_at = outcome.skipped, None
            lifecycle.move(
                row,
                ReplyStatus.SKIPPED,
                action=ReplyAction.SKIPPED,
                by=SENDER,
                now=now,
                note=outcome.skipped,
            )
            LOGGER.info("reply %d skipped: %s", row.id, outcome.skipped)
        else:
            assert outcome.error is not None
            _failed(row, outcome.error, config, now=now)


def _sent(session: Session, row: Reply, posted: Posted, *, recovered: bool, now: datetime) -> None:
    """Record the post, and resolve the reply's alert if that was asked."""
    row.posted_id, row.posted_url = posted.native_id, posted.url
    row.sent_at = posted.posted_at or now
    row.reason, row.next_attempt_at = None, None
    note = posted.url if not recovered else f"found already posted: {posted.url}"
    action = ReplyAction.RECORDED if recovered else ReplyAction.SENT
    lifecycle.move(row, ReplyStatus.SENT, action=action, by=SENDER, now=now, note=note)
    LOGGER.info("reply %d sent as %s: %s", row.id, row.account, posted.url)
    if not row.resolve_alert or row.alert_id is None:
        return
    alert = session.get(Alert, row.alert_id)
    if alert is None or alert.status == AlertStatus.RESOLVED:
        return
    alert_lifecycle.resolve(
        session,
        alert.id,
        by=row.approved_by or SENDER,
        now=now,
        note=f"answered by reply {row.id}: {posted.url}",
    )
    lifecycle.record(
        row,
        ReplyAction.ALERT_RESOLVED,
        by=row.approved_by or SENDER,
        now=now,
        note=f"alert {alert.id}",
    )


def _failed(row: Reply, error: ConnectorError, config: EngagementConfig, *, now: datetime) -> None:
    """Back to approved for a later attempt, or failed for good."""
    if isinstance(error, AuthenticationError):
        reason = f"the network refused the credentials: {error}"
        row.reason, row.next_attempt_at = reason, None
        lifecycle.move(
            row, ReplyStatus.FAILED, action=ReplyAction.FAILED, by=SENDER, now=now, note=reason
        )
        LOGGER.error("reply %d failed: %s", row.id, reason)
        return
    if isinstance(error, RateLimitedError):
        delay = error.retry_after
    elif row.attempts >= config.max_attempts:
        reason = f"gave up after {row.attempts} attempts: {error}"
        row.reason, row.next_attempt_at = reason, None
        lifecycle.move(
            row, ReplyStatus.FAILED, action=ReplyAction.FAILED, by=SENDER, now=now, note=reason
        )
        LOGGER.error("reply %d failed: %s", row.id, reason)
        return
    else:
        base = config.retry_base_seconds * 2 ** (row.attempts - 1)
        delay = min(base, config.retry_max_seconds) * random.uniform(0.8, 1.2)
    row.next_attempt_at = now + timedelta(seconds=delay)
    row.reason = (
        f"attempt {row.attempts} failed, retrying at {row.next_attempt_at:%H:%M} UTC: {error}"
    )
    lifecycle.move(
        row, ReplyStatus.APPROVED, action=ReplyAction.RETRYING, by=SENDER, now=now, note=row.reason
    )
    LOGGER.warning("reply %d: %s", row.id, row.reason)


def hold_for_dry_run(
    db: Database,
    accounts: Mapping[str, str],
    config: EngagementConfig,
    *,
    now: datetime,
) -> int:
    """Log what each due reply would be posted as, once, and post nothing; returns how many."""
    logged = 0
    with db.transaction() as session:
        rows = session.scalars(
            select(Reply)
            .where(_claimable(now), Reply.status == ReplyStatus.APPROVED)
            .order_by(Reply.id)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            if row.reason == DRY_RUN:
                continue
            text = row.outgoing_text or with_footer(row.text, config.brand(row.brand).footer)
            LOGGER.info(
                "dry run: reply %d would be posted as %s on %s to %s (%s): %r",
                row.id,
                accounts.get(row.network, "no replying connector"),
                row.network,
                row.mention.url,
                visibility(row),
                text,
            )
            row.reason = DRY_RUN
            logged += 1
    return logged


def visibility(row: Reply) -> str:
    """Who will see the reply: a private message to the author, or as many as the post."""
    if row.private:
        return f"private, to {row.author.handle} only"
    return f"{row.mention.visibility}, as the post"


@dataclass(frozen=True, slots=True)
class Preview:
    """What sending a reply now would do: what, where, as whom, and what would hold it."""

    reply_id: int
    status: str
    network: str
    account: str | None  # None: no configured connector replies on this network
    target_url: str
    visibility: str
    outgoing: Outgoing
    holds: str | None  # why it would not be posted now (a refusal, a limit), or None


def _not_sendable(row: Reply, account: str | None) -> str | None:
    """Why the send job would not take ``row`` at all (its status, no replying connector)."""
    if row.status == ReplyStatus.DRAFT:
        return "it is a draft; it goes once approved"
    if row.status in (ReplyStatus.SENT, ReplyStatus.REJECTED, ReplyStatus.SKIPPED):
        return f"it is {row.status}"
    if account is None:
        return f"no configured connector replies on {row.network}"
    return None


def preview(
    session: Session,
    reply_id: int,
    config: EngagementConfig,
    *,
    account: str | None,
    now: datetime | None = None,
) -> Preview:
    """What sending reply ``reply_id`` now would post, where and as whom; changes nothing."""
    now = now or utcnow()
    row = lifecycle.get(session, reply_id)
    holds = _not_sendable(row, account) or refusal_of(session, row)
    if holds is None and row.auto_send and _negative(row):
        holds = NEGATIVE_WAITS
    if holds is None:
        wait = limit_wait(session, row, config.limits_for(row.network), account=account, now=now)
        if wait is not None:
            holds = f"{wait.reason}; can go at {wait.until:%Y-%m-%d %H:%M} UTC"
    text = row.outgoing_text or with_footer(row.text, config.brand(row.brand).footer)
    found = outgoing(row)
    return Preview(
        reply_id=row.id,
        status=row.status,
        network=row.network,
        account=account,
        target_url=row.mention.url,
        visibility=visibility(row),
        outgoing=Outgoing(
            target=found.target,
            text=text,
            idempotency_key=found.idempotency_key,
            private=found.private,
            subject=found.subject,
        ),
        holds=holds,
    )
