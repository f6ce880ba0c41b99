"""Macro-recall, confusion matrices, calibration error and temperature scaling."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from sentiment.base import LABELS

LOGGER = logging.getLogger(__name__)

ECE_BINS = 15


def confusion_matrix(gold: Sequence[int], predicted: Sequence[int]) -> list[list[int]]:
    """Counts indexed [gold][predicted] over the three labels."""
    matrix = [[0] * len(LABELS) for _ in LABELS]
    for truth, guess in zip(gold, predicted, strict=True):
        matrix[truth][guess] += 1
    return matrix


def per_class_recall(gold: Sequence[int], predicted: Sequence[int]) -> list[float]:
    """The recall of each label; nan for a label absent from ``gold``."""
    matrix = confusion_matrix(gold, predicted)
    return [row[i] / sum(row) if sum(row) else math.nan for i, row in enumerate(matrix)]


def macro_recall(gold: Sequence[int], predicted: Sequence[int]) -> float:
    """The mean recall over the labels present in ``gold`` (TweetEval's official metric)."""
    recalls = [value for value in per_class_recall(gold, predicted) if not math.isnan(value)]
    return sum(recalls) / len(recalls) if recalls else math.nan


def expected_calibration_error(
    gold: Sequence[int], probabilities: Sequence[Sequence[float]], bins: int = ECE_BINS
) -> float:
    """Top-label ECE over ``bins`` equal-width confidence bins."""
    totals = [0] * bins
    correct = [0.0] * bins
    confidence = [0.0] * bins
    for truth, row in zip(gold, probabilities, strict=True):
        best = max(range(len(row)), key=row.__getitem__)
        index = min(int(row[best] * bins), bins - 1)
        totals[index] += 1
        correct[index] += float(best == truth)
        confidence[index] += row[best]
    count = sum(totals)
    return (
        sum(abs(correct[b] - confidence[b]) for b in range(bins) if totals[b]) / count
        if count
        else math.nan
    )


def fit_temperature(logits: object, gold: Sequence[int]) -> float:
    """The single temperature T that minimises the NLL of softmax(logits / T) (LBFGS)."""
    import torch

    logits_t = torch.as_tensor(logits, dtype=torch.float64)
    gold_t = torch.as_tensor(list(gold), dtype=torch.long)
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimiser.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits_t / log_t.exp(), gold_t)
        loss.backward()
        return loss

    optimiser.step(closure)
    temperature = float(log_t.detach().exp())
    LOGGER.debug("fitted temperature %.4f", temperature)
    return temperature


def format_report(
    gold: Sequence[int], predicted: Sequence[int], probabilities: Sequence[Sequence[float]]
) -> str:
    """Macro-recall, per-class recall, the confusion matrix and ECE as printable text."""
    recalls = per_class_recall(gold, predicted)
    matrix = confusion_matrix(gold, predicted)
    width = max(len(label) for label in LABELS) + 2
    lines = [
        f"macro-recall  {macro_recall(gold, predicted):.4f}",
        "per-class recall  "
        + "  ".join(f"{label} {value:.4f}" for label, value in zip(LABELS, recalls, strict=True)),
        f"ECE ({ECE_BINS} bins)  {expected_calibration_error(gold, probabilities):.4f}",
        "confusion matrix (rows gold, columns predicted):",
        " " * width + "".join(f"{label:>{width}}" for label in LABELS),
    ]
    for label, row in zip(LABELS, matrix, strict=True):
        lines.append(f"{label:<{width}}" + "".join(f"{value:>{width}}" for value in row))
    return "\n".join(lines)
