"""Sentiment: the Classifier interface and the classifiers behind it."""

from __future__ import annotations

import os

from sentiment.base import LABELS, Classifier, ModelError, Sentiment

__all__ = [
    "DEFAULT_MODEL",
    "LABELS",
    "Classifier",
    "ModelError",
    "Sentiment",
    "default_classifier",
    "load_classifier",
]

# The fine-tuned MiniLM shipped in sentiment/model for English, and the fine-tuned
# multilingual-e5-small in sentiment/model/e5 for every other language.
DEFAULT_MODEL = "default"
# The multilingual model alone, for posts in every language.
MULTILINGUAL_MODEL = "multilingual"
# English posts the MiniLM labels with less confidence than this go to the multilingual
# model. Chosen on the selection half of TweetEval val as the highest macro-recall that
# keeps the English route 10 % above 20 times roberta-base's speed: 22 % of the tweets go
# on, macro-recall 0.753 (MiniLM alone 0.730, e5 alone 0.783; at 0.6, 30 % and 0.763, but
# about 20 times roberta-base only).
ENGLISH_SECOND_OPINION_BELOW = 0.55


def load_classifier(
    model: str, *, batch_size: int = 32, uncertain_below: float = 0.5, threads: int | None = None
) -> Classifier:
    """``default``, ``multilingual``, ``lexicon`` (VADER) or a transformers model, behind
    language detection.

    ``default`` routes English and undetected posts to the bundled MiniLM, which hands the
    posts it is unsure of to the fine-tuned multilingual-e5-small, and every other language
    to that e5 (see sentiment.routing); ``multilingual`` sends every post to the e5; any
    other choice labels every post itself. Results carry the detected language and are
    flagged ``uncertain`` when their top score is below ``uncertain_below``. ``threads``:
    the bundled models' inference threads (default: one per core); several processes on
    one machine each take a share of its cores. Heavy
    libraries load here, not at import time. Raises ModelError when the model cannot be loaded.
    """
    from sentiment.routing import RoutedClassifier

    if model == DEFAULT_MODEL:
        return default_classifier(
            batch_size=batch_size, uncertain_below=uncertain_below, threads=threads
        )
    if model == MULTILINGUAL_MODEL:
        from sentiment.e5 import E5Classifier

        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        english: Classifier = E5Classifier(threads=threads)
    elif model == "lexicon":
        from sentiment.lexicon import LexiconClassifier

        english = LexiconClassifier()
    else:
        from sentiment.transformer import TransformerClassifier

        english = TransformerClassifier(model, batch_size=batch_size)
    return RoutedClassifier(english, uncertain_below=uncertain_below)


def default_classifier(
    *,
    batch_size: int = 32,
    uncertain_below: float = 0.5,
    backend: str | None = None,
    threads: int | None = None,
) -> Classifier:
    """The ``default`` model: the MiniLM (run by ``backend``) with the e5's second opinion
    for English and undetected posts, the e5 for every other language."""
    # OpenMP threads sleep while they wait instead of spinning: on a busy machine
    # spinning made the models several times slower.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from sentiment.e5 import E5Classifier
    from sentiment.minilm import DEFAULT_BACKEND, DefaultClassifier
    from sentiment.routing import RoutedClassifier, SecondOpinion

    multilingual = E5Classifier(threads=threads)
    english_route = SecondOpinion(
        DefaultClassifier(
            batch_size=batch_size, backend=backend or DEFAULT_BACKEND, threads=threads
        ),
        multilingual,
        below=ENGLISH_SECOND_OPINION_BELOW,
    )
    return RoutedClassifier(english_route, multilingual, uncertain_below=uncertain_below)
