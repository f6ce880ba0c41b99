"""Alert volume and alert latency: what escalation sends, and how fast.

    python benchmarks/alert_latency.py [--negatives 1000] [--alerts 200] [--rate 10]
        [--process-interval 1] [--deliver-interval 1] [--database URL]
        [--only volume|latency]

1. **Alerts per 1,000 negative mentions** in a replayed stream shaped like the demo's (a
   week of posts and replies about one brand on Reddit and Mastodon: conversations of
   heavy-tailed length, a quarter of them angry, a few authors who post again and again,
   one hour-long pile-on), with ``--negatives`` negative mentions among the positive and
   neutral ones, labelled by the lexicon classifier and escalated in 5-minute steps with
   the default rules:
   - one alert per mention: every negative mention a rule matches is an alert (no dedup);
   - one per conversation: later mentions in a thread join its open alert;
   - dedup as shipped: per conversation, plus the author cooldown and the crisis alert
     that gathers the pile-on; also the messages sent at once (low alerts wait for the
     digest).
2. **Latency from mention stored to webhook received**: a daemon (the real scheduler,
   lexicon classifier, outbox and an HTTP receiver on 127.0.0.1) runs while negative
   mentions are stored at ``--rate`` per second, each its own conversation; for each
   alert, the time from the mention's ``ingested_at`` to the moment the receiver read the
   POST. It is bounded by the process and deliver intervals (the demo uses 1 s each; the
   defaults are 10 s).
"""

from __future__ import annotations

import argparse
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select  # noqa: E402

from connectors.base import Author, Batch, Mention  # noqa: E402
from sentiment.lexicon import LexiconClassifier  # noqa: E402
from social_crm.alerts.escalation import Routing, escalate_pending  # noqa: E402
from social_crm.alerts.models import Alert  # noqa: E402
from social_crm.alerts.spikes import check_spikes  # noqa: E402
from social_crm.config import EscalationConfig, Settings, SpikesConfig  # noqa: E402
from social_crm.daemon import Daemon  # noqa: E402
from social_crm.db import Database  # noqa: E402
from social_crm.delivery.models import Delivery  # noqa: E402
from social_crm.demo.servers.sinks import WebhookSink  # noqa: E402
from social_crm.mentions.classify import classify_pending  # noqa: E402
from social_crm.mentions.ingest import store_batch  # noqa: E402
from social_crm.mentions.models import MentionRecord, SentimentRecord  # noqa: E402

LOGGER = logging.getLogger(__name__)

# Every ANGRY and MILD text is labelled negative by the lexicon; every HAPPY one is not.
ANGRY = [
    "Brewly support is a disgrace, broken after two weeks. Terrible.",
    "Same here, mine leaks water everywhere. Really awful.",
    "Still no answer from support. Horrible and useless.",
    "My order arrived broken and nobody answers my emails. Awful, disappointing.",
    "Worst purchase ever, I want a refund.",
    "The grinder is so loud and the app keeps crashing. Hate it.",
]
MILD = ["The manual is a little confusing."]  # negative below the rules' threshold (0.58)
HAPPY = [
    "Perfect espresso every single morning, love it!",
    "Gorgeous design and so quiet, great machine.",
    "The new descaling tablets work great too. Happy!",
    "Does the Brewly One work on 110V?",
    "Third week with my Brewly and every cup is excellent.",
    "Reviewing the Brewly One this week, full review on Friday.",
]
START = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


PILE_ON = 80  # angry posts in one hour, each its own thread


def stream(negatives: int, *, seed: int = 7) -> list[Mention]:
    """A week of demo-like mentions about one brand, ``negatives`` of them negative."""
    rng = random.Random(seed)
    authors = [f"user{n}" for n in range(600)]
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(authors))]  # a few post a lot
    mentions: list[Mention] = []
    thread = angry_count = 0
    pile_on = START + timedelta(days=5, hours=14)
    wanted = max(negatives - PILE_ON, 0)
    while angry_count < wanted:
        thread += 1
        angry = rng.random() < 0.25
        network = "mastodon" if rng.random() < 0.4 else "reddit"
        at = START + timedelta(seconds=rng.uniform(0, 7 * 86400))
        replies = min(int(rng.paretovariate(1.3)) - 1, 120)
        for n in range(replies + 1):
            negative = angry_count < wanted and rng.random() < (0.7 if angry else 0.08)
            angry_count += negative
            texts = (MILD if rng.random() < 0.15 else ANGRY) if negative else HAPPY
            mentions.append(
                _mention(
                    f"t{thread}_{n}",
                    f"t{thread}",
                    rng.choices(authors, weights)[0],
                    rng.choice(texts),
                    at + timedelta(minutes=n * rng.uniform(1, 30)),
                    rng.randint(0, 40),
                    network=network,
                )
            )
    for n in range(min(PILE_ON, negatives)):
        mentions.append(
            _mention(
                f"pile{n}",
                f"pile{n}",
                f"angry{n}",
                rng.choice(ANGRY),
                pile_on + timedelta(seconds=n * 45),
                rng.randint(0, 400),
            )
        )
    return sorted(mentions, key=lambda m: m.created_at)


def _mention(
    native_id: str,
    thread: str,
    author: str,
    text: str,
    at: datetime,
    reach: int,
    *,
    network: str = "reddit",
) -> Mention:
    host = "mastodon.social" if network == "mastodon" else "www.reddit.com"
    return Mention(
        network=network,
        native_id=native_id,
        brand="Brewly",
        source="Brewly:r/brewly" if network == "reddit" else "Brewly:#brewly",
        url=f"https://{host}/{native_id}",
        author=Author(network=network, handle=author, followers=reach * 3),
        text=text,
        created_at=at,
        kind="comment" if not native_id.endswith("_0") else "post",
        thread_id=thread,
        reach=reach,
    )


def replay(mentions: list[Mention], *, cooldown: float, spikes: bool) -> dict[str, int]:
    """Store, label and escalate the stream in 5-minute steps; count what it raised."""
    with tempfile.TemporaryDirectory() as folder:
        db = Database(f"sqlite:///{folder}/replay.sqlite")
        db.upgrade()
        classifier = LexiconClassifier()
        config = EscalationConfig(author_cooldown_minutes=cooldown)
        spike_config = SpikesConfig(enabled=spikes)
        routing = Routing(levels=(("chat",),), digest_at_most="low")
        step, index = START, 0
        while index < len(mentions):
            step += timedelta(minutes=5)
            batch = []
            while index < len(mentions) and mentions[index].created_at <= step:
                batch.append(mentions[index])
                index += 1
            with db.transaction() as session:
                store_batch(session, "replay", "src", Batch(batch, None))
                while classify_pending(session, classifier, limit=500):
                    pass
                escalate_pending(session, config, routing, now=step, limit=100_000)
                check_spikes(session, spike_config, config, routing, now=step)
        with db.transaction() as session:

            def count(query: object) -> int:
                return int(session.scalar(query) or 0)  # type: ignore[call-overload]

            negatives = count(
                select(func.count())
                .select_from(SentimentRecord)
                .where(SentimentRecord.label == "negative")
            )
            matched = count(
                select(func.sum(Alert.mention_count)).where(Alert.kind == "mention")
            ) + count(select(func.count()).select_from(Alert).where(Alert.kind == "crisis"))
            alerts = count(select(func.count()).select_from(Alert))
            crises = count(select(func.count()).select_from(Alert).where(Alert.kind == "crisis"))
            immediate = count(
                select(func.count()).select_from(Delivery).where(Delivery.status == "pending")
            )
            waiting = count(
                select(func.count()).select_from(Delivery).where(Delivery.status == "digest")
            )
        db.close()
    return {
        "negatives": negatives,
        "matched": matched,
        "alerts": alerts,
        "crises": crises,
        "immediate": immediate,
        "digest": waiting,
    }


def volume(negatives: int) -> None:
    """Print alerts per 1,000 negative mentions, one per mention and with dedup."""
    mentions = stream(negatives)
    started = time.monotonic()
    threads = replay(mentions, cooldown=0, spikes=False)
    now = replay(mentions, cooldown=60, spikes=True)
    per_k = 1000 / now["negatives"]
    threads_total = len({(m.network, m.thread_id) for m in mentions})
    authors = len({(m.network, m.author.handle) for m in mentions})
    print(
        f"stream: {len(mentions)} mentions in {threads_total} conversations by {authors} "
        f"authors over 7 days; {now['negatives']} labelled negative (lexicon)"
    )
    print("per 1,000 negative mentions:")
    # Without dedup every mention a rule matches is an alert: the thread-only run's
    # alerts count each mention they gathered.
    rows = [
        ("one alert per mention (no dedup)", threads["matched"], "alerts", ""),
        ("one alert per conversation", threads["alerts"], "alerts", ""),
        (
            "dedup: conversation + author 60 min + crisis",
            now["alerts"],
            "alerts",
            f" ({now['crises']} crisis alert(s))",
        ),
        (
            "messages sent at once, per channel",
            now["immediate"],
            "messages",
            f" (+{now['digest'] * per_k:.1f} low alerts waiting for the hourly digest)",
        ),
    ]
    for label, value, unit, note in rows:
        print(f"  {label + ':':<46} {value * per_k:6.1f} {unit}{note}")
    print(f"({time.monotonic() - started:.0f} s to replay the stream twice)")


def latency(alerts: int, rate: float, process: float, deliver: float, url: str | None) -> None:
    """Run a daemon, store negative mentions at ``rate``/s, time their webhook arrival."""
    with tempfile.TemporaryDirectory() as folder, WebhookSink() as sink:
        settings = Settings.model_validate(
            {
                "brands": [{"name": "Brewly", "keywords": ["brewly"]}],
                "database": {"url": url or f"sqlite:///{folder}/latency.sqlite"},
                "sentiment": {"model": "lexicon"},
                "alerts": {
                    "channels": [{"type": "webhook", "name": "chat", "url": sink.url}],
                    "digest": None,
                },
                "spikes": {"enabled": False},
                "scheduler": {
                    "process_interval_seconds": process,
                    "deliver_interval_seconds": deliver,
                    "jitter_seconds": 0,
                },
            }
        )
        daemon = Daemon(settings, connectors={})
        daemon.start()
        runner = threading.Thread(target=daemon.run, kwargs={"handle_signals": False})
        runner.start()
        run = int(time.time())
        try:
            for n in range(alerts):
                with daemon.db.transaction() as session:
                    store_batch(
                        session,
                        "bench",
                        "src",
                        Batch(
                            [
                                _mention(
                                    f"lat{run}_{n}",
                                    f"lat{run}_{n}",
                                    f"author{run}_{n}",
                                    ANGRY[n % len(ANGRY)],
                                    datetime.now(UTC),
                                    1,
                                )
                            ],
                            None,
                        ),
                    )
                time.sleep(1 / rate)
            deadline = time.monotonic() + 60
            while not _settled(daemon.db) and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            daemon.stop()
            runner.join(timeout=60)
        db = Database(settings.database_url)
        with db.transaction() as session:
            stored = dict(
                session.execute(
                    select(Alert.id, MentionRecord.ingested_at).join(
                        MentionRecord, Alert.first_mention_id == MentionRecord.id
                    )
                ).all()
            )
        db.close()
        seconds = sorted(
            request.received_at
            - stored[int((request.header("Idempotency-Key") or "").split("-")[1])].timestamp()
            for request in sink.requests
        )
    print(
        f"latency, mention stored -> webhook received ({len(seconds)} alerts at {rate:g}/s, "
        f"process every {process:g} s, deliver every {deliver:g} s, {db.describe()}):"
    )
    print(
        f"  p50 {statistics.median(seconds):.2f} s   "
        f"p95 {seconds[int(0.95 * (len(seconds) - 1))]:.2f} s   max {seconds[-1]:.2f} s"
    )


def _settled(db: Database) -> bool:
    """Every mention escalated and every delivery sent."""
    with db.transaction() as session:
        waiting = session.scalar(
            select(func.count())
            .select_from(MentionRecord)
            .where(MentionRecord.escalated_at.is_(None))
        )
        unsent = session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status != "sent")
        )
    return not waiting and not unsent


def main() -> None:
    """Parse the options and run both measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--negatives", type=int, default=1000, help="negative mentions in the volume stream"
    )
    parser.add_argument("--alerts", type=int, default=200)
    parser.add_argument("--rate", type=float, default=10.0, help="mentions stored per second")
    parser.add_argument("--process-interval", type=float, default=1.0)
    parser.add_argument("--deliver-interval", type=float, default=1.0)
    parser.add_argument("--database", help="SQLAlchemy URL for the latency run")
    parser.add_argument("--only", choices=("volume", "latency"), help="run one measurement")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.only != "latency":
        volume(args.negatives)
    if args.only != "volume":
        latency(args.alerts, args.rate, args.process_interval, args.deliver_interval, args.database)


if __name__ == "__main__":
    main()
