"""Which language a post is written in (lingua, restricted to the languages we route)."""

from __future__ import annotations

import re
import threading
from typing import Any

from sentiment.text import clean_text

# ISO 639-1 codes of the languages told apart. A post in another language gets the nearest
# of these (Swedish may read as German): it is still not English, so it still goes to the
# multilingual model, which knows about 100 languages.
LANGUAGES = ("en", "nl", "de", "fr", "es", "it", "pt", "ar", "hi")
# Below this confidence (lingua's, 0..1) the language counts as not detected.
MIN_CONFIDENCE = 0.5
# Fewer letters than this, once links, handles and hashtags are gone, is too little to tell.
MIN_LETTERS = 4
# Only the start of a long post is read: it is enough, and detection cost grows with length.
MAX_CHARS = 1000

_NOISE = re.compile(r"(?:https?://|www\.)\S+|[@#]\w+(?:[.\-@]\w+)*", re.IGNORECASE)
_lock = threading.Lock()
_detector: Any = None
_short_detector: Any = None
# Texts with fewer letters than this go to lingua's full mode (see detector()).
SHORT_LETTERS = 60


def detector(*, short: bool = False) -> Any:
    """The lingua detector for LANGUAGES, built once per process; ``short`` for short texts.

    Long texts go to lingua's low-accuracy mode (trigrams only): about 0.08 ms a post
    against 1.25 ms for the full mode, and as good on them. It is overconfident on a few
    words ("Which grinder?" reads as German, 98 % sure), so texts of fewer than
    SHORT_LETTERS letters go to the full mode, which is fast on them (about 0.13 ms).
    Together they take about 0.1 ms a post and route as the full mode alone did: English
    or not was right for 99.9 % of TweetEval val, 91 % of UMSAB German val and 86 % of
    Dutch subtitle lines (most of the misses are a few words that no mode can place).
    """
    global _detector, _short_detector
    with _lock:
        if _detector is None:
            from lingua import IsoCode639_1, LanguageDetectorBuilder

            codes = [getattr(IsoCode639_1, code.upper()) for code in LANGUAGES]
            builder = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
            # Loaded now rather than language by language on first use: a second at start-up
            # instead of stalls while the first posts are labelled.
            _short_detector = builder.with_preloaded_language_models().build()
            fast = LanguageDetectorBuilder.from_iso_codes_639_1(*codes)
            _detector = fast.with_low_accuracy_mode().build()
        return _short_detector if short else _detector


def prepare(text: str) -> str:
    """The words of ``text`` that say something about its language."""
    return _NOISE.sub(" ", clean_text(text)[:MAX_CHARS])


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of ``text``'s language, or None where it cannot be told.

    None for empty text, emoji, links or handles only, fewer than MIN_LETTERS letters,
    or a best guess below MIN_CONFIDENCE; callers treat None as English.
    """
    words = prepare(text)
    letters = sum(char.isalpha() for char in words)
    if letters < MIN_LETTERS:
        return None
    values = detector(short=letters < SHORT_LETTERS).compute_language_confidence_values(words)
    if not values or values[0].value < MIN_CONFIDENCE:
        return None
    return str(values[0].language.iso_code_639_1.name.lower())
