"""Sentiment throughput: the default MiniLM model against a roberta-base-sized model.

    python benchmarks/sentiment_throughput.py [--texts 512] [--batch1-texts 64] [--threads 2]

Measures texts/s (tokenisation, forward pass and softmax; model loading excluded) on the
first --texts TweetEval val tweets at batch sizes 1, 32 and 64; the batched runs sort the
texts by length first, as the classifiers do. The roberta model has the architecture of
twitter-roberta-base, the published state of the art on TweetEval (RobertaConfig()
defaults, 125M parameters, 3 labels), with random weights: it measures speed only. It
reads the MiniLM tokenizer's ids (RobertaConfig's vocabulary of 50,265 covers its 30,522).
Then it quantises the merged default model's Linear layers to dynamic int8 and reports the
int8 speed and its macro-recall on the whole val split beside the fp32 one.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

# Waiting OpenMP threads sleep instead of spinning (much faster on a busy shared machine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentiment.base import LABELS  # noqa: E402
from sentiment.data import TWEETEVAL_DIR, DataMissingError, read_split  # noqa: E402
from sentiment.metrics import macro_recall  # noqa: E402
from sentiment.minilm import DefaultClassifier, encode  # noqa: E402

LOGGER = logging.getLogger(__name__)

BATCH_SIZES = (1, 32, 64)
Runner = Callable[[Sequence[str], int], object]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=TWEETEVAL_DIR)
    parser.add_argument("--texts", type=int, default=512, help="val tweets for batched runs")
    parser.add_argument("--batch1-texts", type=int, default=64, help="val tweets at batch 1")
    parser.add_argument("--repeats", type=int, default=1, help="runs per cell; median kept")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-roberta", action="store_true", help="skip the roberta model")
    return parser.parse_args(argv)


def roberta_runner(tokenizer: object, max_length: int) -> Runner:
    """A randomly initialised roberta-base classifier run like the project's classifiers."""
    from transformers import RobertaConfig, RobertaForSequenceClassification

    torch.manual_seed(0)
    config = RobertaConfig(num_labels=len(LABELS), pad_token_id=tokenizer.pad_token_id)
    model = RobertaForSequenceClassification(config).eval()
    LOGGER.info("roberta: %.1fM parameters", sum(p.numel() for p in model.parameters()) / 1e6)

    def run(texts: Sequence[str], batch_size: int) -> object:
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = []
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                batch = encode(
                    tokenizer, [texts[i] for i in order[start : start + batch_size]], max_length
                )
                out.append(model(**batch).logits.softmax(dim=-1))
        return out

    return run


def classifier_runner(classifier: DefaultClassifier) -> Runner:
    """The default classifier's own classify(), at a given batch size."""

    def run(texts: Sequence[str], batch_size: int) -> object:
        classifier.batch_size = batch_size
        return classifier.classify(texts)

    return run


def texts_per_second(run: Runner, texts: Sequence[str], batch_size: int, repeats: int) -> float:
    """The median texts/s over ``repeats`` timed runs, after one warm-up batch."""
    run(texts[:batch_size], batch_size)
    rates = []
    for _ in range(repeats):
        started = time.perf_counter()
        run(texts, batch_size)
        rates.append(len(texts) / (time.perf_counter() - started))
    return statistics.median(rates)


def measure(name: str, run: Runner, texts: list[str], args: argparse.Namespace) -> list[float]:
    """texts/s at each of BATCH_SIZES."""
    rates = []
    for batch_size in BATCH_SIZES:
        sample = texts[: args.batch1_texts] if batch_size == 1 else texts[: args.texts]
        rates.append(texts_per_second(run, sample, batch_size, args.repeats))
        print(f"  {name:<28} batch {batch_size:>2}: {rates[-1]:8.1f} texts/s", flush=True)
    return rates


def val_macro_recall(classifier: DefaultClassifier, texts: list[str], gold: list[int]) -> float:
    """Macro-recall on the given split."""
    classifier.batch_size = 64
    predicted = [LABELS.index(result.label) for result in classifier.classify(texts)]
    return macro_recall(gold, predicted)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the tables; the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(args.threads)
    try:
        val_texts, val_gold = read_split(args.data, "val")
    except DataMissingError as exc:
        print(f"cannot benchmark: {exc}", file=sys.stderr)
        return 2
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"batch 1 on {args.batch1_texts} tweets, batches of 32 and 64 on {args.texts} "
        f"(sorted by length); median of {args.repeats} run(s)"
    )

    default = DefaultClassifier()
    rows: dict[str, list[float]] = {}
    rows[f"{default.name} fp32"] = measure(
        "default fp32", classifier_runner(default), val_texts, args
    )
    if not args.no_roberta:
        roberta = roberta_runner(default.tokenizer, default.max_length)
        rows["roberta-base arch. fp32"] = measure("roberta-base fp32", roberta, val_texts, args)
        del roberta

    fp32_recall = val_macro_recall(default, val_texts, val_gold)
    int8 = DefaultClassifier(quantize=True)
    rows[int8.name] = measure("default int8", classifier_runner(int8), val_texts, args)
    int8_recall = val_macro_recall(int8, val_texts, val_gold)

    print("\ntexts/s (higher is better)")
    header = f"{'model':<40}" + "".join(f"{'batch ' + str(b):>12}" for b in BATCH_SIZES)
    print(header)
    print("-" * len(header))
    for name, rates in rows.items():
        print(f"{name:<40}" + "".join(f"{rate:>12.1f}" for rate in rates))
    if "roberta-base arch. fp32" in rows:
        pairs = zip(rows[f"{default.name} fp32"], rows["roberta-base arch. fp32"], strict=True)
        ratios = [ours / theirs for ours, theirs in pairs]
        print(f"{'ratio default fp32 / roberta':<40}" + "".join(f"{r:>11.1f}x" for r in ratios))
    print(
        f"\nval macro-recall ({len(val_texts)} tweets): fp32 {fp32_recall:.4f}, "
        f"int8 {int8_recall:.4f} (difference {int8_recall - fp32_recall:+.4f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
