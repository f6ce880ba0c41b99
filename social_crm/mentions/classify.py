"""Label stored mentions that have no sentiment yet, a batch at a time."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from sentiment import LABELS, Classifier, Sentiment
from social_crm.db import insert_ignoring_duplicates
from social_crm.mentions.models import MentionRecord, SentimentRecord


def classify_pending(session: Session, classifier: Classifier, *, limit: int) -> int:
    """Classify up to ``limit`` unlabelled mentions, oldest first; returns how many.

    Each label is stored with its scores, the model that gave it and its ``uncertain``
    flag; the detected language is stored on the mention (a language the network gave
    is kept where none was detected).

    Several daemons share the work: the mentions are claimed with ``FOR UPDATE SKIP
    LOCKED`` in the transaction that stores their labels, so each daemon classifies
    others. A mention labelled by another daemon between this one's snapshot and its claim
    can still be claimed (PostgreSQL re-checks only the locked row, not the labels), so the
    labels go in with ON CONFLICT DO NOTHING: the first label stays, nothing fails.
    """
    labelled = exists().where(SentimentRecord.mention_id == MentionRecord.id)
    mentions = session.execute(
        select(MentionRecord.id, MentionRecord.text, MentionRecord.language)
        .where(
            # Escalation marks only labelled mentions, so every unlabelled one is among those
            # it has not looked at: the pipeline's backlog, which ix_mentions_unescalated
            # holds in this order. The claim reads the backlog, not every mention stored.
            MentionRecord.escalated_at.is_(None),
            ~labelled,
            # Their text is gone for good (erased, or cleared by retention): nothing to read.
            MentionRecord.erased_at.is_(None),
            MentionRecord.expired_at.is_(None),
        )
        .order_by(MentionRecord.created_at, MentionRecord.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=MentionRecord)
    ).all()
    if not mentions:
        return 0
    rows = []
    detected = []
    for (mention_id, _text, language), sentiment in zip(
        mentions, classifier.classify([m.text for m in mentions]), strict=True
    ):
        if sentiment.language and sentiment.language != language:
            detected.append({"id": mention_id, "language": sentiment.language})
        rows.append(
            {
                "mention_id": mention_id,
                "label": sentiment.label,
                "confidence": sentiment.confidence,
                "negative": sentiment.scores["negative"],
                "neutral": sentiment.scores["neutral"],
                "positive": sentiment.scores["positive"],
                "model": sentiment.model or classifier.name,
                "uncertain": sentiment.uncertain,
            }
        )
    if detected:
        session.execute(update(MentionRecord), detected)
    session.execute(insert_ignoring_duplicates(session, SentimentRecord), rows)
    session.flush()
    return len(mentions)


def classify_stream(
    classifier: Classifier, texts: Iterable[str], *, batch_size: int
) -> Iterator[tuple[str, Sentiment]]:
    """Each text with its Sentiment, in order, classifying ``batch_size`` texts at a time."""
    for batch in batched(texts, batch_size):
        yield from zip(batch, classifier.classify(batch), strict=True)


def as_json_line(text: str, sentiment: Sentiment) -> str:
    """One JSON object: text, label, scores, language, uncertain (lone surrogates escaped)."""
    line = json.dumps(
        {
            "text": text,
            "label": sentiment.label,
            "scores": {label: round(sentiment.scores[label], 4) for label in LABELS},
            "language": sentiment.language,
            "uncertain": sentiment.uncertain,
        },
        ensure_ascii=False,
    )
    # A lone surrogate cannot be written as UTF-8; as the escape \udXXX it stays valid JSON.
    return line.encode("utf-8", "backslashreplace").decode("utf-8")


def batched(items: Iterable[str], size: int) -> Iterator[list[str]]:
    """Lists of up to ``size`` consecutive items."""
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
