"""Everything stored about one person, as one JSON document (a subject access request).

The document's keys are stable; ``schema_version`` changes when one is renamed or removed.
Times are ISO 8601 in UTC; absent values are null.

- ``schema`` ("social-crm.privacy-export"), ``schema_version`` (1), ``exported_at``,
  ``subject``: {``network``, ``handle``}
- ``author``: the profile as collected (``network``, ``handle``, ``display_name``, ``url``,
  ``followers``, ``bot``, ``profile``, ``customer`` (the CRM id it is linked to),
  ``linked_by``, ``linked_at``, ``link_evidence``, ``do_not_contact``: {``at``, ``by``}
  or null), or null
- ``identities``: their handles in the CRM (``network``, ``handle``, ``source``,
  ``customer``)
- ``customers``: the CRM customers they are tied to (``id``, ``name``, ``email``,
  ``tier``, ``status``, ``website``, ``created_at``, ``updated_at``,
  ``ambassador_opt_out_at``, ``do_not_contact``, ``identities``)
- ``mentions``: what they posted (``id``, ``brand``, ``network``, ``native_id``, ``url``,
  ``text``, ``language``, ``visibility``, ``kind``, ``thread_id``, ``parent_id``,
  ``community``, ``reach``, ``created_at``, ``collected_at``, ``edited_at``,
  ``deleted_at``, ``expired_at``, ``sentiment``: {``label``, ``confidence``,
  ``scores``, ``uncertain``, ``model``, ``classified_at``} or null)
- ``alerts``: the alerts about them (``id``, ``kind``, ``status``, ``severity``,
  ``brand``, ``reason``, ``opened_at``, ``acknowledged_at``, ``resolved_at``,
  ``mention_ids``)
- ``link_suggestions``: (``id``, ``customer``, ``confidence``, ``evidence``, ``status``,
  ``created_at``, ``decided_by``, ``decided_at``)
- ``ambassador``: {``score``, ``components``, ``computed_at``, ``review``: {``status``,
  ``reviewed_by``, ``note``, ``reviewed_at``} or null} or null
- ``replies``: the brand's replies to them (``id``, ``mention_id``, ``status``, ``text``,
  ``outgoing_text``, ``private``, ``subject``, ``created_by``, ``created_at``,
  ``approved_by``, ``approved_at``, ``sent_at``, ``posted_id``, ``posted_url``,
  ``reason``, ``history``: [{``at``, ``by``, ``action``, ``note``}])
- ``erasures``: earlier erasures of this handle (``id``, ``erased_at``, ``erased_by``)
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from social_crm.customers.models import Customer
from social_crm.db.base import utcnow
from social_crm.engagement.models import Reply
from social_crm.mentions.models import MentionRecord
from social_crm.privacy.erasure import past_erasures
from social_crm.privacy.subject import chunks, find_held, subject, top_posts

LOGGER = logging.getLogger(__name__)

SCHEMA = "social-crm.privacy-export"
SCHEMA_VERSION = 1


def export_person(
    session: Session, network: str, handle: str, *, now: datetime | None = None
) -> dict[str, Any] | None:
    """The document of everything stored about ``handle`` on ``network``; None if nothing."""
    person = subject(network, handle)
    held = find_held(session, person)
    erasures = past_erasures(session, person)
    if held.empty and not erasures:
        return None
    author = held.author
    mentions = _mentions(session, held.mention_ids)
    mine = set(held.mention_ids)
    customer_ids = {identity.customer_id for identity in held.identities}
    if author is not None and author.customer_id is not None:
        customer_ids.add(author.customer_id)
    customers = {
        customer.id: customer
        for customer in session.scalars(
            select(Customer)
            .where(Customer.id.in_(sorted(customer_ids)))
            .options(selectinload(Customer.identities))
            .order_by(Customer.external_id)
        )
    }
    replies = session.scalars(
        select(Reply)
        .where(Reply.id.in_([reply.id for reply in held.replies]))
        .options(selectinload(Reply.events))
        .order_by(Reply.id)
    ).all()
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "exported_at": _time(now or utcnow()),
        "subject": {"network": person.network, "handle": person.handle},
        "author": None
        if author is None
        else {
            "network": author.network,
            "handle": author.handle,
            "display_name": author.display_name,
            "url": author.url,
            "followers": author.followers,
            "bot": author.bot,
            "profile": author.profile,
            "customer": _external_id(customers, author.customer_id),
            "linked_by": author.linked_by,
            "linked_at": _time(author.linked_at),
            "link_evidence": author.link_evidence,
            "do_not_contact": _flag(author.do_not_contact_at, author.do_not_contact_by),
        },
        "identities": [
            {
                "network": identity.network,
                "handle": identity.handle,
                "source": identity.source,
                "customer": _external_id(customers, identity.customer_id),
            }
            for identity in held.identities
        ],
        "customers": [_customer(customer) for customer in customers.values()],
        "mentions": [_mention(mention) for mention in mentions],
        "alerts": [
            {
                "id": alert.id,
                "kind": alert.kind,
                "status": alert.status,
                "severity": alert.severity,
                "brand": alert.brand,
                "reason": alert.reason,
                "opened_at": _time(alert.opened_at),
                "acknowledged_at": _time(alert.acknowledged_at),
                "resolved_at": _time(alert.resolved_at),
                "mention_ids": sorted(
                    (
                        {alert.first_mention_id, alert.last_mention_id}
                        | {post.get("mention_id") for post in top_posts(alert)}
                    )
                    & mine
                ),
            }
            for alert in held.alerts
        ],
        "link_suggestions": [
            {
                "id": suggestion.id,
                "customer": suggestion.customer.external_id,
                "confidence": suggestion.confidence,
                "evidence": suggestion.evidence,
                "status": suggestion.status,
                "created_at": _time(suggestion.created_at),
                "decided_by": suggestion.decided_by,
                "decided_at": _time(suggestion.decided_at),
            }
            for suggestion in held.suggestions
        ],
        "ambassador": None
        if held.score is None and held.review is None
        else {
            "score": held.score.score if held.score else None,
            "components": held.score.components if held.score else None,
            "computed_at": _time(held.score.computed_at) if held.score else None,
            "review": None
            if held.review is None
            else {
                "status": held.review.status,
                "reviewed_by": held.review.reviewed_by,
                "note": held.review.note,
                "reviewed_at": _time(held.review.reviewed_at),
            },
        },
        "replies": [_reply(reply) for reply in replies],
        "erasures": [
            {"id": past.id, "erased_at": _time(past.erased_at), "erased_by": past.erased_by}
            for past in erasures
        ],
    }


def _mentions(session: Session, ids: list[int]) -> list[MentionRecord]:
    """The mentions with their sentiment, in the order given."""
    found: dict[int, MentionRecord] = {}
    for part in chunks(ids):
        for mention in session.scalars(
            select(MentionRecord)
            .where(MentionRecord.id.in_(part))
            .options(selectinload(MentionRecord.sentiment))
        ):
            found[mention.id] = mention
    return [found[mention_id] for mention_id in ids]


def _mention(mention: MentionRecord) -> dict[str, Any]:
    sentiment = mention.sentiment
    return {
        "id": mention.id,
        "brand": mention.brand,
        "network": mention.network,
        "native_id": mention.native_id,
        "url": mention.url,
        "text": mention.text,
        "language": mention.language,
        "visibility": mention.visibility,
        "kind": mention.kind,
        "thread_id": mention.thread_id,
        "parent_id": mention.parent_id,
        "community": mention.community,
        "reach": mention.reach,
        "created_at": _time(mention.created_at),
        "collected_at": _time(mention.ingested_at),
        "edited_at": _time(mention.edited_at),
        "deleted_at": _time(mention.deleted_at),
        "expired_at": _time(mention.expired_at),
        "sentiment": None
        if sentiment is None
        else {
            "label": sentiment.label,
            "confidence": sentiment.confidence,
            "scores": {
                "negative": sentiment.negative,
                "neutral": sentiment.neutral,
                "positive": sentiment.positive,
            },
            "uncertain": sentiment.uncertain,
            "model": sentiment.model,
            "classified_at": _time(sentiment.classified_at),
        },
    }


def _customer(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.external_id,
        "name": customer.name,
        "email": customer.email,
        "tier": customer.tier,
        "status": customer.status,
        "website": customer.website,
        "created_at": _time(customer.created_at),
        "updated_at": _time(customer.updated_at),
        "ambassador_opt_out_at": _time(customer.opted_out_at),
        "do_not_contact": _flag(customer.do_not_contact_at, customer.do_not_contact_by),
        "identities": [
            {"network": identity.network, "handle": identity.handle, "source": identity.source}
            for identity in sorted(customer.identities, key=lambda i: (i.network, i.handle))
        ],
    }


def _reply(reply: Reply) -> dict[str, Any]:
    return {
        "id": reply.id,
        "mention_id": reply.mention_id,
        "status": reply.status,
        "text": reply.text,
        "outgoing_text": reply.outgoing_text,
        "private": reply.private,
        "subject": reply.subject,
        "created_by": reply.created_by,
        "created_at": _time(reply.created_at),
        "approved_by": reply.approved_by,
        "approved_at": _time(reply.approved_at),
        "sent_at": _time(reply.sent_at),
        "posted_id": reply.posted_id,
        "posted_url": reply.posted_url,
        "reason": reply.reason,
        "history": [
            {"at": _time(event.at), "by": event.by, "action": event.action, "note": event.note}
            for event in reply.events
        ],
    }


def _flag(at: datetime | None, by: str | None) -> dict[str, Any] | None:
    """A do-not-contact flag, or None when not set."""
    return {"at": _time(at), "by": by} if at is not None else None


def _external_id(customers: dict[int, Customer], customer_id: int | None) -> str | None:
    customer = customers.get(customer_id) if customer_id is not None else None
    return customer.external_id if customer is not None else None


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
