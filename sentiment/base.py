"""The label set, the Sentiment record and the Classifier interface."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True, slots=True)
class Sentiment:
    """A label with the probability of each label (they sum to 1)."""

    label: str
    scores: dict[str, float]

    @property
    def confidence(self) -> float:
        """The probability of the chosen label."""
        return self.scores[self.label]

    @classmethod
    def from_scores(cls, scores: dict[str, float]) -> Sentiment:
        """The Sentiment whose label is the highest-scoring one."""
        label = max(LABELS, key=lambda name: scores[name])
        return cls(label=label, scores={name: float(scores[name]) for name in LABELS})


@runtime_checkable
class Classifier(Protocol):
    """Labels texts negative, neutral or positive."""

    name: str  # model name and version, stored with every label

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        """One Sentiment per text, in order; never fails on odd text."""
        ...
