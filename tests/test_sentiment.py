"""Sentiment: the lexicon, and any transformers model from a local directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment import LABELS, ModelError, load_classifier
from sentiment.lexicon import LexiconClassifier
from social_crm.daemon import Daemon
from social_crm.errors import ConfigError

from .odd_texts import ODD_TEXTS


def save_tiny_model(path: Path, id2label: dict[int, str]) -> Path:
    """A randomly initialised two-layer BERT with its own vocabulary: no download needed."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    words = [
        "the",
        "a",
        "is",
        "it",
        "my",
        "i",
        "love",
        "hate",
        "great",
        "awful",
        "service",
        "coffee",
        "brewly",
        "not",
    ]
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    path.mkdir(parents=True, exist_ok=True)
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    BertTokenizerFast(vocab_file=str(path / "vocab.txt")).save_pretrained(path)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=64,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    BertForSequenceClassification(config).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The model's own label order differs from ours: the mapping must come from its config.
    return save_tiny_model(
        tmp_path_factory.mktemp("model"), {0: "Positive", 1: "Negative", 2: "Neutral"}
    )


def test_lexicon_labels_plain_english() -> None:
    results = LexiconClassifier().classify(
        ["I love it, wonderful!", "Awful. I hate it.", "It is a box."]
    )
    assert [r.label for r in results] == ["positive", "negative", "neutral"]


def test_a_model_directory_loads_and_maps_labels_from_its_config(tiny_model: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    classifier = load_classifier(str(tiny_model), batch_size=2)
    texts = ["i love brewly", "awful service", "the coffee is not great at all", "my coffee"]
    results = classifier.classify(texts)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    model = AutoModelForSequenceClassification.from_pretrained(tiny_model).eval()
    with torch.inference_mode():
        for text, result in zip(texts, results, strict=True):
            probabilities = model(**tokenizer(text, return_tensors="pt")).logits.softmax(-1)[0]
            expected = {
                "positive": probabilities[0],
                "negative": probabilities[1],
                "neutral": probabilities[2],
            }
            for label in LABELS:
                assert result.scores[label] == pytest.approx(float(expected[label]), abs=1e-4)
            assert result.label == max(expected, key=lambda name: float(expected[name]))
    assert classifier.name == f"transformers:{tiny_model}"


def test_odd_input_gets_a_result_never_a_crash(tiny_model: Path) -> None:
    for classifier in (LexiconClassifier(), load_classifier(str(tiny_model))):
        results = classifier.classify(ODD_TEXTS)
        assert len(results) == len(ODD_TEXTS)
        for result in results:
            assert result.label in LABELS
            assert sum(result.scores.values()) == pytest.approx(1.0, abs=1e-4)


def test_a_model_without_our_three_labels_is_refused(tmp_path: Path) -> None:
    path = save_tiny_model(tmp_path / "binary", {0: "bad", 1: "good", 2: "meh"})
    with pytest.raises(ModelError, match="expected negative, neutral and positive"):
        load_classifier(str(path))


def test_a_missing_model_is_a_model_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="sentiment.model: cannot load"):
        load_classifier(str(tmp_path / "no-such-model"))


def test_the_daemon_reports_a_model_it_cannot_load_as_a_configuration_error(
    make_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = tmp_path / "no-such-model"
    daemon = Daemon(make_settings(sentiment={"model": str(missing)}), connectors={})
    try:
        with pytest.raises(
            ConfigError, match="^" + re.escape(f"sentiment.model: cannot load {str(missing)!r}: ")
        ):
            daemon.start()
    finally:
        daemon.close()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), max_size=8))
def test_lexicon_scores_are_probabilities_for_any_text(texts: list[str]) -> None:
    for result in LexiconClassifier().classify(texts):
        assert all(0.0 <= value <= 1.0 for value in result.scores.values())
        assert sum(result.scores.values()) == pytest.approx(1.0)
        assert result.confidence == max(result.scores.values())
