"""Score a sentiment classifier on TweetEval (and optionally UMSAB) validation data.

    python -m sentiment.evaluate [--model default|lexicon|PATH] [--split val] [--data DIR]
                                 [--umsab] [--umsab-data DIR] [--backend onnx-int8]
                                 [--sets select|final]

Prints macro-recall (TweetEval's official metric), per-class recall, the confusion matrix,
the expected calibration error (15 bins) and the speed in texts/s. With --umsab it also
prints, for each of UMSAB's eight languages, macro-recall and per-class recall on its val
split and how many texts each model labelled (``default`` routes by language: the MiniLM
for English, the fine-tuned multilingual-e5-small for the rest), then the report over all
of them. The data is read from ../shared/data (or --data / SENTIMENT_DATA_DIR); the
script stops with a message where it is absent. With --sets it prints, instead,
macro-recall per language on the halves of the validation data that
``sentiment.training.train_e5`` selects on or keeps for its final figure (two-class sets
compare only the negative and positive scores).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections import Counter
from pathlib import Path

# Waiting OpenMP threads sleep instead of spinning (much faster on a busy shared machine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

from sentiment import load_classifier  # noqa: E402
from sentiment.base import LABELS, Classifier  # noqa: E402
from sentiment.training.data import (  # noqa: E402
    TWEETEVAL_DIR,
    UMSAB_DIR,
    UMSAB_LANGUAGES,
    DataMissingError,
    read_split,
)
from sentiment.training.metrics import format_report, macro_recall, per_class_recall  # noqa: E402

LOGGER = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", default="default", help="default, lexicon, an adapter folder or a model path"
    )
    parser.add_argument("--split", default="val")
    parser.add_argument("--data", type=Path, default=TWEETEVAL_DIR)
    parser.add_argument("--umsab", action="store_true", help="also UMSAB val, per language")
    parser.add_argument("--umsab-data", type=Path, default=UMSAB_DIR)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--backend",
        default=None,
        help="onnx-int8 (the default), onnx, torch or torch-int8 (default model or adapter)",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--sets",
        choices=("select", "final"),
        help="instead: macro-recall per language on the multilingual model's selection or "
        "final halves (sentiment.training.train_e5), for a before/after comparison",
    )
    return parser.parse_args(argv)


def build(model: str, batch_size: int, backend: str | None) -> Classifier:
    """The classifier named on the command line; a folder with sentiment.json is an adapter.

    ``default`` is what the daemon runs: the MiniLM for English and undetected posts, the
    fine-tuned multilingual-e5-small for the rest (sentiment.routing). An adapter folder is
    evaluated alone, without routing.
    """
    from sentiment.minilm import DEFAULT_BACKEND, METADATA_FILE, DefaultClassifier

    if model == "default":
        from sentiment import default_classifier

        return default_classifier(batch_size=batch_size, backend=backend)
    adapter = Path(model).expanduser()
    if (adapter / METADATA_FILE).is_file():
        return DefaultClassifier(
            batch_size=batch_size, backend=backend or DEFAULT_BACKEND, model_dir=adapter
        )
    if backend:
        raise SystemExit("--backend applies to the default model or an adapter folder only")
    return load_classifier(model, batch_size=batch_size)


def score(classifier: Classifier, texts: list[str]) -> tuple[list[int], list[list[float]], float]:
    """Predicted label indices, probabilities, and texts/s."""
    predicted, probabilities, rate, _ = score_routed(classifier, texts)
    return predicted, probabilities, rate


def score_routed(
    classifier: Classifier, texts: list[str]
) -> tuple[list[int], list[list[float]], float, Counter[str]]:
    """As score, and how many texts each model labelled."""
    started = time.perf_counter()
    results = classifier.classify(texts)
    rate = len(texts) / (time.perf_counter() - started)
    predicted = [LABELS.index(result.label) for result in results]
    probabilities = [[result.scores[label] for label in LABELS] for result in results]
    models = Counter(result.model or classifier.name for result in results)
    return predicted, probabilities, rate, models


def main(argv: list[str] | None = None) -> int:
    """Evaluate and print; the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(args.threads)
    if args.sets:
        return by_set(build(args.model, args.batch_size, args.backend), args.sets)
    try:
        texts, gold = read_split(args.data, args.split)
    except DataMissingError as exc:
        print(f"cannot evaluate: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    classifier = build(args.model, args.batch_size, args.backend)
    print(f"model {classifier.name} (loaded in {time.perf_counter() - started:.1f} s)")
    predicted, probabilities, rate = score(classifier, texts)
    print(f"TweetEval {args.split}: {len(texts)} tweets from {args.data}")
    print(format_report(gold, predicted, probabilities))
    print(f"speed  {rate:.1f} texts/s (batch {args.batch_size}, {torch.get_num_threads()} threads)")
    if args.umsab:
        umsab(classifier, args.umsab_data)
    return 0


def by_set(classifier: Classifier, which: str) -> int:
    """Print macro-recall on each set of the multilingual model's ``which`` split."""
    from sentiment.training import train_e5

    try:
        _, select, final, _ = train_e5.load_data(train_e5.parse_args([]))
    except DataMissingError as exc:
        print(f"cannot evaluate: {exc}", file=sys.stderr)
        return 2
    split = select if which == "select" else final
    predicted, probabilities, rate, models = score_routed(classifier, split.texts)
    # Probabilities order like logits (a monotone map), which is all the scoring compares.
    scores = train_e5.scores_by_set(split, torch.tensor(probabilities))
    print(f"model {classifier.name}, {which} split ({len(split.texts)} texts, {rate:.0f} texts/s)")
    for name, value in scores.items():
        print(f"  {name:<14} {value:.4f}")
    print(f"  {'mean':<14} {sum(scores.values()) / len(scores):.4f}")
    return 0


def umsab(classifier: Classifier, directory: Path) -> None:
    """Print macro-recall, per-class recall and the model mix on each language's val split."""
    print("\nUMSAB val per language: macro-recall, per-class recall, texts per model")
    print(f"  {'language':<11} {'macro':>6} {'neg':>6} {'neu':>6} {'pos':>6}  models")
    scores = []
    all_gold: list[int] = []
    all_predicted: list[int] = []
    all_probabilities: list[list[float]] = []
    for language in UMSAB_LANGUAGES:
        try:
            texts, gold = read_split(directory / language, "val")
        except DataMissingError as exc:
            print(f"  {language:<11} skipped: {exc}")
            continue
        predicted, probabilities, rate, models = score_routed(classifier, texts)
        scores.append(macro_recall(gold, predicted))
        recalls = "".join(f" {value:>6.4f}" for value in per_class_recall(gold, predicted))
        mix = ", ".join(f"{name} {count}" for name, count in models.most_common())
        print(f"  {language:<11} {scores[-1]:>6.4f}{recalls}  {mix}  ({rate:.0f} texts/s)")
        all_gold += gold
        all_predicted += predicted
        all_probabilities += probabilities
    if scores:
        print(f"  {'mean':<11} {sum(scores) / len(scores):>6.4f}")
        print("\nUMSAB val, all languages together:")
        print(format_report(all_gold, all_predicted, all_probabilities))


if __name__ == "__main__":
    raise SystemExit(main())
