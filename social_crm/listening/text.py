"""Text as the rules read it: folded once, and terms that match it on word boundaries."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

# Words, and hashtags and cashtags as tokens of their own (``#brewly``, ``$brwl``).
_WORD = re.compile(r"\w+")
_TAG = re.compile(r"(?<![\w#$])[#$]\w+")
# A term that is one plain word is looked up among the text's words; anything else
# (phrases, words with punctuation, wildcards) is matched by its own regex.
PLAIN_WORD = re.compile(r"^\w+$")
TAG_TERM = re.compile(r"^[#$]\w+$")
# Typographic apostrophes and dashes read as their plain forms.
_PLAIN_FORMS = str.maketrans({"\u2019": "'", "\u2018": "'", "\u2013": "-", "\u2014": "-"})


# Combining diacritical marks (the blocks of Latin, Greek and Cyrillic accents), which
# NFKD splits from their letters: é becomes e + U+0301, and the mark is dropped.
_ACCENTS = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")


def fold(text: str) -> str:
    """``text`` case- and accent-insensitive: NFKD, accents dropped, casefolded."""
    if text.isascii():
        return text.lower()  # the same as below for ASCII, several times faster
    decomposed = unicodedata.normalize("NFKD", text.translate(_PLAIN_FORMS))
    return _ACCENTS.sub("", decomposed).casefold()


@dataclass(frozen=True, slots=True)
class FoldedText:
    """A text folded once, with its set of words and of hashtags and cashtags."""

    text: str
    words: frozenset[str]
    tags: frozenset[str]

    @classmethod
    def of(cls, text: str) -> FoldedText:
        """Fold ``text`` and index its words and tags (the last texts are remembered: every
        brand's rules, and a replay, read the same text again)."""
        return _folded(text)


@lru_cache(maxsize=256)
def _folded(text: str) -> FoldedText:
    folded = fold(text)
    return FoldedText(folded, frozenset(_WORD.findall(folded)), frozenset(_TAG.findall(folded)))


class Term:
    """A word, ``"quoted phrase"``, ``#hashtag``, ``$cashtag`` or ``prefix*`` to look for.

    Matched on word boundaries, case- and accent-insensitively; a plain word also matches
    the same word used as a hashtag (``brewly`` matches ``#Brewly``), a tag only the tag.
    """

    __slots__ = ("_find", "folded", "phrase", "text")

    def __init__(self, text: str, *, phrase: bool = False) -> None:
        self.text = text  # as written, for messages
        self.phrase = phrase or len(text.split()) > 1
        self.folded = " ".join(fold(text).split())
        if not self.folded:
            raise ValueError("an empty word or phrase matches nothing")
        if not re.search(r"\w", self.folded):
            raise ValueError(f"{self.label()} has no letter or digit to look for")
        self._find = _matcher(self.folded)

    def __repr__(self) -> str:
        return f"Term({self.label()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Term) and other.folded == self.folded

    def __hash__(self) -> int:
        return hash(self.folded)

    def label(self) -> str:
        """The term as configured: phrases quoted."""
        return f'"{self.text}"' if self.phrase else self.text

    def matches(self, text: FoldedText) -> bool:
        """Whether ``text`` contains the term."""
        return self._find(text)


Matcher = Callable[[FoldedText], bool]


@lru_cache(maxsize=4096)
def _matcher(folded: str) -> Matcher:
    """How to find one folded term: a set lookup where it can be one, else a regex."""
    if PLAIN_WORD.match(folded):
        return lambda text: folded in text.words
    if TAG_TERM.match(folded):
        return lambda text: folded in text.tags
    parts = []
    for word in folded.split(" "):
        wildcard = word.endswith("*") and len(word) > 1
        parts.append(re.escape(word[:-1]) + r"\w*" if wildcard else re.escape(word))
    # The words in order with any spacing between them; boundaries where a word starts or ends.
    before = r"(?<!\w)" if re.match(r"\w", folded) else r"(?<![\w#$])"
    after = r"(?!\w)" if re.search(r"[\w*]$", folded) else ""
    pattern = re.compile(before + r"\s+".join(parts) + after)
    # Every whole word of the term must be among the text's words: a cheap first check.
    needed = frozenset(w for w in re.findall(r"\w+\*?", folded) if not w.endswith("*"))

    def find(text: FoldedText) -> bool:
        return needed <= text.words and pattern.search(text.text) is not None

    return find
