"""Label stored mentions that have no sentiment yet, a batch at a time."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from sentiment import Classifier
from social_crm.models import MentionRecord, SentimentRecord

LOGGER = logging.getLogger(__name__)


def classify_pending(session: Session, classifier: Classifier, *, limit: int) -> int:
    """Classify up to ``limit`` unlabelled mentions, oldest first; returns how many."""
    mentions = session.scalars(
        select(MentionRecord)
        .outerjoin(SentimentRecord)
        .where(SentimentRecord.mention_id.is_(None))
        .order_by(MentionRecord.id)
        .limit(limit)
    ).all()
    if not mentions:
        return 0
    for mention, sentiment in zip(
        mentions, classifier.classify([m.text for m in mentions]), strict=True
    ):
        session.add(
            SentimentRecord(
                mention_id=mention.id,
                label=sentiment.label,
                confidence=sentiment.confidence,
                negative=sentiment.scores["negative"],
                neutral=sentiment.scores["neutral"],
                positive=sentiment.scores["positive"],
                model=classifier.name,
            )
        )
    session.flush()
    return len(mentions)
