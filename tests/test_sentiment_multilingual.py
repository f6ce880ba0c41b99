"""The default model on posts that are not in English: the multilingual head, through routing."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from sentiment import LABELS, load_classifier
from sentiment.multilingual import HEAD_FILE, Head, MultilingualClassifier, normalize
from sentiment.routing import RoutedClassifier
from sentiment.training.data import UMSAB_LANGUAGES

from .odd_texts import ODD_TEXTS


@pytest.fixture(scope="module")
def routed() -> Iterator[RoutedClassifier]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")
        classifier = load_classifier("default", batch_size=8)
        assert isinstance(classifier, RoutedClassifier)
        yield classifier


def test_the_committed_head_reached_the_german_bar() -> None:
    head = Head.load(HEAD_FILE)
    assert head.weights.shape == (len(LABELS), 384)
    assert 0.2 < head.temperature < 5.0
    record = head.metadata["training"]["umsab_val_macro_recall"]
    assert set(record) == set(UMSAB_LANGUAGES)
    assert record["german"] >= 0.60


def test_german_and_dutch_posts_go_to_the_multilingual_head(routed: RoutedClassifier) -> None:
    examples = {
        "Ich hasse diesen Laden, der Kundenservice ist eine absolute Katastrophe": (
            "de",
            "negative",
        ),
        "Ich bin total begeistert von der neuen Kaffeemaschine, einfach wunderbar!": (
            "de",
            "positive",
        ),
        "Wat een waardeloze service, ik ben echt boos en wil mijn geld terug": ("nl", "negative"),
        "Super blij met mijn nieuwe koffiezetapparaat, echt geweldig!": ("nl", "positive"),
        "Me encanta este café, el mejor que he probado nunca": ("es", "positive"),
        "Service client nul, commande jamais livrée, je suis furieux": ("fr", "negative"),
    }
    results = routed.classify(list(examples))
    assert [(r.language, r.label) for r in results] == list(examples.values())
    assert all(r.model.startswith("multilingual:e5-small-q4-") for r in results)


def test_english_posts_stay_with_the_english_model(routed: RoutedClassifier) -> None:
    (result,) = routed.classify(["This is terrible, I hate it, worst customer service ever."])
    assert (result.language, result.label) == ("en", "negative")
    assert result.model.startswith("default:minilm-l6-lora-")


def test_odd_input_through_the_routed_model_gets_a_result(routed: RoutedClassifier) -> None:
    started = time.perf_counter()
    results = routed.classify(ODD_TEXTS)
    assert time.perf_counter() - started < 60  # long posts are cut, not embedded whole
    assert len(results) == len(ODD_TEXTS)
    for result in results:
        assert result.label in LABELS
        assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert result.uncertain == (result.confidence < routed.uncertain_below)
    languages = [r.language for r in results]
    assert languages[:6] == [None] * 6
    assert languages[6] == "de" and languages[-1] == "nl"


def test_the_multilingual_head_keeps_batch_order() -> None:
    classifier = MultilingualClassifier()
    texts = ["Das ist großartig!", "Das ist furchtbar.", "", "Het is dinsdag."]
    together = classifier.classify(texts)
    alone = [classifier.classify([text])[0] for text in texts]
    for a, b in zip(together, alone, strict=True):
        assert a.label == b.label
        for label in LABELS:
            assert a.scores[label] == pytest.approx(b.scores[label], abs=1e-4)


def test_handles_and_links_are_normalised_as_in_the_training_tweets() -> None:
    assert normalize("@koffie_fan kijk https://brewly.example/x?a=1 en @anna@mastodon.nl!") == (
        "@user kijk http en @user!"
    )
    assert normalize("mail anna@example.nl") == "mail anna@example.nl"
    assert len(normalize("a" * 100_000)) == 1000
