"""Escalation helpers: run escalation over stored mentions and read the alerts back."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from connectors.base import Batch, Mention
from sentiment.lexicon import LexiconClassifier
from social_crm.alerts.escalation import Routing, escalate_pending
from social_crm.alerts.models import Alert
from social_crm.config import EscalationConfig
from social_crm.db import Database
from social_crm.mentions.classify import classify_pending
from social_crm.mentions.ingest import store_batch
from social_crm.mentions.models import MentionRecord

from .factories import POST_T0

TWO_LEVELS = Routing(levels=(("chat",), ("chat", "pager")), digest_at_most="low")
RULES = EscalationConfig(negative_threshold=0.6)


def escalate(
    db: Database,
    config: EscalationConfig | None = None,
    routing: Routing = TWO_LEVELS,
    now: datetime = POST_T0,
) -> list[Alert]:
    """Escalate the stored, scored mentions waiting for it, as of `now`."""
    with db.transaction() as session:
        return escalate_pending(session, config or EscalationConfig(), routing, now=now)


def alerts(db: Database) -> list[Alert]:
    """Every stored alert, newest first, with its mentions, authors and deliveries loaded."""
    with db.transaction() as session:
        return list(
            session.scalars(
                select(Alert)
                .options(
                    joinedload(Alert.first_mention).joinedload(MentionRecord.author),
                    joinedload(Alert.first_mention).joinedload(MentionRecord.sentiment),
                    joinedload(Alert.last_mention).joinedload(MentionRecord.author),
                    joinedload(Alert.deliveries),
                )
                .order_by(Alert.id.desc())
            ).unique()
        )


def ingest_and_escalate(db: Database, *mentions: Mention) -> list[int]:
    """Store, classify (with the lexicon) and escalate mentions to the team and chat channels."""
    with db.transaction() as session:
        store_batch(session, "reddit", "src", Batch(list(mentions), None))
        classify_pending(session, LexiconClassifier(), limit=100)
        return [a.id for a in escalate_pending(session, RULES, ["team", "chat"])]
