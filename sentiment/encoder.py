"""The torch side of the sentiment models: a mean-pooled encoder classifier and batching.

Used to train the models and to build their ONNX exports; the runtime classifiers load
their cached ONNX files without importing torch (about 200 MB less per process).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import nn

from sentiment.base import LABELS


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
    """Logits for ``texts`` (a transformers tokenizer makes the ids), in their order."""
    ids = tokenizer(
        list(texts),
        truncation=True,
        max_length=max_length,
        return_attention_mask=False,
        return_token_type_ids=False,
    )["input_ids"]
    return predict_ids(model, ids, tokenizer.pad_token_id or 0, batch_size=batch_size)


def predict_ids(
    model: nn.Module, ids: Sequence[Sequence[int]], pad_id: int, *, batch_size: int = 64
) -> torch.Tensor:
    """Logits for texts given as token ids, in their order, in batches of similar length."""
    logits = torch.empty((len(ids), len(LABELS)), dtype=torch.float32)
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for chunk, batch in length_batches(ids, batch_size, pad_id):
            logits[chunk] = model(**batch).float()
    model.train(was_training)
    return logits


def quantize_int8(model: nn.Module) -> nn.Module:
    """The model with its Linear layers dynamically quantised to int8 (activations stay fp32)."""
    with warnings.catch_warnings():
        # torch deprecates its quantized tensor types; dynamic quantisation still works.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        return torch.ao.quantization.quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)
