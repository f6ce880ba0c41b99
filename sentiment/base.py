"""The label set, the Sentiment record, the Classifier interface and ModelError."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

LABELS = ("negative", "neutral", "positive")


class ModelError(Exception):
    """A sentiment model cannot be loaded: unknown, missing, incomplete or malformed."""


METADATA_FILE = "sentiment.json"


def read_metadata(model_dir: Path, *, model: str, trainer: str) -> dict[str, Any]:
    """The labels, temperature, max_length and training record saved beside an adapter.

    ``model`` names the model in the error, ``trainer`` the module that makes the files.
    """
    path = model_dir / METADATA_FILE
    if not path.is_file():
        raise ModelError(f"{model}: no trained adapter in {model_dir} (run python -m {trainer})")
    metadata: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if list(metadata.get("labels", [])) != list(LABELS):
        raise ModelError(f"{model_dir}: labels {metadata.get('labels')}, expected {LABELS}")
    return metadata


@dataclass(frozen=True, slots=True)
class Sentiment:
    """A label with the probability of each label (they sum to 1).

    ``model`` names the model that gave the label (empty: the classifier's own name),
    ``language`` is the detected ISO 639-1 code (None: not detected), and ``uncertain`` is
    True when the top score is below the configured ``sentiment.uncertain_below``.
    """

    label: str
    scores: dict[str, float]
    model: str = ""
    language: str | None = None
    uncertain: bool = False

    @property
    def confidence(self) -> float:
        """The probability of the chosen label."""
        return self.scores[self.label]

    @classmethod
    def from_scores(cls, scores: dict[str, float], *, model: str = "") -> Sentiment:
        """The Sentiment whose label is the highest-scoring one."""
        label = max(LABELS, key=lambda name: scores[name])
        return cls(label=label, scores={name: float(scores[name]) for name in LABELS}, model=model)

    def with_model(self, model: str) -> Sentiment:
        """This Sentiment naming ``model``, unless it already names one."""
        return self if self.model else replace(self, model=model)

    def with_context(
        self, *, language: str | None, uncertain_below: float, model: str
    ) -> Sentiment:
        """This Sentiment with its model, language and uncertain flag (top score below)."""
        return replace(
            self, model=model, language=language, uncertain=self.confidence < uncertain_below
        )


@runtime_checkable
class Classifier(Protocol):
    """Labels texts negative, neutral or positive."""

    name: str  # model name and version, stored with every label

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        """One Sentiment per text, in order; never fails on odd text."""
        ...
