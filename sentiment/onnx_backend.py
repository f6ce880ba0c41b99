"""The default model under ONNX Runtime: exported once, quantised to int8, cached on disk.

A merged model (base plus LoRA adapter plus head: the English MiniLM, the multilingual e5)
is exported with ``torch.onnx.export`` (dynamic batch and sequence axes) and its weights
quantised to int8 per output channel (the word embeddings too) with
``onnxruntime.quantization.quantize_dynamic``; activations are quantised on the fly. Both
steps take a few seconds and run the first time the model loads; the result is kept in the
cache folder (``$SOCIAL_CRM_CACHE_DIR``, else ``$XDG_CACHE_HOME/social-crm``, else
``~/.cache/social-crm``) under a key made from the adapter, the base package and the
library versions, so later starts load it directly without building the torch model.

Dynamic quantisation picks one activation scale per input tensor, so a text's scores would
depend on the other texts in its batch; the runner therefore runs one text at a time
(without padding, so the same text always gets the same scores) and spreads a batch over
worker threads.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import os
import tempfile
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

LOGGER = logging.getLogger(__name__)

# Bump when the export or quantisation recipe changes, so old cache entries are not reused.
RECIPE = "1"
FP32_FILE = "model-fp32.onnx"
INT8_FILE = "model-int8.onnx"
INPUTS = ("input_ids", "attention_mask")


class OnnxUnavailableError(RuntimeError):
    """onnxruntime (or onnx, which quantisation needs) is not installed."""


def cache_root() -> Path:
    """$SOCIAL_CRM_CACHE_DIR, or social-crm under the XDG cache home."""
    if env := os.environ.get("SOCIAL_CRM_CACHE_DIR"):
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(xdg) / "social-crm"


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def cache_key(model_dir: Path, base: str, base_packages: Sequence[str] = ()) -> str:
    """A digest of everything the exported file depends on: the trained files, the base
    model's name and packages, and the library versions."""
    digest = hashlib.sha256(f"recipe {RECIPE}\n{base}\n".encode())
    for path in sorted(model_dir.iterdir()):
        if path.is_file() and path.suffix in {".json", ".safetensors", ".bin"}:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
    for package in (*base_packages, "torch", "transformers", "peft", "onnxruntime"):
        digest.update(f"{package}=={_version(package)}\n".encode())
    return digest.hexdigest()[:20]


def require_onnxruntime() -> None:
    """Raise OnnxUnavailableError unless onnxruntime and onnx import."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise OnnxUnavailableError(
            f"the ONNX backend needs onnxruntime and onnx (pip install onnxruntime onnx): {exc}"
        ) from exc


def export_fp32(model: Any, path: Path) -> None:
    """Write the merged torch model (input ids and mask -> logits) to ``path`` as ONNX."""
    import torch

    # The eager attention exports to plain MatMul/Softmax nodes, which ONNX Runtime fuses.
    encoder = getattr(model, "encoder", None)
    if encoder is not None and hasattr(encoder, "set_attn_implementation"):
        encoder.set_attn_implementation("eager")
    example = (
        torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]], dtype=torch.long),
        torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.long),
    )
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        # The TorchScript exporter warns that it is deprecated and about traced branches.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            example,
            str(path),
            input_names=list(INPUTS),
            output_names=["logits"],
            dynamic_axes={**axes, "logits": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )


def quantize_int8(source: Path, target: Path) -> None:
    """Quantise the weights of ``source`` to int8, one scale per output channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantization_logger = logging.getLogger()  # quantize_dynamic warns on the root logger
    level = quantization_logger.level
    quantization_logger.setLevel(logging.ERROR)
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, per_channel=True)
    finally:
        quantization_logger.setLevel(level)


def build(model: Any, folder: Path, *, int8: bool) -> Path:
    """Export (and quantise) into ``folder``, atomically; the path of the file to load."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (INT8_FILE if int8 else FP32_FILE)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as scratch:
        fp32 = Path(scratch) / FP32_FILE
        export_fp32(model, fp32)
        if int8:
            quantized = Path(scratch) / INT8_FILE
            quantize_int8(fp32, quantized)
            os.replace(quantized, target)
        else:
            os.replace(fp32, target)
    return target


def cached_model(
    key: str, make_torch_model: Callable[[], Any], *, int8: bool, cache_dir: Path | None = None
) -> tuple[bytes | Path, bool]:
    """The exported model for ``key``, from the cache or built now; and whether it was built.

    Where the cache folder cannot be written the model is built in a temporary folder and
    returned as bytes (it is then built again at the next start).
    """
    folder = (cache_dir or cache_root()) / "sentiment" / key
    path = folder / (INT8_FILE if int8 else FP32_FILE)
    if path.is_file():
        return path, False
    model = make_torch_model()
    try:
        return build(model, folder, int8=int8), True
    except OSError as exc:
        LOGGER.warning("cannot cache the ONNX sentiment model in %s (%s); not caching", folder, exc)
    with tempfile.TemporaryDirectory(prefix="social-crm-onnx-") as scratch:
        return build(model, Path(scratch), int8=int8).read_bytes(), True


def load_runner(
    key: str,
    make_torch_model: Callable[[], Any],
    *,
    int8: bool,
    cache_dir: Path | None = None,
    threads: int | None = None,
) -> tuple[OnnxRunner, bool]:
    """A runner for the cached (or newly built) model, and whether it was built now.

    A cached file ONNX Runtime cannot load (cut short, or from an incompatible version) is
    deleted and built again.
    """
    model, built = cached_model(key, make_torch_model, int8=int8, cache_dir=cache_dir)
    try:
        return OnnxRunner(model, threads=threads), built
    except Exception as exc:  # noqa: BLE001 - onnxruntime's errors share no base class
        if built or not isinstance(model, Path):
            raise
        LOGGER.warning("cannot load the cached ONNX model %s (%s); rebuilding it", model, exc)
        model.unlink(missing_ok=True)
    model, built = cached_model(key, make_torch_model, int8=int8, cache_dir=cache_dir)
    return OnnxRunner(model, threads=threads), built


class OnnxRunner:
    """Logits from ONNX Runtime, one text per run.

    One session whose runs each take one core (no intra-op threads: one short text gains
    little from them); a batch is spread over ``threads`` worker threads that call the
    session concurrently, which ONNX Runtime allows. One session keeps one copy of the
    weights in memory.
    """

    def __init__(self, model: bytes | Path, *, threads: int | None = None) -> None:
        self.threads = max(1, threads or os.cpu_count() or 1)
        self._session = _session(model)
        self._pool = (
            ThreadPoolExecutor(self.threads, thread_name_prefix="sentiment-onnx")
            if self.threads > 1
            else None
        )

    def _run(self, ids: Sequence[int]) -> np.ndarray:
        input_ids = np.asarray([ids], dtype=np.int64)
        feed = {"input_ids": input_ids, "attention_mask": np.ones_like(input_ids)}
        return self._session.run(None, feed)[0][0]

    def __call__(self, token_ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Logits, one row per text's token ids (already truncated), in order."""
        if not token_ids:
            return np.empty((0, 0), dtype=np.float32)
        if self._pool is None or len(token_ids) == 1:
            rows = [self._run(ids) for ids in token_ids]
        else:
            # Longest first, so no worker is left with a long text when the others are done.
            order = sorted(range(len(token_ids)), key=lambda i: -len(token_ids[i]))
            logits = self._pool.map(lambda i: self._run(token_ids[i]), order)
            rows = [np.empty(0)] * len(token_ids)
            for index, row in zip(order, logits, strict=True):
                rows[index] = row
        return np.stack(rows).astype(np.float32, copy=False)

    def close(self) -> None:
        """Stop the worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)


def _session(model: bytes | Path) -> Any:
    """An ONNX Runtime CPU session whose runs each stay on their calling thread."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    source = str(model) if isinstance(model, Path) else model
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
