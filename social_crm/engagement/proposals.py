"""Proposal rules: which mentions get a draft reply, from which template, in which language.

A rule (``engagement.rules``, see :class:`social_crm.config.ProposalRule`) lists
conditions and a situation; the FIRST rule whose conditions all hold proposes the brand's
template for that situation in the post's language (else in the brand's default
language). Each mention is looked at once (``reply_scans``), after escalation has looked
at it, so the draft is tied to the alert the mention raised. No draft is proposed for a
deleted mention, one older than ``engagement.propose_max_age_hours``, one written from the
brand's own account, or one whose author is not to be contacted. A template marked
``auto_send`` is approved as it is proposed, except for a negative mention: that draft
waits for a person.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, insert, select
from sqlalchemy.orm import Session

from social_crm.alerts.rules import keyword_pattern
from social_crm.ambassadors.enums import ReviewStatus
from social_crm.ambassadors.models import AmbassadorReview
from social_crm.config import Brand, EngagementConfig, ProposalRule
from social_crm.db.base import utcnow
from social_crm.engagement import lifecycle, templates
from social_crm.engagement.enums import ReplyAction, ReplyStatus
from social_crm.engagement.guards import NEGATIVE_WAITS, contact_refusal
from social_crm.engagement.models import Reply, ReplyScan
from social_crm.mentions.models import MentionRecord, SentimentRecord, with_authors

LOGGER = logging.getLogger(__name__)

# Who an automatic approval is recorded as.
AUTO_SEND = "auto-send"


@dataclass(frozen=True, slots=True)
class Facts:
    """What proposal rules look at, read from a stored mention and its author."""

    label: str
    confidence: float
    is_customer: bool
    tier: str | None
    ambassador: bool
    question: bool
    text: str
    brand: str
    network: str


def matches(rule: ProposalRule, facts: Facts) -> bool:
    """True when every condition ``rule`` sets holds for ``facts``."""
    return (
        facts.label in rule.sentiment
        and (rule.min_confidence is None or facts.confidence >= rule.min_confidence)
        and (rule.customer is None or facts.is_customer == rule.customer)
        and (not rule.tiers or facts.tier in rule.tiers)
        and (rule.ambassador is None or facts.ambassador == rule.ambassador)
        and (rule.question is None or facts.question == rule.question)
        and (not rule.brands or facts.brand in rule.brands)
        and (not rule.networks or facts.network in rule.networks)
        and (not rule.keywords or any(keyword_pattern(k).search(facts.text) for k in rule.keywords))
    )


def propose_pending(
    session: Session,
    config: EngagementConfig,
    brands: Sequence[Brand],
    *,
    now: datetime | None = None,
    limit: int = 500,
) -> list[Reply]:
    """Look at the escalated mentions the rules have not seen; returns the drafts proposed."""
    if not config.rules:
        return []
    now = now or utcnow()
    oldest = now - timedelta(hours=config.propose_max_age_hours)
    claimed = session.execute(
        select(MentionRecord.id, SentimentRecord.label)
        .outerjoin(SentimentRecord)
        .where(
            # Older mentions get no proposal: leaving them out keeps each pass to the recent
            # mentions (ix_mentions_created_at), not every mention ever stored.
            MentionRecord.created_at >= oldest,
            MentionRecord.escalated_at.is_not(None),
            ~exists().where(ReplyScan.mention_id == MentionRecord.id),
        )
        .order_by(MentionRecord.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=MentionRecord)
    ).all()
    by_name = {brand.name: brand for brand in brands}
    if claimed:  # each looked at once: one multi-row INSERT for the whole batch
        session.execute(
            insert(ReplyScan),
            [{"mention_id": mention_id, "scanned_at": now} for mention_id, _ in claimed],
        )
    # A rule matches only mentions of its sentiments: only those are read whole, with
    # their authors.
    labels = {label for rule in config.rules for label in rule.sentiment}
    wanted = [mention_id for mention_id, label in claimed if label in labels]
    proposed = []
    for mention in with_authors(session, wanted):
        if (
            mention.deleted_at is not None
            or _own(by_name.get(mention.brand), mention)
            or contact_refusal(session, mention.author) is not None
        ):
            continue
        reply = _propose(session, config, mention, now=now)
        if reply is not None:
            proposed.append(reply)
    session.flush()
    return proposed


def _own(brand: Brand | None, mention: MentionRecord) -> bool:
    """Whether the mention was written from the brand's own account: it gets no reply."""
    return brand is not None and brand.owns(mention.network, mention.author.handle)


def facts_of(session: Session, mention: MentionRecord) -> Facts | None:
    """The facts of a classified mention; None when it has no sentiment."""
    sentiment = mention.sentiment
    if sentiment is None:
        return None
    customer = mention.author.customer
    review = session.get(AmbassadorReview, mention.author_id)
    return Facts(
        label=sentiment.label,
        confidence=sentiment.confidence,
        is_customer=customer is not None,
        tier=(customer.tier or "").strip().lower() or None if customer else None,
        ambassador=review is not None and review.status == ReviewStatus.APPROVED,
        question="?" in mention.text,
        text=mention.text,
        brand=mention.brand.lower(),
        network=mention.network.lower(),
    )


def _propose(
    session: Session, config: EngagementConfig, mention: MentionRecord, *, now: datetime
) -> Reply | None:
    """The draft the first matching rule proposes for ``mention``, if any."""
    facts = facts_of(session, mention)
    rule = next((r for r in config.rules if matches(r, facts)), None) if facts else None
    if rule is None or facts is None:
        return None
    template = templates.pick(
        config, brand=mention.brand, situation=rule.situation, language=mention.language
    )
    if template is None:
        LOGGER.info(
            "rule %s matched mention %d, but %s has no %s template",
            rule.name,
            mention.id,
            mention.brand,
            rule.situation,
        )
        return None
    taken = session.scalar(
        select(Reply.id).where(
            Reply.mention_id == mention.id,
            Reply.template == template.name,
            Reply.rule.is_not(None),
        )
    )
    if taken is not None:
        return None
    values = templates.variables(config, mention)
    reply = lifecycle.new_reply(
        session,
        mention,
        text=templates.render(template.text, values),
        situation=template.situation,
        language=template.language,
        by=f"rule:{rule.name}",
        now=now,
        template=template,
        private=template.private,
        subject=templates.render(template.subject, values),
        rule=rule.name,
    )
    session.flush()
    if template.auto_send:
        if facts.label == "negative":
            lifecycle.record(
                reply,
                ReplyAction.AUTO_SEND_REFUSED,
                by=AUTO_SEND,
                now=now,
                note=NEGATIVE_WAITS,
            )
        else:
            reply.approved_by, reply.approved_at = AUTO_SEND, now
            reply.auto_send, reply.next_attempt_at = True, now
            lifecycle.move(
                reply,
                ReplyStatus.APPROVED,
                action=ReplyAction.APPROVED,
                by=AUTO_SEND,
                now=now,
                note=f"template {template.name} is marked auto_send",
            )
    LOGGER.info(
        "reply %d proposed for mention %d by rule %s (%s, %s)",
        reply.id,
        mention.id,
        rule.name,
        template.name,
        reply.status,
    )
    return reply
