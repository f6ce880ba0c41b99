"""Any transformers sequence-classification model with a negative/neutral/positive head."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from sentiment.base import LABELS, ModelError, Sentiment
from sentiment.text import clean_text

LOGGER = logging.getLogger(__name__)

# How long the hub may take to say whether a model exists before it counts as unreachable.
HUB_TIMEOUT_SECONDS = 10.0

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
        source, cached = _resolve(model)  # before the heavy imports: a wrong name fails fast
        import torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self._torch = torch
        self.batch_size = batch_size
        self.max_length = max_length
        started = time.perf_counter()
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=cached)
            self._model = AutoModelForSequenceClassification.from_pretrained(
                source, local_files_only=cached
            )
        except (OSError, ValueError) as exc:
            cause = " ".join(str(exc).split())
            raise ModelError(f"sentiment.model: cannot load {model!r}: {cause}") from exc
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


def _resolve(model: str) -> tuple[str, bool]:
    """Where ``model`` loads from and whether only local files are read; ModelError at once
    for a folder that is not there or a hub id that is neither cached nor on a reachable hub.
    """
    from huggingface_hub import model_info, try_to_load_from_cache
    from huggingface_hub.errors import RepositoryNotFoundError

    local = Path(model).expanduser()
    if local.is_dir():
        return str(local), True
    if model.startswith(("/", ".", "~")) or model.count("/") > 1:
        raise ModelError(f"sentiment.model: cannot load {model!r}: there is no such folder")
    if isinstance(try_to_load_from_cache(model, "config.json"), str):
        return model, True  # downloaded before: no network, no retries
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise ModelError(
            f"sentiment.model: cannot load {model!r}: not a folder, not in the model cache, "
            "and the hub is offline (HF_HUB_OFFLINE)"
        )
    # One quick question to the hub, so a wrong name or no network fails now, not after
    # the downloader's retries.
    try:
        model_info(model, timeout=HUB_TIMEOUT_SECONDS)
    except RepositoryNotFoundError:
        raise ModelError(
            f"sentiment.model: cannot load {model!r}: not a folder, and the Hugging Face "
            "hub has no such model (or it needs a token)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any network failure means the same here
        cause = " ".join(str(exc).split()) or type(exc).__name__
        raise ModelError(
            f"sentiment.model: cannot load {model!r}: not a folder, and the Hugging Face "
            f"hub cannot be reached to download it ({cause})"
        ) from None
    return model, False


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
