"""Posts/s through ``social-crm classify`` per language, against a roberta-base-sized model.

    python benchmarks/classify_speed.py [--posts 2000] [--repeats 3] [--threads 2]
                                        [--model default|multilingual]

End to end, as a user runs it: ``social-crm classify --model default --file F`` in its own
process, language detection, routing, tokenisation, the int8 ONNX models and the JSON
lines on stdout included. Start-up (loading the models from the cache) is taken out by
timing a one-line file too: rate = (posts - 1) / (time for the file - time for one line).
The sets:
- English: TweetEval val tweets;
- Dutch: Dutch lines of the XED subtitles joined into posts of at least 120 characters
  (tweet length; the subtitles alone are shorter than posts);
- German: UMSAB German val tweets.
The roberta-base-sized model of ``benchmarks/sentiment_throughput.py`` (random weights,
speed only) runs the English posts in the same run, at batch 32 and 64; the better figure
is the one compared. Language detection's share is its time per post (in this process)
over the time per classified post. Figures are medians over --repeats runs; the load
average at the start and the end says how busy the machine was.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sentiment.training.data import (  # noqa: E402
    TWEETEVAL_DIR,
    UMSAB_DIR,
    DataMissingError,
    read_split,
)
from sentiment.training.train_e5 import read_xed  # noqa: E402

CLI = [sys.executable, "-m", "social_crm.cli"]


def dutch_posts(count: int) -> list[str]:
    """XED's Dutch lines, consecutive ones joined until a post has 120 characters."""
    lines, _ = read_xed()
    posts, current = [], ""
    for line in lines:
        current = f"{current} {line}".strip()
        if len(current) >= 120:
            posts.append(current)
            current = ""
    return (posts * (count // max(1, len(posts)) + 1))[:count]


def seconds(path: Path, threads: int, model: str) -> float:
    """Wall time of one ``social-crm classify --model model --file path`` process."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    started = time.perf_counter()
    subprocess.run(
        [*CLI, "classify", "--model", model, "--file", str(path)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    return time.perf_counter() - started


def roberta_rate(texts: list[str], threads: int) -> float:
    """The roberta-base-sized model's best texts/s over batch sizes 32 and 64."""
    import torch

    from benchmarks.sentiment_throughput import roberta_runner, timed
    from sentiment.minilm import load_tokenizer

    torch.set_num_threads(threads)
    run = roberta_runner(load_tokenizer(), 64)
    return max(timed(run, texts, batch) for batch in (32, 64))


def detection_ms(texts: list[str]) -> float:
    """Milliseconds of language detection per post."""
    from sentiment.language import detect_language

    detect_language("warm up the detector")
    started = time.perf_counter()
    for text in texts:
        detect_language(text)
    return (time.perf_counter() - started) * 1000 / len(texts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--model", default="default", help="sentiment.model: default, multilingual")
    args = parser.parse_args()
    try:
        english = read_split(TWEETEVAL_DIR, "val")[0][: args.posts]
        german = read_split(UMSAB_DIR / "german", "val")[0]
        sets = {"English": english, "Dutch": dutch_posts(args.posts), "German": german}
    except (DataMissingError, FileNotFoundError) as exc:
        print(f"cannot benchmark: {exc}", file=sys.stderr)
        return 2
    print(f"load average at start {os.getloadavg()[0]:.2f}", flush=True)
    rows = {}
    with tempfile.TemporaryDirectory() as scratch:
        one = Path(scratch) / "one.txt"
        one.write_text("warm up\n", encoding="utf-8")
        seconds(one, args.threads, args.model)  # builds the cached models on a fresh machine
        for name, texts in sets.items():
            path = Path(scratch) / f"{name}.txt"
            flat = [" ".join(text.split()) for text in texts]
            path.write_text("\n".join(flat) + "\n", encoding="utf-8")
            rates = []
            for _ in range(args.repeats):
                startup = seconds(one, args.threads, args.model)
                elapsed = seconds(path, args.threads, args.model) - startup
                rates.append((len(flat) - 1) / max(1e-9, elapsed))
            rate = statistics.median(rates)
            chars = statistics.mean(len(text) for text in flat)
            share = detection_ms(flat) / (1000 / rate)
            rows[name] = (len(flat), chars, rate, share)
            print(f"{name}: {rate:.0f} posts/s", flush=True)
    roberta = roberta_rate(english, args.threads)
    print(f"\nposts/s through social-crm classify --model {args.model} ({args.threads} threads)")
    print(f"{'posts':<10}{'count':>7}{'chars':>7}{'posts/s':>9}{'detection':>11}{'/ roberta':>11}")
    for name, (count, chars, rate, share) in rows.items():
        ratio = f"{rate / roberta:.1f}x"
        print(f"{name:<10}{count:>7}{chars:>7.0f}{rate:>9.0f}{share:>10.1%}{ratio:>11}")
    print(f"roberta-base-sized model, English, best of batch 32/64: {roberta:.1f} posts/s")
    print(f"load average at end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
