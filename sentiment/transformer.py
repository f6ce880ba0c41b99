"""Any transformers sequence-classification model with a negative/neutral/positive head."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

from sentiment.base import LABELS, ModelError, Sentiment
from sentiment.text import clean_text

LOGGER = logging.getLogger(__name__)

# Names models use for the three classes, mapped to ours.
LABEL_ALIASES = {
    "negative": "negative",
    "neg": "negative",
    "label_0": "negative",
    "neutral": "neutral",
    "neu": "neutral",
    "label_1": "neutral",
    "positive": "positive",
    "pos": "positive",
    "label_2": "positive",
}


class TransformerClassifier:
    """A transformers model loaded once from a local directory or a hub id, run in batches."""

    def __init__(self, model: str, *, batch_size: int = 32, max_length: int = 128) -> None:
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._torch = torch
        self.batch_size = batch_size
        self.max_length = max_length
        local = Path(model).expanduser()
        source = str(local) if local.is_dir() else model
        started = time.perf_counter()
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(source)
            self._model = AutoModelForSequenceClassification.from_pretrained(source)
        except (OSError, ValueError) as exc:
            raise ModelError(f"sentiment.model: cannot load {model!r}: {exc}") from exc
        self._model.eval()
        # Never longer than the model can take: small models have few position embeddings.
        positions = getattr(self._model.config, "max_position_embeddings", None) or max_length
        self.max_length = min(max_length, self._tokenizer.model_max_length, positions)
        self._columns = _label_columns(self._model.config.id2label, model)
        self.name = f"transformers:{model}"
        LOGGER.info("loaded sentiment model %s in %.1f s", model, time.perf_counter() - started)

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        """One Sentiment per text; texts are batched by length to waste little padding."""
        cleaned = [clean_text(text) for text in texts]
        order = sorted(range(len(cleaned)), key=lambda i: len(cleaned[i]))
        results: list[Sentiment | None] = [None] * len(cleaned)
        for start in range(0, len(order), self.batch_size):
            chunk = order[start : start + self.batch_size]
            for index, sentiment in zip(
                chunk, self._batch([cleaned[i] for i in chunk]), strict=True
            ):
                results[index] = sentiment
        return [result for result in results if result is not None]

    def _batch(self, texts: list[str]) -> list[Sentiment]:
        encoded = self._tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )
        with self._torch.inference_mode():
            probabilities = self._model(**encoded).logits.softmax(dim=-1).tolist()
        return [
            Sentiment.from_scores({label: row[column] for label, column in self._columns.items()})
            for row in probabilities
        ]


def _label_columns(id2label: dict[int, str], model: str) -> dict[str, int]:
    """Which output column holds each of our labels, read from the model's own config."""
    columns: dict[str, int] = {}
    for index, name in id2label.items():
        label = LABEL_ALIASES.get(str(name).strip().lower())
        if label:
            columns[label] = int(index)
    if sorted(columns) != sorted(LABELS) or len(id2label) != len(LABELS):
        raise ModelError(
            f"sentiment.model: {model!r} has labels {sorted(id2label.values())}; "
            "expected negative, neutral and positive"
        )
    return columns
