"""The whole pipeline under load: a synthetic stream through the local servers into daemons.

    python benchmarks/pipeline.py [--mentions 20000] [--rate 3000] [--db sqlite|postgresql]
        [--processes 1 [2 3]] [--model lexicon|default] [--threads 1] [--poll-interval 1]
        [--mastodon-share 0.4] [--backlog] [--seed 1] [--pg-url URL] [--keep DIR]

A synthetic stream of ``--mentions`` items (up to 1,000,000) is generated up front, then
published into the local fake Reddit (posts in r/brewly, comments in their threads) and
Mastodon (statuses tagged #Brewly, replies to them) at ``--rate`` items a second, straight
into the fakes' stores: an item is published when it becomes visible in the fake's
listings, and that moment is kept (``--mastodon-share`` of it on Mastodon, 40 % by
default, the rest on Reddit). The mix: English (60 %), Dutch, German, French and
Spanish (10 % each); one to six sentences; comments and replies in heavy-tailed threads;
3 % written by CRM customers (who get reply drafts); 15 % negative, 35 % positive.

Real ``social-crm run`` processes (``--processes``, each with ``--threads`` inference
threads; several only on PostgreSQL) poll the fakes every ``--poll-interval`` seconds,
classify with ``--model``, link authors, escalate, propose replies and deliver each alert
to an SMTP server and a webhook receiver on 127.0.0.1. The daemons are started, and their
sources polled once, before the first item is published. With ``--backlog`` they are
stopped once each network's first item is stored, the rest of the stream is published at
once, and they are started again: the run
measures catching up with a backlog (after an outage, or in a crisis), where every stage
has work waiting, rather than keeping up with a stream whose rate bounds the figures. The
fake Mastodon's rate-limit budget is raised, as the fake Reddit's already is, so that a
network's budget does not bound the run: at 40 statuses a request, the 300 requests in 5
minutes a real Mastodon account gets read 40 statuses a second.

Reported per run: mentions/s ingested (stored), classified and escalated (each: mentions
over the time from the first publication, or with ``--backlog`` from the moment every
daemon runs again, to the last one done), the alerts and their latency from publication of
the mention that opened each alert to the webhook receiving it (p50, p95; none for a
backlog), each daemon's peak RSS, the daemons' CPU time per stored mention, the database's
size afterwards and the machine's 1-minute load average at the start and the end (other
work on the machine slows a run).
With several runs of one backend and model, each run's classification rate is also shown
against the first run's (the scaling).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import random
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

import social_crm.schema  # noqa: E402, F401 - every table, before any query
from social_crm.alerts.models import Alert  # noqa: E402
from social_crm.customers.importer import import_customers  # noqa: E402
from social_crm.db import Database  # noqa: E402
from social_crm.delivery.enums import DeliveryStatus  # noqa: E402
from social_crm.delivery.models import Delivery  # noqa: E402
from social_crm.demo.servers.mastodon import FakeMastodon  # noqa: E402
from social_crm.demo.servers.reddit import FakeReddit  # noqa: E402
from social_crm.demo.servers.sinks import SmtpSink, WebhookSink  # noqa: E402
from social_crm.mentions.models import MentionRecord, SentimentRecord, SourceCursor  # noqa: E402
from tests.daemons import DaemonProcess, start_daemon  # noqa: E402
from tests.faults.harness import fresh_schema  # noqa: E402

LOGGER = logging.getLogger(__name__)
PG_URL = os.environ.get(
    "SOCIAL_CRM_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
MAX_MENTIONS = 1_000_000
BRAND = {
    "name": "Brewly",
    "keywords": ["brewly"],
    "hashtags": ["brewly"],
    "subreddits": ["brewly"],
    "accounts": {"mastodon": "brewly"},
}
REDDIT_AUTHORS = 5000
MASTODON_AUTHORS = 3000
MASTODON_RATE_LIMIT = 1_000_000  # requests per 5 minutes: see the module's docstring
CUSTOMERS = 100  # per network: the first authors of each pool
LANGUAGES = (("en", 0.6), ("nl", 0.1), ("de", 0.1), ("fr", 0.1), ("es", 0.1))
SENTIMENTS = (("negative", 0.15), ("positive", 0.35), ("neutral", 0.5))
# Sentences per language and sentiment; the first sentence of a text names the brand.
SENTENCES: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "negative": (
            "My Brewly broke after two weeks, terrible.",
            "Support never answers, this is awful.",
            "The grinder leaks water everywhere and I hate it.",
            "Worst purchase ever, I want a refund.",
            "The app keeps crashing, really disappointing.",
        ),
        "positive": (
            "Love my Brewly, perfect espresso every morning!",
            "Great design and so quiet, excellent machine.",
            "The crema is amazing, best coffee at home.",
            "Support was fast and friendly, thank you!",
        ),
        "neutral": (
            "Does the Brewly One work on 110V?",
            "I ordered the grinder last Tuesday.",
            "Which beans do you use with it?",
            "The manual is forty pages long.",
            "It comes in black and in silver.",
        ),
    },
    "nl": {
        "negative": (
            "Mijn Brewly is na twee weken kapot, vreselijk.",
            "De klantenservice reageert nooit, echt slecht.",
            "Het apparaat lekt overal water, wat jammer.",
        ),
        "positive": (
            "Ik ben dol op mijn Brewly, heerlijke koffie!",
            "Mooi ontwerp en heel stil, geweldig apparaat.",
        ),
        "neutral": (
            "Werkt de Brewly ook met losse bonen?",
            "Ik heb hem vorige week besteld.",
            "Welke maalgraad gebruiken jullie?",
        ),
    },
    "de": {
        "negative": (
            "Meine Brewly ist nach zwei Wochen kaputt, schrecklich.",
            "Der Kundendienst antwortet nie, wirklich schlecht.",
            "Die Maschine leckt überall, sehr enttäuschend.",
        ),
        "positive": (
            "Ich liebe meine Brewly, perfekter Espresso!",
            "Schönes Design und sehr leise, großartig.",
        ),
        "neutral": (
            "Funktioniert die Brewly auch mit 110 Volt?",
            "Ich habe sie letzte Woche bestellt.",
            "Welche Bohnen nehmt ihr dafür?",
        ),
    },
    "fr": {
        "negative": (
            "Ma Brewly est cassée après deux semaines, horrible.",
            "Le service client ne répond jamais, vraiment nul.",
            "La machine fuit partout, très décevant.",
        ),
        "positive": (
            "J'adore ma Brewly, un espresso parfait!",
            "Beau design et très silencieuse, excellente machine.",
        ),
        "neutral": (
            "La Brewly fonctionne-t-elle en 110 volts?",
            "Je l'ai commandée la semaine dernière.",
            "Quels grains utilisez-vous?",
        ),
    },
    "es": {
        "negative": (
            "Mi Brewly se rompió a las dos semanas, horrible.",
            "El servicio al cliente nunca responde, fatal.",
            "La máquina pierde agua por todas partes, qué decepción.",
        ),
        "positive": (
            "Me encanta mi Brewly, ¡un espresso perfecto!",
            "Diseño precioso y muy silenciosa, excelente.",
        ),
        "neutral": (
            "¿La Brewly funciona con 110 voltios?",
            "La pedí la semana pasada.",
            "¿Qué café usáis?",
        ),
    },
}


# -- the stream --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Item:
    """One item of the stream: where, by whom, in reply to which earlier item, what."""

    network: str  # "reddit" or "mastodon"
    author: int  # index into the network's author pool
    parent: int | None  # index of an earlier item of the same network (its thread's root)
    title: str
    text: str
    sentiment: str


def choose(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    """One of the names, by weight."""
    pick, total = rng.random(), 0.0
    for name, weight in weighted:
        total += weight
        if pick < total:
            return name
    return weighted[-1][0]


def generate(count: int, *, seed: int, mastodon_share: float = 0.4) -> list[Item]:
    """The stream: ``count`` items, the same for the same seed; ``mastodon_share`` of them
    on Mastodon, the others on Reddit."""
    rng = random.Random(seed)
    items: list[Item] = []
    roots: dict[str, list[int]] = {"reddit": [], "mastodon": []}
    for index in range(count):
        network = "mastodon" if rng.random() < mastodon_share else "reddit"
        language = choose(rng, LANGUAGES)
        sentiment = choose(rng, SENTIMENTS)
        pool = REDDIT_AUTHORS if network == "reddit" else MASTODON_AUTHORS
        author = rng.randrange(CUSTOMERS) if rng.random() < 0.03 else rng.randrange(pool)
        recent = roots[network][-200:]
        parent = None
        reply_share = 0.7 if network == "reddit" else 0.4
        if recent and rng.random() < reply_share:
            # Heavy-tailed threads: the newest conversations draw most replies.
            parent = recent[-1 - min(len(recent) - 1, int(rng.expovariate(1 / 15)))]
        sentences = SENTENCES[language]
        length = min(6, 1 + int(rng.expovariate(0.8)))
        body = [rng.choice(sentences[sentiment])]
        body += [rng.choice(sentences["neutral"]) for _ in range(length - 1)]
        text = " ".join(body)
        items.append(Item(network, author, parent, f"Brewly {index}", text, sentiment))
        if parent is None:
            roots[network].append(index)
    return items


def reddit_author(number: int) -> str:
    return f"redditor_{number}"


def mastodon_author(number: int) -> str:
    return f"fan{number}@mastodon.social"


def customers_csv(path: Path) -> None:
    """The CRM: the first CUSTOMERS authors of each network."""
    lines = ["id,name,email,tier,reddit,mastodon"]
    for number in range(CUSTOMERS):
        tier = ("standard", "silver", "gold", "vip")[number % 4]
        lines.append(
            f"R-{number},Reddit Customer {number},r{number}@example.com,{tier},"
            f"u/{reddit_author(number)},"
        )
        lines.append(
            f"M-{number},Mastodon Customer {number},m{number}@example.com,{tier},,"
            f"@{mastodon_author(number)}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Publisher(threading.Thread):
    """Publishes the stream into the fakes at ``rate`` items a second, keeping each item's
    publication time by the native id the daemon will store it under."""

    def __init__(
        self, items: list[Item], reddit: FakeReddit, mastodon: FakeMastodon, *, rate: float
    ):
        super().__init__(name="publisher", daemon=True)
        self.items, self.reddit, self.mastodon, self.rate = items, reddit, mastodon, rate
        self.published_at: dict[tuple[str, str], float] = {}
        self.first = self.last = 0.0
        self._ids: list[str] = []  # the fake's id of each item published

    def run(self) -> None:
        self.publish(len(self.items))

    def publish(self, until: int) -> None:
        """Publish the items not published yet up to index ``until``, at the rate."""
        began = self.first = time.time()
        for number, index in enumerate(range(len(self._ids), until)):
            wait = began + number / self.rate - time.time()
            if wait > 0:
                time.sleep(wait)
            item = self.items[index]
            self._ids.append(self._publish(item))
            self.published_at[self._key(item, self._ids[-1])] = time.time()
        self.last = time.time()

    def _publish(self, item: Item) -> str:
        if item.network == "reddit":
            author = reddit_author(item.author)
            if item.parent is None:
                return self.reddit.submit(
                    "brewly", author=author, title=item.title, selftext=item.text
                )
            return self.reddit.comment(self._ids[item.parent], author=author, body=item.text)
        parent = self._ids[item.parent] if item.parent is not None else None
        return self.mastodon.post(
            mastodon_author(item.author), f"{item.text} #Brewly", in_reply_to=parent, language=None
        )

    @staticmethod
    def _key(item: Item, native: str) -> tuple[str, str]:
        if item.network == "reddit":
            return ("reddit", native)
        user = mastodon_author(item.author).split("@")[0]
        return ("mastodon", f"https://mastodon.social/users/{user}/statuses/{native}")


# -- a run -------------------------------------------------------------------------------------


@dataclass
class Run:
    """What one run measured."""

    db: str
    processes: int
    model: str
    mentions: int
    published: int = 0
    stored: int = 0
    ingested_per_s: float = 0.0
    classified_per_s: float = 0.0
    escalated_per_s: float = 0.0
    alerts: int = 0
    latency_p50: float = math.nan
    latency_p95: float = math.nan
    rss_mb: list[float] = field(default_factory=list)
    cpu_ms_per_mention: float = math.nan  # the daemons' CPU time over the mentions stored
    database_mb: float = 0.0
    seconds: float = 0.0
    load: tuple[float, float] = (0.0, 0.0)  # the machine's 1-minute load average, start and end
    notes: list[str] = field(default_factory=list)


def write_config(
    path: Path,
    *,
    db_url: str,
    reddit: FakeReddit,
    mastodon: FakeMastodon,
    smtp: SmtpSink,
    webhook: WebhookSink,
    model: str,
    threads: int,
    poll: float,
) -> None:
    """The daemons' configuration: every source at the poll interval, 0.5 s pipeline steps."""
    pace = {"poll_interval_seconds": poll, "max_poll_interval_seconds": poll}
    config = {
        "brands": [BRAND],
        "database": {"url": db_url},
        "sentiment": {"model": model, "threads": threads},
        "connectors": {
            "reddit": {
                "base_url": reddit.url,
                "client_id": reddit.client_id,
                "client_secret": reddit.client_secret,
                "max_pages_per_fetch": 100,
                **pace,
            },
            "mastodon": {
                "api_base_url": mastodon.url,
                "access_token": mastodon.access_token,
                **pace,
            },
        },
        "alerts": {
            "channels": [
                {
                    "type": "email",
                    "name": "team",
                    "host": "127.0.0.1",
                    "port": smtp.port,
                    "sender": "bot@brewly.example",
                    "recipients": ["team@brewly.example"],
                },
                {"type": "webhook", "name": "chat", "url": webhook.url},
            ]
        },
        "engagement": {
            "brands": {"Brewly": {"link": "https://brewly.example/help"}},
            "templates": [
                {
                    "name": "apology-en",
                    "brand": "Brewly",
                    "situation": "apology",
                    "text": "Sorry, {customer_name}! We are on it: {link}",
                }
            ],
            "rules": [{"name": "sorry-customers", "situation": "apology", "customer": True}],
            "propose_interval_seconds": 0.5,
        },
        "scheduler": {
            "process_interval_seconds": 0.5,
            "deliver_interval_seconds": 0.5,
            "jitter_seconds": 0,
        },
    }
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory (VmHWM) in MB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return math.nan


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far (user and system), in seconds."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def database_mb(db: Database, url: str) -> float:
    """The database's size on disk: the SQLite file and its WAL, or the schema's tables."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 1e6
    with db.engine.connect() as connection:
        size = connection.execute(
            text(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'r' AND n.nspname = current_schema()"
            )
        ).scalar_one()
    return float(size) / 1e6


def counts(db: Database) -> dict[str, Any]:
    """Stored, classified and escalated mentions, each with the time the last one was done;
    deliveries due but not sent yet."""
    with db.transaction() as session:
        stored, last_stored = session.execute(
            select(func.count(MentionRecord.id), func.max(MentionRecord.ingested_at))
        ).one()
        classified, last_classified = session.execute(
            select(func.count(SentimentRecord.mention_id), func.max(SentimentRecord.classified_at))
        ).one()
        escalated, last_escalated = session.execute(
            select(func.count(MentionRecord.id), func.max(MentionRecord.escalated_at)).where(
                MentionRecord.escalated_at.is_not(None)
            )
        ).one()
        # Deliveries still to go out now: one waiting for the next digest is not.
        unsent = session.scalar(
            select(func.count(Delivery.id)).where(
                Delivery.status.in_((DeliveryStatus.PENDING, DeliveryStatus.SENDING))
            )
        )
    return {
        "stored": (stored, last_stored),
        "classified": (classified, last_classified),
        "escalated": (escalated, last_escalated),
        "unsent": unsent,
    }


def latencies(
    db: Database, webhook: WebhookSink, published_at: dict[tuple[str, str], float]
) -> list[float]:
    """Per alert: seconds from the publication of the mention that opened it to the webhook
    receiving it."""
    received = {request.header("webhook-id"): request.received_at for request in webhook.requests}
    with db.transaction() as session:
        rows = session.execute(
            select(Alert.id, MentionRecord.network, MentionRecord.native_id).join(
                MentionRecord, MentionRecord.id == Alert.first_mention_id
            )
        ).all()
    found = []
    for alert_id, network, native_id in rows:
        at = received.get(f"alert-{alert_id}-chat-0")
        published = published_at.get((network, native_id))
        if at is not None and published is not None:
            found.append(at - published)
    return found


def percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@contextlib.contextmanager
def database_url(db: str, root: Path, pg_url: str) -> Iterator[str]:
    if db == "sqlite":
        yield f"sqlite:///{root / 'crm.sqlite'}"
    else:
        with fresh_schema(pg_url) as url:
            yield url


def run(args: argparse.Namespace, items: list[Item], processes: int, root: Path) -> Run:
    """One run: fakes, sinks, daemons, the stream; what it measured."""
    result = Run(args.db, processes, args.model, len(items))
    load_at_start = os.getloadavg()[0]
    root.mkdir(parents=True, exist_ok=True)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # a transformers model's (torch) threads
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(database_url(args.db, root, args.pg_url))
        reddit = stack.enter_context(FakeReddit())
        mastodon = stack.enter_context(FakeMastodon(owner="brewly", rate_limit=MASTODON_RATE_LIMIT))
        smtp = stack.enter_context(SmtpSink())
        webhook = stack.enter_context(WebhookSink())
        for number in range(MASTODON_AUTHORS):
            mastodon.add_account(f"fan{number}", remote_domain="mastodon.social")
        db = Database(url)
        stack.callback(db.close)
        db.upgrade()
        customers = root / "customers.csv"
        customers_csv(customers)
        with db.transaction() as session:
            import_customers(session, customers)
        config = root / "social_crm.yaml"
        write_config(
            config,
            db_url=url,
            reddit=reddit,
            mastodon=mastodon,
            smtp=smtp,
            webhook=webhook,
            model=args.model,
            threads=args.threads,
            poll=args.poll_interval,
        )
        daemons: list[DaemonProcess] = []

        def stop_daemons() -> None:
            for daemon in daemons:
                daemon.kill()

        stack.callback(stop_daemons)

        def start_daemons(label: str) -> None:
            daemons[:] = [
                start_daemon(config, root / f"daemon-{number}{label}.log")
                for number in range(processes)
            ]
            for daemon in daemons:
                daemon.wait_running()

        start_daemons("")
        _wait_first_polls(db)
        publisher = Publisher(items, reddit, mastodon, rate=math.inf if args.backlog else args.rate)
        if args.backlog:
            # Each network's first item is stored while the daemons run, so its sources
            # resume from a post they have seen, as after an outage of a source in use.
            head = 1 + max(
                next((n for n, item in enumerate(items) if item.network == network), 0)
                for network in ("reddit", "mastodon")
            )
            publisher.publish(head)
            _wait_stored(db, head)
            for daemon in daemons:
                daemon.stop()
            publisher.run()
            start_daemons("-after-backlog")
            publisher.first = time.time()  # the rates count from here
        else:
            publisher.start()
        began = time.monotonic()
        cpu_before = {daemon.pid: cpu_seconds(daemon.pid) for daemon in daemons}
        last_progress, last_seen = time.monotonic(), None
        while True:
            time.sleep(1)
            now = counts(db)
            seen = (now["stored"][0], now["classified"][0], now["escalated"][0], now["unsent"])
            if seen != last_seen:
                last_seen, last_progress = seen, time.monotonic()
            done = (
                not publisher.is_alive()
                and now["stored"][0] >= len(publisher.published_at)
                and now["classified"][0] == now["stored"][0]
                and now["escalated"][0] == now["stored"][0]
                and not now["unsent"]
            )
            if done:
                break
            if time.monotonic() - last_progress > 60:
                result.notes.append(f"stopped: no progress for 60 s ({now})")
                break
        result.seconds = time.monotonic() - began
        result.load = (load_at_start, os.getloadavg()[0])
        result.rss_mb = [peak_rss_mb(daemon.pid) for daemon in daemons]
        cpu = sum(cpu_seconds(daemon.pid) - cpu_before[daemon.pid] for daemon in daemons)
        for daemon in daemons:
            daemon.stop()
        result.published = len(publisher.published_at)
        first = publisher.first
        for stage in ("stored", "classified", "escalated"):
            count, last = now[stage]
            rate = count / (last.timestamp() - first) if count and last else 0.0
            setattr(result, "ingested_per_s" if stage == "stored" else f"{stage}_per_s", rate)
        result.stored = now["stored"][0]
        if result.stored:
            result.cpu_ms_per_mention = cpu * 1000 / result.stored
        delays = [] if args.backlog else latencies(db, webhook, publisher.published_at)
        result.alerts = len(delays)
        result.latency_p50 = percentile(delays, 0.5)
        result.latency_p95 = percentile(delays, 0.95)
        result.database_mb = database_mb(db, url)
    return result


def _wait_stored(db: Database, count: int, timeout: float = 120) -> None:
    """Until ``count`` mentions are stored."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.transaction() as session:
            if session.scalar(select(func.count(MentionRecord.id))) >= count:
                return
        time.sleep(0.2)
    raise SystemExit(f"the daemons did not store the first {count} mentions in two minutes")


def _wait_first_polls(db: Database, timeout: float = 120) -> None:
    """Until every source was polled once (its cursor set): only then does what is
    published count as new."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with db.transaction() as session:
            rows = session.execute(select(SourceCursor.cursor, SourceCursor.last_success_at)).all()
        if len(rows) >= 5 and all(cursor and polled for cursor, polled in rows):
            return
        time.sleep(0.2)
    raise SystemExit("the daemons did not poll every source within two minutes")


def table(runs: list[Run]) -> str:
    header = (
        "db",
        "procs",
        "model",
        "mentions",
        "stored",
        "ingested/s",
        "classified/s",
        "escalated/s",
        "scaling",
        "alerts",
        "p50 s",
        "p95 s",
        "RSS MB (peak)",
        "CPU ms/mention",
        "db MB",
        "s",
        "load",
    )
    rows = [header]
    base: dict[tuple[str, str], float] = {}
    for run in runs:
        key = (run.db, run.model)
        base.setdefault(key, run.classified_per_s)
        scaling = run.classified_per_s / base[key] if base[key] else math.nan
        rows.append(
            (
                run.db,
                str(run.processes),
                run.model,
                str(run.published),
                str(run.stored),
                f"{run.ingested_per_s:.0f}",
                f"{run.classified_per_s:.0f}",
                f"{run.escalated_per_s:.0f}",
                f"{scaling:.2f}x",
                str(run.alerts),
                f"{run.latency_p50:.2f}",
                f"{run.latency_p95:.2f}",
                "/".join(f"{mb:.0f}" for mb in run.rss_mb),
                f"{run.cpu_ms_per_mention:.2f}",
                f"{run.database_mb:.1f}",
                f"{run.seconds:.0f}",
                f"{run.load[0]:.1f}-{run.load[1]:.1f}",
            )
        )
    widths = [max(len(row[n]) for row in rows) for n in range(len(header))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mentions", type=int, default=20_000)
    parser.add_argument("--rate", type=float, default=3000.0, help="items published a second")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--processes", type=int, nargs="+", default=[1], choices=(1, 2, 3))
    parser.add_argument("--model", choices=("lexicon", "default"), default="lexicon")
    parser.add_argument("--threads", type=int, default=1, help="inference threads per daemon")
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--mastodon-share", type=float, default=0.4, help="the rest on Reddit")
    parser.add_argument(
        "--backlog", action="store_true", help="publish the whole stream while no daemon runs"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--keep", type=Path, help="keep logs and databases in this folder")
    args = parser.parse_args()
    # A SIGTERM stops the daemons and the servers on the way out, as Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    if not 1 <= args.mentions <= MAX_MENTIONS:
        parser.error(f"--mentions must be between 1 and {MAX_MENTIONS:,}")
    if args.db == "sqlite" and args.processes != [1]:
        parser.error("SQLite serves one daemon: --processes 1 (several need --db postgresql)")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    items = generate(args.mentions, seed=args.seed, mastodon_share=args.mastodon_share)
    runs = []
    with contextlib.ExitStack() as stack:
        base = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        for processes in args.processes:
            result = run(args, items, processes, base / f"{args.db}-{processes}")
            runs.append(result)
            for note in result.notes:
                print(f"{args.db} x{processes}: {note}", flush=True)
    published = "as a backlog" if args.backlog else f"at up to {args.rate:g}/s"
    print(
        f"poll interval {args.poll_interval:g} s, process and deliver intervals 0.5 s, "
        f"published {published}, {args.threads} inference thread(s) a daemon"
    )
    print(table(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
