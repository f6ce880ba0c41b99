"""The classify job: the sentiment of every stored mention not classified yet."""

from __future__ import annotations

import time

from social_crm.jobs.context import JobContext
from social_crm.mentions.classify import classify_pending


def classify(ctx: JobContext) -> int:
    """Classify pending mentions a batch per transaction; returns how many were classified."""
    assert ctx.classifier is not None, "the daemon loads the classifier at start-up"
    classified = 0
    while not ctx.stop.is_set():
        began = time.perf_counter()
        with ctx.db.transaction() as session:
            done = classify_pending(
                session, ctx.classifier, limit=ctx.settings.sentiment.batch_size
            )
        if done:
            ctx.metrics.classification_seconds.observe(time.perf_counter() - began)
            ctx.metrics.mentions_classified.inc(done)
        classified += done
        if done == 0:
            break
    return classified
