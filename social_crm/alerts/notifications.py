"""What the outbox sends for an alert: its row's message, built from the alert and its mentions.

The outbox (:mod:`social_crm.delivery.outbox`) knows nothing of alerts: it is handed
:func:`compose` and calls it for every row it claims. Every value that comes from a
mention is made safe here, once (:mod:`social_crm.delivery.safe`); the message escapes it
for each channel's format when it is rendered. With ``web.base_url`` configured, messages
link to the alert in the web interface.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from social_crm.alerts.enums import AlertKind, AlertStatus
from social_crm.alerts.models import Alert
from social_crm.delivery.enums import DeliveryKind
from social_crm.delivery.messages import (
    TOP_POST_LIMIT,
    AlertMessage,
    DigestItem,
    DigestMessage,
    Message,
)
from social_crm.delivery.models import Delivery
from social_crm.delivery.safe import POST_LIMIT, one_line, post_text, safe_link
from social_crm.mentions.models import AuthorRecord, MentionRecord

# What an alert's message reads, loaded with the alert in one query.
MESSAGE_LOADS = (
    joinedload(Alert.first_mention)
    .joinedload(MentionRecord.author)
    .joinedload(AuthorRecord.customer),
    joinedload(Alert.first_mention).joinedload(MentionRecord.sentiment),
    joinedload(Alert.last_mention).joinedload(MentionRecord.author),
)


def withheld(visibility: str | None, *, private_channel: bool) -> bool:
    """Whether a post of ``visibility`` must not be quoted into the channel.

    Followers-only ("private"), direct and unknown audiences are quoted only into channels
    the configuration marks private; elsewhere the message references the post.
    """
    return not private_channel and (visibility or "public") not in {"public", "unlisted"}


def compose(
    session: Session,
    row: Delivery,
    *,
    base_url: str | None = None,
    private_channels: Collection[str] = (),
) -> Message:
    """The message of one outbox row: its alert at its level, or its digest.

    Followers-only and direct posts are quoted only for the ``private_channels`` (names).
    """
    private = row.channel in private_channels
    if row.kind == DeliveryKind.DIGEST:
        alerts = session.scalars(
            select(Alert)
            .join(Delivery, Delivery.alert_id == Alert.id)
            .where(Delivery.digest_id == row.id)
            .options(joinedload(Alert.first_mention).joinedload(MentionRecord.author))
            .order_by(Alert.id)
        ).unique()
        return DigestMessage(
            channel=row.channel,
            period=row.idempotency_key.rsplit("-", 1)[-1],
            items=tuple(
                digest_item(alert, base_url=base_url, private_channel=private) for alert in alerts
            ),
            idempotency_key=row.idempotency_key,
            alerts_url=f"{base_url}/alerts?status={AlertStatus.OPEN}" if base_url else "",
        )
    alert = session.get(Alert, row.alert_id, options=MESSAGE_LOADS)
    assert alert is not None, "an alert delivery always has its alert"
    return alert_message(
        alert,
        level=row.level,
        idempotency_key=row.idempotency_key,
        base_url=base_url,
        private_channel=private,
    )


def alert_url(alert_id: int, base_url: str | None) -> str:
    """The alert's page in the web interface; "" without ``web.base_url``."""
    return f"{base_url}/alerts/{alert_id}" if base_url else ""


def alert_message(
    alert: Alert,
    *,
    level: int = 0,
    idempotency_key: str = "",
    base_url: str | None = None,
    private_channel: bool = False,
) -> AlertMessage:
    """Read the alert, its first and latest mentions; untrusted text is made safe here.

    Posts that are not public are not quoted unless ``private_channel``: see withheld().
    """
    common: dict[str, Any] = {
        "alert_id": alert.id,
        "kind": alert.kind,
        "brand": one_line(alert.brand),
        "status": alert.status,
        "reason": one_line(alert.reason, limit=300),
        "opened_at": alert.opened_at.isoformat(),
        "severity": alert.severity,
        "rule": alert.rule,
        "level": level,
        "mention_count": alert.mention_count,
        "assignee": one_line(alert.assignee) if alert.assignee else None,
        "idempotency_key": idempotency_key,
        "alert_url": alert_url(alert.id, base_url),
        "status_url": f"{base_url}/status" if base_url and alert.kind == AlertKind.HEALTH else "",
    }
    last = alert.last_mention
    if last is not None and last.id != alert.first_mention_id:
        common.update(
            last_url=safe_link(last.url),
            last_author=one_line(last.author.handle),
            last_text=_quoted(last, private_channel, limit=TOP_POST_LIMIT),
            last_at=last.created_at.isoformat(),
        )
    details = alert.details or {}
    if alert.kind == AlertKind.MENTION and details.get("reopens"):
        common["reopens"] = int(details["reopens"])
        common["reopens_note"] = one_line(
            f"resolved by {details.get('resolved_by') or 'someone'}"
            + (f" at {details['resolved_at']}" if details.get("resolved_at") else "")
        )
    if alert.kind == AlertKind.CRISIS:
        common["top_posts"] = tuple(
            _top_post(post, private_channel=private_channel) for post in details.get("top", [])
        )
    mention = alert.first_mention
    if mention is None:
        return AlertMessage(
            **common,
            network="",
            url="",
            author="",
            customer=None,
            customer_tier=None,
            text=common["reason"],
            sentiment="",
            confidence=0.0,
        )
    customer = mention.author.customer
    sentiment = mention.sentiment
    return AlertMessage(
        **common,
        network=one_line(mention.network),
        url=safe_link(mention.url),
        author=one_line(mention.author.handle),
        customer=one_line(customer.name) if customer else None,
        customer_tier=one_line(customer.tier) if customer and customer.tier else None,
        text=_quoted(mention, private_channel),
        visibility=mention.visibility,
        sentiment=sentiment.label if sentiment else "unknown",
        confidence=round(sentiment.confidence, 3) if sentiment else 0.0,
    )


def digest_item(
    alert: Alert, *, base_url: str | None = None, private_channel: bool = False
) -> DigestItem:
    """The line a digest shows for ``alert``."""
    message = alert_message(alert)
    mention = alert.first_mention
    return DigestItem(
        alert_id=alert.id,
        severity=alert.severity,
        subject=message.subject,
        url=message.url,
        text=_quoted(mention, private_channel, limit=TOP_POST_LIMIT) if mention else message.reason,
        mention_count=alert.mention_count,
        opened_at=message.opened_at,
        alert_url=alert_url(alert.id, base_url),
    )


def _top_post(post: dict[str, Any], *, private_channel: bool) -> dict[str, Any]:
    """One of a crisis alert's most seen posts, made safe."""
    visibility = str(post.get("visibility") or "public")
    text = (
        _withheld_note(visibility)
        if withheld(visibility, private_channel=private_channel)
        else post_text(str(post.get("text", "")), limit=TOP_POST_LIMIT, url=post.get("url"))
    )
    return {
        "author": one_line(str(post.get("author", ""))),
        "reach": int(post.get("reach", 0)),
        "url": safe_link(str(post.get("url", ""))),
        "text": text,
    }


def _quoted(mention: MentionRecord, private_channel: bool, *, limit: int = POST_LIMIT) -> str:
    """The mention's text as a message quotes it, or a note where it must not be quoted."""
    if withheld(mention.visibility, private_channel=private_channel):
        return _withheld_note(mention.visibility)
    return post_text(mention.text, limit=limit, url=mention.url)


def _withheld_note(visibility: str) -> str:
    """What a message says in place of a post that is not public."""
    audience = "followers-only" if visibility == "private" else one_line(visibility)
    return f"({audience} post: not quoted in this channel; open the link to read it)"
