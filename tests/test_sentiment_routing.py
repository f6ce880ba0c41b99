"""Language detection, routing by language, and the uncertain flag from label to alert."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import pytest
from sqlalchemy import select

from connectors.base import Batch
from sentiment import Sentiment, load_classifier
from sentiment.language import detect_language
from sentiment.routing import RoutedClassifier, SecondOpinion
from social_crm.alerts.escalation import escalate_pending
from social_crm.config import EscalationConfig, load_config
from social_crm.db import Database
from social_crm.errors import ConfigError
from social_crm.mentions.classify import classify_pending
from social_crm.mentions.ingest import store_batch
from social_crm.mentions.models import MentionRecord, SentimentRecord

from .factories import BRAND, mention


class FixedClassifier:
    """Gives every text the same scores and remembers what it was asked."""

    def __init__(self, name: str, scores: dict[str, float]) -> None:
        self.name = name
        self.scores = scores
        self.calls: list[list[str]] = []

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        self.calls.append(list(texts))
        return [Sentiment.from_scores(self.scores) for _ in texts]


NEGATIVE = {"negative": 0.8, "neutral": 0.15, "positive": 0.05}
WEAK_NEGATIVE = {"negative": 0.45, "neutral": 0.35, "positive": 0.2}


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The app keeps crashing since the last update, really annoying", "en"),
        ("Thanks so much, your support team fixed it in minutes!", "en"),
        ("Ik ben heel blij met mijn nieuwe koffiezetapparaat", "nl"),
        ("De bezorging was weer te laat en niemand neemt de telefoon op", "nl"),
        ("Das ist wirklich der schlechteste Kundenservice, den ich je erlebt habe", "de"),
        ("Ich bin total begeistert von der neuen Kaffeemaschine", "de"),
    ],
)
def test_the_language_of_a_post_is_detected(text: str, language: str) -> None:
    assert detect_language(text) == language


@pytest.mark.parametrize(
    "text",
    ["", "   ", "😡😡😡", "https://example.com/brewly?x=1", "@brewly @erik #brewly", "ok", "\x00"],
)
def test_too_little_text_has_no_language(text: str) -> None:
    assert detect_language(text) is None


def test_handles_and_links_do_not_decide_the_language() -> None:
    text = "@koffieliefhebber https://brewly.example/nl Ik ben heel blij met mijn nieuwe koffiezetapparaat"
    assert detect_language(text) == "nl"


def test_english_and_undetected_posts_go_to_the_english_model_others_to_the_multilingual() -> None:
    english = FixedClassifier("english-model", NEGATIVE)
    multilingual = FixedClassifier("multilingual-model", NEGATIVE)
    router = RoutedClassifier(english, multilingual)
    texts = [
        "The delivery was late again and nobody answers the phone",
        "Die Lieferung kam schon wieder zu spät und niemand geht ans Telefon",
        "😡",
        "De bezorging was weer te laat en niemand neemt de telefoon op",
        "",
    ]
    results = router.classify(texts)
    assert [r.language for r in results] == ["en", "de", None, "nl", None]
    assert [r.model for r in results] == [
        "english-model",
        "multilingual-model",
        "english-model",
        "multilingual-model",
        "english-model",
    ]
    # One call per model for the whole batch, texts in their original order.
    assert english.calls == [[texts[0], texts[2], texts[4]]]
    assert multilingual.calls == [[texts[1], texts[3]]]
    assert router.classify([]) == []


def test_a_second_opinion_labels_only_what_the_first_model_is_unsure_of() -> None:
    class Confidence(FixedClassifier):
        """Sure of texts that say "sure", unsure of the rest."""

        def classify(self, texts: Sequence[str]) -> list[Sentiment]:
            self.calls.append(list(texts))
            return [
                Sentiment.from_scores(NEGATIVE if "sure" in t else WEAK_NEGATIVE) for t in texts
            ]

    first = Confidence("fast-model", NEGATIVE)
    second = FixedClassifier("strong-model", {"negative": 0.1, "neutral": 0.2, "positive": 0.7})
    cascade = SecondOpinion(first, second, below=0.6)
    results = cascade.classify(["sure thing", "hmm", "sure", "maybe"])
    assert first.calls == [["sure thing", "hmm", "sure", "maybe"]]
    assert second.calls == [["hmm", "maybe"]]  # asked once, for the unsure texts only
    assert [(r.label, r.model) for r in results] == [
        ("negative", "fast-model"),
        ("positive", "strong-model"),
        ("negative", "fast-model"),
        ("positive", "strong-model"),
    ]
    assert cascade.classify([]) == [] and second.calls == [["hmm", "maybe"]]
    # Routed, every result keeps the name of the model that gave it.
    routed = RoutedClassifier(cascade, second).classify(["hmm, that is it"])
    assert routed[0].model == "strong-model"


def test_without_a_multilingual_model_every_post_goes_to_the_one_model() -> None:
    only = FixedClassifier("lexicon", NEGATIVE)
    results = RoutedClassifier(only).classify(["Das ist schlecht, wirklich sehr schlecht", "bad"])
    assert [r.model for r in results] == ["lexicon", "lexicon"]
    assert results[0].language == "de"


@pytest.mark.parametrize(
    ("threshold", "uncertain"), [(0.5, True), (0.45, False), (0.4, False), (0.9, True)]
)
def test_a_label_below_the_threshold_is_uncertain(threshold: float, uncertain: bool) -> None:
    router = RoutedClassifier(FixedClassifier("m", WEAK_NEGATIVE), uncertain_below=threshold)
    (result,) = router.classify(["The delivery was late again"])
    assert result.label == "negative"
    assert result.uncertain is uncertain


def test_the_lexicon_choice_still_detects_language_and_flags_uncertain_labels() -> None:
    classifier = load_classifier("lexicon", uncertain_below=0.99)
    (dutch, english) = classifier.classify(
        ["De bezorging was weer te laat en niemand neemt de telefoon op", "I love it, great!"]
    )
    assert dutch.language == "nl"
    assert english.language in (None, "en")
    assert dutch.uncertain and english.uncertain  # nothing the lexicon says is 99% sure
    assert english.model == "lexicon:vader-3.3.2"


def store(db: Database, *texts: str) -> None:
    with db.transaction() as session:
        store_batch(
            session,
            "test",
            "src",
            Batch([mention(f"t3_{i}", author=f"a{i}", text=t) for i, t in enumerate(texts)], None),
        )


def test_language_and_uncertainty_are_stored_and_drive_the_escalation_rules(
    db: Database,
) -> None:
    store(
        db,
        "Die Lieferung kam schon wieder zu spät und niemand geht ans Telefon",
        "The delivery was late again and nobody answers the phone",
    )
    sure = FixedClassifier("sure", NEGATIVE)
    unsure = FixedClassifier("unsure", WEAK_NEGATIVE)
    with db.transaction() as session:
        assert classify_pending(session, RoutedClassifier(sure, unsure), limit=10) == 2
    with db.transaction() as session:
        rows = session.execute(
            select(MentionRecord.native_id, MentionRecord.language, SentimentRecord)
            .join(SentimentRecord)
            .order_by(MentionRecord.native_id)
        ).all()
        stored = {
            native_id: (language, row.model, row.uncertain) for native_id, language, row in rows
        }
    assert stored == {"t3_0": ("de", "unsure", True), "t3_1": ("en", "sure", False)}
    with db.transaction() as session:
        alerts = escalate_pending(session, EscalationConfig(), ["team"])
        severities = {
            alert.first_mention.native_id: (alert.severity, alert.rule) for alert in alerts
        }
    assert severities == {
        "t3_0": ("low", "uncertain-negative"),
        "t3_1": ("medium", "negative"),
    }


def test_the_threshold_lives_in_the_sentiment_section(write_config) -> None:
    path = write_config(brands=[BRAND], sentiment={"model": "lexicon", "uncertain_below": 0.7})
    assert load_config(path).sentiment.uncertain_below == 0.7
    old = write_config(brands=[BRAND], escalation={"uncertain_below": 0.5})
    with pytest.raises(ConfigError, match="uncertain_below has moved to sentiment.uncertain_below"):
        load_config(old)


def test_the_daemon_loads_the_model_once_and_logs_its_time_and_memory(
    make_settings, caplog: pytest.LogCaptureFixture
) -> None:
    from social_crm.daemon import Daemon

    settings = make_settings(sentiment={"model": "lexicon", "uncertain_below": 0.7})
    daemon = Daemon(settings, connectors={}, notifiers={})
    with caplog.at_level(logging.INFO, logger="social_crm.daemon"):
        daemon.start()
        daemon.start()  # a second start loads nothing
    daemon.close()
    loaded = [r.getMessage() for r in caplog.records if "sentiment model" in r.getMessage()]
    assert len(loaded) == 1
    assert re.search(
        r"sentiment model lexicon:vader-3\.3\.2 loaded in \d+\.\d s, warmed up in \d+\.\d s; "
        r"process memory \d+ MB \(\+-?\d+ MB for the model\)",
        loaded[0],
    )
    assert isinstance(daemon.context.classifier, RoutedClassifier)
    assert daemon.context.classifier.uncertain_below == 0.7
