"""VADER, the rule-based English lexicon: fast, offline, no model files; weak on Dutch."""

from __future__ import annotations

from collections.abc import Sequence

from sentiment.base import Sentiment
from sentiment.text import clean_text

# VADER's own convention: compound at or beyond +-0.05 is positive or negative.
THRESHOLD = 0.05


class LexiconClassifier:
    """Labels texts with VADER's compound score; scores are a heuristic, not calibrated."""

    name = "lexicon:vader-3.3.2"

    def __init__(self) -> None:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        self._analyzer = SentimentIntensityAnalyzer()

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        """One Sentiment per text."""
        return [self._one(clean_text(text)) for text in texts]

    def _one(self, text: str) -> Sentiment:
        polarity = self._analyzer.polarity_scores(text)
        compound = polarity["compound"]
        if compound >= THRESHOLD:
            return _spread("positive", 0.5 + 0.5 * compound, polarity)
        if compound <= -THRESHOLD:
            return _spread("negative", 0.5 + 0.5 * -compound, polarity)
        return _spread("neutral", 0.5 + 0.4 * polarity["neu"], polarity)


def _spread(label: str, confidence: float, polarity: dict[str, float]) -> Sentiment:
    """The label gets ``confidence``; the rest is shared by the other two in VADER's proportions."""
    others = [name for name in ("negative", "neutral", "positive") if name != label]
    weights = {"negative": polarity["neg"], "neutral": polarity["neu"], "positive": polarity["pos"]}
    total = sum(weights[name] for name in others)
    rest = 1.0 - confidence
    scores = {label: confidence}
    for name in others:
        scores[name] = rest * (weights[name] / total if total else 0.5)
    return Sentiment(label=label, scores=scores)
