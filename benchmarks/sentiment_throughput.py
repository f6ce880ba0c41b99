"""Sentiment throughput: the default MiniLM model's backends against a roberta-base-sized model.

    python benchmarks/sentiment_throughput.py [--texts 512] [--batch1-texts 64] [--threads 2]
                                              [--repeats 3] [--backends onnx-int8,torch]

Measures texts/s (cleaning, tokenisation, forward pass, temperature and softmax; model
loading excluded) on the first --texts TweetEval val tweets at batch sizes 32 and 64 and
the first --batch1-texts at batch size 1 (a batch is one classify() call with that many
tweets, in the split's order), for the default model under each backend
(sentiment.minilm.BACKENDS) and for a model with the architecture of twitter-roberta-base,
the published state of the art on TweetEval (RobertaConfig() defaults, 125M parameters,
3 labels) with random weights: it measures speed only. It reads the MiniLM tokenizer's ids
(RobertaConfig's vocabulary of 50,265 covers its 30,522). Every model caps texts at 64
tokens; the torch models sort each call's texts by token count and run them as one padded
batch. The repeats go round all variants in turn. Then it scores each backend on all 2,000
val tweets at batch sizes 1 and 64, and prints texts/s, the ratio to roberta-base and the
val macro-recall per backend, with the load average at the start and the end.

Backends of the default model:
- ``torch``: the merged model (base + LoRA + head) in fp32.
- ``torch-int8``: torch dynamic int8 Linear layers.
- ``onnx``: exported with torch.onnx.export, run by ONNX Runtime in fp32.
- ``onnx-int8`` (the default): that export with int8 weights, one scale per output channel
  (onnxruntime.quantization.quantize_dynamic), one text per run (a single text on both
  threads, a batch spread over two single-threaded workers, longest texts first).

Dynamic int8 quantises activations with one scale per input tensor, so a batched int8
model gives a text different scores depending on the other texts in its batch. The
``onnx-int8`` backend runs each text alone (no padding either), so its scores do not depend
on the batch; ``torch-int8`` does, which is why its two macro-recall figures differ.

Measured on the project's 2-core machine, shared with other work (torch 2.13 CPU,
onnxruntime 1.32, --threads 2 --repeats 5; 1-minute load average 0.63 at the start and 2.47
at the end, the benchmark's own two threads included):

    variant                          batch 1   batch 32   batch 64   macro-recall b1 / b64
    roberta-base arch. fp32              9.5       18.2       16.9
    default onnx-int8 (default)        209.8      361.6      389.2   0.7284 / 0.7284
    default onnx                       131.4      165.1      164.8   0.7283 / 0.7283
    default torch                       24.2      101.3      113.4   0.7283 / 0.7283
    default torch-int8                  34.0      195.4      194.3   0.7224 / 0.7345
    ratio onnx-int8 / roberta          22.0x      19.9x      23.0x

An earlier, quieter run (load average 0.37 at the start, 1.20 at the end; before a batch's
texts were run longest first) gave 245.7 / 379.0 / 410.8 texts/s for onnx-int8 against
10.9 / 20.5 / 19.1 for roberta-base: 22.5x, 18.5x and 21.5x. The figures move by 10-20%
with the machine's load, roberta-base's batch-1 figure most: compare ratios within a run.

``onnx-int8`` is the default: the fastest at every batch size, about 20x roberta-base or
more, with the fp32 model's val macro-recall (0.7284 against 0.7283) whatever the batch.
``torch-int8`` is the next fastest in batches, but its labels change with the batch (104
of the 2,000 val tweets differ between batch 1 and 64, macro-recall 0.722 at batch 1).
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
from sentiment.encoder import length_batches  # noqa: E402
from sentiment.minilm import (  # noqa: E402
    BACKENDS,
    DEFAULT_BACKEND,
    DefaultClassifier,
)
from sentiment.text import clean_text  # noqa: E402
from sentiment.training.data import TWEETEVAL_DIR, DataMissingError, read_split  # noqa: E402
from sentiment.training.metrics import macro_recall  # noqa: E402

LOGGER = logging.getLogger(__name__)

BATCH_SIZES = (1, 32, 64)
ROBERTA = "roberta-base arch. fp32"
Runner = Callable[[Sequence[str], int], object]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=TWEETEVAL_DIR)
    parser.add_argument("--texts", type=int, default=512, help="val tweets for batched runs")
    parser.add_argument("--batch1-texts", type=int, default=64, help="val tweets at batch 1")
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell; median kept")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--backends",
        default=",".join(BACKENDS),
        help="comma-separated, from " + ", ".join(BACKENDS),
    )
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
        out = []
        for start in range(0, len(texts), batch_size):
            cleaned = [clean_text(text) for text in texts[start : start + batch_size]]
            ids = tokenizer(
                cleaned, truncation=True, max_length=max_length, return_token_type_ids=False
            )["input_ids"]
            with torch.inference_mode():
                for _, batch in length_batches(ids, batch_size, tokenizer.pad_token_id):
                    out.append(model(**batch).logits.softmax(dim=-1))
        return out

    return run


def classifier_runner(classifier: DefaultClassifier) -> Runner:
    """The default classifier's own classify(), called with ``batch_size`` texts at a time."""

    def run(texts: Sequence[str], batch_size: int) -> object:
        classifier.batch_size = batch_size
        return [
            classifier.classify(texts[start : start + batch_size])
            for start in range(0, len(texts), batch_size)
        ]

    return run


def timed(run: Runner, texts: Sequence[str], batch_size: int) -> float:
    """texts/s of one run over ``texts``."""
    started = time.perf_counter()
    run(texts, batch_size)
    return len(texts) / (time.perf_counter() - started)


def measure_all(
    runners: dict[str, Runner], texts: list[str], args: argparse.Namespace
) -> dict[str, list[float]]:
    """Median texts/s of each runner at each of BATCH_SIZES.

    The repeats go round all runners and batch sizes in turn, so a change in the machine's
    load during the run falls on every variant alike.
    """
    samples = {
        b: texts[: args.batch1_texts] if b == 1 else texts[: args.texts] for b in BATCH_SIZES
    }
    for run in runners.values():  # warm-up
        for batch_size in BATCH_SIZES:
            run(samples[batch_size][:batch_size], batch_size)
    rates: dict[str, dict[int, list[float]]] = {
        name: {b: [] for b in BATCH_SIZES} for name in runners
    }
    for repeat in range(args.repeats):
        for name, run in runners.items():
            for batch_size in BATCH_SIZES:
                rates[name][batch_size].append(timed(run, samples[batch_size], batch_size))
            cells = "  ".join(f"batch {b}: {rates[name][b][-1]:.1f}" for b in BATCH_SIZES)
            print(f"  run {repeat + 1}, {name:<30} {cells} texts/s", flush=True)
    return {name: [statistics.median(rates[name][b]) for b in BATCH_SIZES] for name in runners}


def val_labels(classifier: DefaultClassifier, texts: list[str], batch_size: int) -> list[int]:
    """Predicted label indices for the whole split, classified ``batch_size`` at a time."""
    classifier.batch_size = batch_size
    labels: list[int] = []
    for start in range(0, len(texts), batch_size):
        batch = classifier.classify(texts[start : start + batch_size])
        labels.extend(LABELS.index(result.label) for result in batch)
    return labels


def load_average() -> str:
    """The 1-minute load average, or '?' where the system does not report it."""
    try:
        return f"{os.getloadavg()[0]:.2f}"
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    """Measure and print the tables; the exit status."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(args.threads)
    backends = [name.strip() for name in args.backends.split(",") if name.strip()]
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown:
        print(f"unknown backend(s) {unknown}: choose from {', '.join(BACKENDS)}", file=sys.stderr)
        return 2
    try:
        val_texts, val_gold = read_split(args.data, "val")
    except DataMissingError as exc:
        print(f"cannot benchmark: {exc}", file=sys.stderr)
        return 2
    import onnxruntime

    load_at_start = load_average()
    print(
        f"torch {torch.__version__}, onnxruntime {onnxruntime.__version__}, {args.threads} "
        f"threads; batch 1 on {args.batch1_texts} val tweets, batches of 32 and 64 on "
        f"{args.texts}; median of {args.repeats} run(s); load average {load_at_start}",
        flush=True,
    )

    classifiers: dict[str, DefaultClassifier] = {}
    for backend in backends:
        started = time.perf_counter()
        classifier = DefaultClassifier(backend=backend, threads=args.threads)
        print(f"{classifier.name}: loaded in {time.perf_counter() - started:.1f} s", flush=True)
        name = f"default {backend}" + (" (default)" if backend == DEFAULT_BACKEND else "")
        classifiers[name] = classifier
    runners: dict[str, Runner] = {}
    if not args.no_roberta:
        from sentiment.minilm import load_tokenizer

        runners[ROBERTA] = roberta_runner(load_tokenizer(), 64)
    runners.update({name: classifier_runner(c) for name, c in classifiers.items()})
    rows = measure_all(runners, val_texts, args)
    runners.clear()

    recalls: dict[str, tuple[float, float, int]] = {}
    for name, classifier in classifiers.items():
        one = val_labels(classifier, val_texts, 1)
        sixty_four = val_labels(classifier, val_texts, 64)
        changed = sum(a != b for a, b in zip(one, sixty_four, strict=True))
        recalls[name] = (macro_recall(val_gold, one), macro_recall(val_gold, sixty_four), changed)
        print(
            f"  {name:<30} val macro-recall {recalls[name][0]:.4f} at batch 1, "
            f"{recalls[name][1]:.4f} at batch 64 ({changed} labels differ)",
            flush=True,
        )

    print(
        f"\nthroughput in texts/s (higher is better), val macro-recall on all {len(val_texts)} "
        f"val tweets; load average {load_at_start} at start, {load_average()} at end"
    )
    header = f"{'variant':<32}" + "".join(f"{'batch ' + str(b):>11}" for b in BATCH_SIZES)
    header += f"{'val macro-recall b1 / b64':>29}{'labels b1 != b64':>18}"
    print(header)
    print("-" * len(header))
    for name, rates in rows.items():
        line = f"{name:<32}" + "".join(f"{rate:>11.1f}" for rate in rates)
        if name in recalls:
            one, sixty_four, changed = recalls[name]
            line += f"{one:>20.4f} / {sixty_four:.4f}{changed:>18}"
        print(line)
    if ROBERTA in rows:
        print(f"\nratio to {ROBERTA} (texts/s over texts/s)")
        for name, rates in rows.items():
            if name == ROBERTA:
                continue
            ratios = [ours / theirs for ours, theirs in zip(rates, rows[ROBERTA], strict=True)]
            print(f"{name:<32}" + "".join(f"{ratio:>10.1f}x" for ratio in ratios))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
