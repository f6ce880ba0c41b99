"""Benchmark: ambassador scoring over many mentions in a SQLite file.

Generates ``--mentions`` classified mentions by ``--authors`` authors (bulk inserts through
SQLAlchemy Core executemany), then times a full recompute, an incremental one after 1% new
mentions, and an incremental one with nothing new, each with its peak memory::

    .venv/bin/python benchmarks/scoring.py                      # 1M mentions, 100k authors
    .venv/bin/python benchmarks/scoring.py --mentions 100000 --authors 10000

Each measurement runs in a fresh process, so peak RSS is that of scoring alone.
"""

from __future__ import annotations

import argparse
import random
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from social_crm.ambassadors import scoring
from social_crm.ambassadors.models import AmbassadorScore
from social_crm.db import Database
from social_crm.mentions.models import AuthorRecord, MentionRecord, SentimentRecord

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
CHUNK = 50_000
LABELS = (("positive", 0.5), ("neutral", 0.35), ("negative", 0.15))


def generate(db: Database, *, mentions: int, authors: int, first: int = 0, seed: int = 1) -> None:
    """Bulk-insert authors (when ``first`` is 0), mentions and their sentiments."""
    rng = random.Random(seed)
    with db.engine.begin() as connection:
        if first == 0:
            connection.execute(
                insert(AuthorRecord.__table__),
                [
                    {
                        "network": "reddit" if i % 3 else "mastodon",
                        "handle": f"user{i}" if i % 3 else f"user{i}@mastodon.example",
                        "display_name": f"User {i}",
                        "url": "",
                        "followers": int(rng.paretovariate(1.2)) - 1,
                    }
                    for i in range(authors)
                ],
            )
        ids = connection.execute(select(AuthorRecord.id)).scalars().all()
    labels, weights = zip(*LABELS, strict=True)
    classified_at = NOW if first else NOW - timedelta(days=1)
    for start in range(first, first + mentions, CHUNK):
        stop = min(start + CHUNK, first + mentions)
        rows, sentiments = [], []
        for n in range(start, stop):
            created = NOW - timedelta(seconds=rng.randrange(400 * 86400)) if not first else NOW
            rows.append(
                {
                    "id": n + 1,
                    "network": "reddit",
                    "native_id": f"t1_{n}",
                    "brand": "Brewly",
                    "source": "bench",
                    "url": "",
                    "author_id": rng.choice(ids),
                    "text": "benchmark mention",
                    "kind": "comment",
                    "thread_id": f"t3_{n // 10}",
                    "reach": rng.randrange(50),
                    "created_at": created,
                    "ingested_at": created,
                }
            )
            label = rng.choices(labels, weights)[0]
            confidence = rng.uniform(0.5, 1.0)
            rest = (1 - confidence) / 2
            sentiments.append(
                {
                    "mention_id": n + 1,
                    "label": label,
                    "confidence": confidence,
                    "negative": rest,
                    "neutral": rest,
                    "positive": rest,
                    **{label: confidence},
                    "model": "bench",
                    "classified_at": classified_at,
                }
            )
        with db.engine.begin() as connection:
            connection.execute(insert(MentionRecord.__table__), rows)
            connection.execute(insert(SentimentRecord.__table__), sentiments)


def measure(url: str, *, full: bool, now: datetime, trace: bool) -> None:
    """Score once in this process; print seconds, authors ranked and peak memory."""
    db = Database(url)
    if trace:
        tracemalloc.start()
    began = time.perf_counter()
    with db.transaction() as session:
        ranked = scoring.recompute(session, now=now, full=full)
    seconds = time.perf_counter() - began
    traced = tracemalloc.get_traced_memory()[1] / 2**20 if trace else float("nan")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with db.transaction() as session:
        stored = session.scalar(select(func.count()).select_from(AmbassadorScore))
    db.close()
    print(
        f"{'full' if full else 'incremental':>11}: {seconds:7.2f} s, {ranked} ranked, "
        f"{stored} scores stored, peak RSS {rss:.0f} MiB"
        + (f", peak Python allocations {traced:.0f} MiB" if trace else "")
    )


def child(url: str, mode: str, now: datetime, trace: bool) -> None:
    args = [sys.executable, __file__, "--measure", mode, "--url", url, "--now", now.isoformat()]
    subprocess.run([*args, *(["--trace"] if trace else [])], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mentions", type=int, default=1_000_000)
    parser.add_argument("--authors", type=int, default=100_000)
    parser.add_argument("--db", type=Path, help="SQLite file to use (default: a temporary one)")
    parser.add_argument("--trace", action="store_true", help="also trace Python allocations")
    parser.add_argument("--measure", choices=["full", "incremental"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.measure:
        now = datetime.fromisoformat(options.now)
        measure(options.url, full=options.measure == "full", now=now, trace=options.trace)
        return
    folder = Path(tempfile.mkdtemp(prefix="social-crm-bench-"))
    path = options.db or folder / "bench.sqlite"
    path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    db = Database(url)
    db.upgrade()
    began = time.perf_counter()
    generate(db, mentions=options.mentions, authors=options.authors)
    print(
        f"generated {options.mentions} mentions by {options.authors} authors in "
        f"{time.perf_counter() - began:.1f} s ({path}, {path.stat().st_size / 2**20:.0f} MiB)"
    )
    child(url, "full", NOW, options.trace)
    new = max(options.mentions // 100, 1)
    generate(db, mentions=new, authors=options.authors, first=options.mentions, seed=2)
    db.close()
    print(f"added {new} new classified mentions")
    # The new mentions were classified at NOW; incremental runs re-read 10 minutes before
    # the last run, so the second incremental run, 15 minutes later, finds nothing new.
    child(url, "incremental", NOW + timedelta(minutes=15), options.trace)
    child(url, "incremental", NOW + timedelta(minutes=30), options.trace)


if __name__ == "__main__":
    main()
