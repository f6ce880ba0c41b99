"""The default sentiment model: the bundled MiniLM adapter, loaded offline."""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Iterator

import pytest

from sentiment import LABELS, load_classifier
from sentiment.base import Classifier
from sentiment.training.metrics import (
    confusion_matrix,
    expected_calibration_error,
    fit_temperature,
    macro_recall,
)

from .odd_texts import ODD_TEXTS


@pytest.fixture(scope="module")
def classifier() -> Iterator[Classifier]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        patch.setenv("TRANSFORMERS_OFFLINE", "1")
        yield load_classifier("default", batch_size=4)


def test_the_default_model_loads_offline_with_its_metadata(classifier: Classifier) -> None:
    from sentiment.e5 import E5Classifier
    from sentiment.minilm import DefaultClassifier
    from sentiment.routing import RoutedClassifier, SecondOpinion

    assert isinstance(classifier, Classifier)
    # English (and undetected) posts go to the MiniLM, which hands the posts it is unsure
    # of to the multilingual e5; every other language goes to the e5.
    assert isinstance(classifier, RoutedClassifier)
    route = classifier.english
    assert isinstance(route, SecondOpinion) and isinstance(route.second, E5Classifier)
    assert route.second is classifier.multilingual
    english = route.first
    assert isinstance(english, DefaultClassifier)
    assert english.name.startswith("default:minilm-l6-lora-")
    assert classifier.name == f"{english.name}>{route.second.name}"  # the e5 named once
    assert english.metadata["labels"] == list(LABELS)
    assert 0.2 < english.temperature < 5.0
    assert english.max_length == 64
    # The committed adapter must be the one that passed the bar on TweetEval val.
    assert english.metadata["validation"]["macro_recall"] >= 0.70


def test_obvious_english_gets_the_obvious_label(classifier: Classifier) -> None:
    examples = {
        "I love this coffee machine, it is absolutely wonderful! Best purchase ever": "positive",
        "Thank you so much, your support team was amazing and fixed it in minutes :)": "positive",
        "This is terrible. I hate it, worst customer service I have ever had.": "negative",
        "My order arrived broken and nobody answers my emails. Really angry and disappointed.": "negative",
        "The store opens at 9am on Monday.": "neutral",
        "The new model will be released in March, according to the company.": "neutral",
    }
    results = classifier.classify(list(examples))
    assert [r.label for r in results] == list(examples.values())


def test_scores_are_probabilities(classifier: Classifier) -> None:
    for result in classifier.classify(["great", "awful", "a chair", "meh", "ok I guess"]):
        assert set(result.scores) == set(LABELS)
        assert all(0.0 <= value <= 1.0 for value in result.scores.values())
        assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert result.confidence == max(result.scores.values())


def test_odd_input_gets_a_result_never_a_crash(classifier: Classifier) -> None:
    results = classifier.classify(ODD_TEXTS)
    assert len(results) == len(ODD_TEXTS)
    for result in results:
        assert result.label in LABELS
        assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-5)
    assert classifier.classify([]) == []


def test_batch_order_is_preserved(classifier: Classifier) -> None:
    texts = [
        "I love it",
        "I hate it so much, it broke on day one and support ignored me",
        "It is a box",
        "wow 😍",
        "Meeting moved to 3pm tomorrow, see the calendar invite for the room number",
        "not bad at all, actually pretty good",
        "",
        "Worst. Update. Ever.",
        "The shop is on Main Street",
    ]
    expected = {
        text: result for text, result in zip(texts, classifier.classify(texts), strict=True)
    }
    shuffled = texts[:]
    random.Random(7).shuffle(shuffled)
    for text, result in zip(shuffled, classifier.classify(shuffled), strict=True):
        assert result.label == expected[text].label
        for label in LABELS:
            assert result.scores[label] == pytest.approx(expected[text].scores[label], abs=1e-4)


def test_inference_takes_as_many_threads_as_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    """``sentiment.threads``: several daemons on one machine each keep to their share."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def workers() -> set[threading.Thread]:
        return {t for t in threading.enumerate() if t.name.startswith("sentiment-onnx")}

    texts = [f"Post {n}: the grinder broke again, awful" for n in range(16)]
    texts += [f"Bericht {n}: het apparaat is kapot, vreselijk" for n in range(16)]
    before = workers()
    load_classifier("default", threads=1).classify(texts)
    assert workers() == before  # one thread: the caller's own
    load_classifier("default", threads=2).classify(texts)
    started = workers() - before
    # Each model runs its batch on a pool of that many workers (named ..._0, ..._1).
    assert started and {t.name.rsplit("_", 1)[1] for t in started} <= {"0", "1"}


def test_macro_recall_and_confusion_matrix() -> None:
    gold = [0, 0, 1, 1, 2, 2]
    predicted = [0, 1, 1, 1, 2, 0]
    assert confusion_matrix(gold, predicted) == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert macro_recall(gold, predicted) == pytest.approx((0.5 + 1.0 + 0.5) / 3)


def test_calibration_error_and_temperature() -> None:
    import torch

    assert expected_calibration_error([0, 1], [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]) == 0.0
    assert expected_calibration_error([1, 1], [[0.9, 0.1, 0.0], [0.9, 0.1, 0.0]]) == (
        pytest.approx(0.9)
    )
    # Labels drawn from softmax(z); logits 3z are over-confident by a factor 3.
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 3, generator=generator) * 2
    gold = torch.multinomial(z.softmax(-1), 1, generator=generator).squeeze(1).tolist()
    temperature = fit_temperature(3 * z, gold)
    assert math.isclose(temperature, 3.0, rel_tol=0.1)
