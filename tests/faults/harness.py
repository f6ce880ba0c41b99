"""Fault injection: real ``social-crm run`` processes against the local servers, killed with
SIGKILL at chosen moments and restarted, then drained and checked.

A :class:`FaultWorld` holds the fake Reddit (one front door per daemon, so each request is
known to be one daemon's) and Mastodon, an SMTP and a webhook sink, a configuration per
daemon and the database. A :class:`Publisher` publishes a scripted stream (posts,
comments, statuses and replies; some negative, some from customers, so alerts are raised
and apologies proposed) and an :class:`Approver` approves each proposed draft, as a
community manager would. :meth:`FaultWorld.kill` SIGKILLs a daemon in one stage of the
pipeline and starts it again; :meth:`FaultWorld.drain` waits until the survivors have
done everything; :meth:`FaultWorld.report` compares what the networks and sinks saw with
the database: every published mention stored once, every alert counted once and
delivered once per channel by its idempotency key, no reply posted twice, every source
polled since the last kill and held by a live daemon.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import create_engine, exists, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

import social_crm.schema  # noqa: F401 - every table, before any query
from social_crm.alerts.enums import AlertKind
from social_crm.alerts.models import Alert
from social_crm.alerts.rules import Facts, first_match
from social_crm.config import load_config
from social_crm.customers.importer import import_customers
from social_crm.db import Database
from social_crm.db.base import utcnow
from social_crm.delivery.enums import DeliveryStatus
from social_crm.delivery.models import Delivery
from social_crm.demo.servers.local import LocalServer, PostHold
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.demo.servers.sinks import SmtpSink, WebhookSink
from social_crm.engagement import lifecycle
from social_crm.engagement.enums import ReplyStatus
from social_crm.engagement.models import Reply, ReplyScan
from social_crm.mentions.models import MentionRecord, SentimentRecord, SourceCursor

from ..daemons import DaemonProcess, start_daemon
from ..reply_world import BRAND, ENGAGEMENT, REDDIT_ACCOUNT, REDDIT_PASSWORD

LOGGER = logging.getLogger(__name__)

# The stages a kill aims at; "random" is any moment.
STAGES = ("poll", "classify", "escalate", "deliver", "reply", "random")
POLL_SECONDS = 0.5
PROCESS_SECONDS = 0.3
# Leases a killed daemon leaves behind run out this fast, so the others take over at once;
# each is far longer than one send to the local servers.
LEASE_SECONDS = 3.0
SEND_LEASE_SECONDS = 5.0
# How long a kill waits for its stage before it kills at a random moment instead.
STAGE_TIMEOUT = 8.0
CUSTOMERS = """id,name,email,tier,reddit,mastodon
C-1,Anna de Vries,anna@example.nl,gold,,@anna@mastodon.nl
C-2,Bob Miller,bob@example.org,standard,,@bob@fosstodon.org
C-3,Gus Grant,gus@example.com,vip,u/Grumpy_Gus,
C-4,Erik Jansen,erik@example.com,silver,u/espresso_erik,
"""
REDDIT_CUSTOMERS = ("Grumpy_Gus", "espresso_erik")
MASTODON_CUSTOMERS = ("anna@mastodon.nl", "bob@fosstodon.org")
# The lexicon labels every NEGATIVE text negative (an alert) and no HAPPY one.
NEGATIVE = (
    "Brewly support is a disgrace, broken after two weeks. Terrible.",
    "My Brewly leaks water everywhere. Really awful.",
    "Still no answer from Brewly support. Horrible and useless.",
    "The Brewly grinder arrived broken and nobody answers. Awful, disappointing.",
)
HAPPY = (
    "Perfect espresso from my Brewly every single morning, love it!",
    "Gorgeous design and so quiet, great Brewly machine.",
    "Does the Brewly One work on 110V?",
    "Third week with my Brewly and every cup is excellent.",
)
# A line a daemon logs in each stage, and how long after it the kill comes (seconds, at most).
STAGE_LINES = {
    "classify": (re.compile(r": \d+ new mention\(s\)"), PROCESS_SECONDS),
    "escalate": (re.compile(r"alert \d+ opened for"), 0.0),
    "deliver": (re.compile(r"alert \d+ delivered to"), 0.0),
}
UNSETTLED = (ReplyStatus.DRAFT, ReplyStatus.APPROVED, ReplyStatus.SENDING)
LISTINGS = re.compile(r"/(new|comments|search|message/mentions)/?$")


# -- PostgreSQL schemas and connections ------------------------------------------------------


@contextlib.contextmanager
def fresh_schema(server_url: str) -> Iterator[str]:
    """A URL of ``server_url`` whose search_path is a new schema (dropped afterwards) and
    whose connections are named, so :func:`terminate_connections` can find them."""
    schema = f"f_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(server_url).update_query_dict(
        {"options": f"-csearch_path={schema}", "application_name": schema}
    )
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def terminate_connections(url: str) -> int:
    """``pg_terminate_backend`` every connection made with ``url``'s application name (the
    daemons', and this harness's own); returns how many were ended."""
    name = make_url(url).query["application_name"]
    admin = create_engine(url.split("?")[0])
    try:
        with admin.begin() as connection:
            return len(
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                ).all()
            )
    finally:
        admin.dispose()


# -- the fakes -------------------------------------------------------------------------------


class FrontDoor:
    """Another port for the fake Reddit: one daemon talks to Reddit only through it, so each
    request that comes through is known to be that daemon's. It can be closed (connections
    refused: the server is unreachable) and opened again on the same port."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self.listings = threading.Event()  # set at each listing request (a poll)
        self.posts = 0  # replies and messages asked for
        self._server: LocalServer | None = LocalServer(self._serve).start()
        self.port = self._server.port
        self.url = self._server.url

    def _serve(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ["PATH_INFO"]
        if environ["REQUEST_METHOD"] == "POST" and path.startswith(
            ("/api/comment", "/api/compose")
        ):
            self.posts += 1
        elif LISTINGS.search(path):
            self.listings.set()
        return self._app(environ, start_response)

    def close(self) -> None:
        """Stop answering: connections to the port are refused."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def open(self) -> None:
        """Answer again, on the same port."""
        if self._server is None:
            self._server = LocalServer(self._serve, port=self.port).start()


@dataclass(frozen=True, slots=True)
class Published:
    """One item the publisher put on a network, as the daemon should store it."""

    network: str
    native_id: str  # what the mention's native_id will be: a fullname, a status URI
    negative: bool
    customer: bool


class Publisher(threading.Thread):
    """Publishes a scripted stream at ``rate`` items a second until stopped: Reddit posts
    in r/brewly and comments in their threads, Mastodon statuses tagged #Brewly and replies
    to them; about a third negative, some by customers, some naming the brand's accounts."""

    def __init__(self, reddit: FakeReddit, mastodon: FakeMastodon, *, rate: float, seed: int):
        super().__init__(name="publisher", daemon=True)
        self.reddit, self.mastodon, self.rate = reddit, mastodon, rate
        self.published: list[Published] = []
        self._random = random.Random(seed)
        self._halt = threading.Event()
        self._posts: list[str] = []
        self._statuses: list[str] = []
        self._lock = threading.Lock()
        self._authors: set[str] = set()

    def run(self) -> None:
        """Publish until stopped."""
        while not self._halt.wait(1 / self.rate):
            self.publish_one()

    def stop(self) -> None:
        """Stop publishing (the item in hand is finished first)."""
        self._halt.set()
        if self.is_alive():
            self.join(timeout=10)

    def items(self) -> list[Published]:
        """What was published so far."""
        with self._lock:
            return list(self.published)

    def publish_one(self) -> Published:
        """Publish the stream's next item."""
        pick = self._random.random
        negative = pick() < 0.35
        customer = negative and pick() < 0.3
        words = self._random.choice(NEGATIVE if negative else HAPPY)
        if pick() < 0.55:
            item = self._on_reddit(words, negative=negative, customer=customer)
        else:
            item = self._on_mastodon(words, negative=negative, customer=customer)
        with self._lock:
            self.published.append(item)
        return item

    def _on_reddit(self, words: str, *, negative: bool, customer: bool) -> Published:
        n = len(self.published)
        author = self._random.choice(REDDIT_CUSTOMERS) if customer else f"redditor_{n % 37}"
        if self._posts and self._random.random() < 0.45:
            name = f"u/{REDDIT_ACCOUNT} " if self._random.random() < 0.2 else ""
            parent = self._random.choice(self._posts[-10:])
            native = self.reddit.comment(parent, author=author, body=f"{name}{words} ({n})")
        else:
            native = self.reddit.submit(
                "brewly", author=author, title=f"Brewly #{n}", selftext=f"{words} ({n})"
            )
            self._posts.append(native)
        return Published("reddit", native, negative, customer)

    def _on_mastodon(self, words: str, *, negative: bool, customer: bool) -> Published:
        n = len(self.published)
        if customer:
            author = self._random.choice(MASTODON_CUSTOMERS)
        else:
            author = f"fan{n % 23}@mastodon.social"
            if author not in self._authors:
                self.mastodon.add_account(author.split("@")[0], remote_domain="mastodon.social")
                self._authors.add(author)
        reply_to = (
            self._random.choice(self._statuses[-10:])
            if self._statuses and self._random.random() < 0.35
            else None
        )
        mention = "brewly" if self._random.random() < 0.15 else None
        status = self.mastodon.post(
            author, f"{words} ({n}) #Brewly", in_reply_to=reply_to, mention=mention
        )
        if reply_to is None:
            self._statuses.append(status)
        uri = self.mastodon.status_json(status)["uri"]
        return Published("mastodon", uri, negative, customer)


class Approver(threading.Thread):
    """Approves every draft reply as it is proposed (resolving its alert when sent)."""

    def __init__(self, db: Database, config: Path) -> None:
        super().__init__(name="approver", daemon=True)
        self.db = db
        self.engagement = load_config(config).engagement
        self.approved: set[int] = set()
        self._halt = threading.Event()

    def run(self) -> None:
        """Approve the drafts every quarter of a second until stopped."""
        while not self._halt.wait(0.25):
            with contextlib.suppress(Exception):  # the database may be away for a moment
                self.approve_drafts()

    def stop(self) -> None:
        """Stop approving."""
        self._halt.set()
        if self.is_alive():
            self.join(timeout=30)

    def approve_drafts(self) -> int:
        """Approve the drafts waiting now; returns how many."""
        with self.db.transaction() as session:
            drafts = session.scalars(select(Reply).where(Reply.status == ReplyStatus.DRAFT)).all()
            for draft in drafts:
                lifecycle.approve(
                    session,
                    draft.id,
                    by="maria",
                    config=self.engagement,
                    resolve_alert=draft.alert_id is not None,
                )
            ids = {draft.id for draft in drafts}
        self.approved |= ids
        return len(ids)


# -- daemons and kills -----------------------------------------------------------------------


@dataclass
class Slot:
    """One daemon's place: its configuration, its front door to Reddit, and its process
    (started again after each kill, with a new log file)."""

    index: int
    config: Path
    door: FrontDoor
    logs: Path
    process: DaemonProcess | None = None
    starts: int = 0
    read_up_to: int = 0  # how much of the current log a stage watch has read

    def start(self) -> DaemonProcess:
        """Start the daemon (again), its log in a new file."""
        self.starts += 1
        log = self.logs / f"daemon-{self.index}.{self.starts}.log"
        self.process = start_daemon(self.config, log)
        self.read_up_to = 0
        return self.process

    def alive(self) -> bool:
        """Whether its daemon runs."""
        return self.process is not None and self.process.process.poll() is None

    def new_lines(self) -> str:
        """The log written since the last call."""
        if self.process is None:
            return ""
        data = self.process.text()
        fresh, self.read_up_to = data[self.read_up_to :], len(data)
        return fresh


@dataclass(frozen=True, slots=True)
class Kill:
    """One SIGKILL: which stage it aimed at, whether it found it, which daemon, when."""

    stage: str
    hit: bool  # False: the stage did not come in time, the kill came at a random moment
    slot: int
    pid: int
    at: datetime


@dataclass
class Report:
    """One run's row of the table, and what broke."""

    name: str
    processes: int
    kills: int = 0
    published: int = 0
    stored: int = 0
    duplicates: int = 0  # mentions stored more than once
    lost: int = 0  # published, never stored
    alerts: int = 0
    deliveries: int = 0  # distinct idempotency keys received, both sinks
    duplicate_deliveries: int = 0  # receipts of a key already received
    replies: int = 0  # approved replies sent
    duplicate_replies: int = 0  # posts beyond one per reply
    seconds: float = 0.0
    stages: Counter[str] = field(default_factory=Counter)  # kills aimed at each stage
    hits: Counter[str] = field(default_factory=Counter)  # ... that found their stage
    problems: list[str] = field(default_factory=list)

    HEADER = (
        "run",
        "procs",
        "kills",
        "published",
        "stored",
        "dup",
        "lost",
        "alerts",
        "deliveries",
        "dup deliv",
        "replies",
        "dup replies",
        "s",
    )

    def cells(self) -> tuple[str, ...]:
        """The row, as text."""
        return (
            self.name,
            str(self.processes),
            str(self.kills),
            str(self.published),
            str(self.stored),
            str(self.duplicates),
            str(self.lost),
            str(self.alerts),
            str(self.deliveries),
            str(self.duplicate_deliveries),
            str(self.replies),
            str(self.duplicate_replies),
            f"{self.seconds:.0f}",
        )


def run_kills(
    root: Path,
    db_url: str,
    *,
    processes: int,
    kills: int,
    name: str,
    seed: int = 0,
    rate: float = 4.0,
) -> Report:
    """Start ``processes`` daemons, kill one ``kills`` times (each stage once first, then
    at random stages), drain and check; the run's report."""
    with FaultWorld(root, db_url, processes=processes, seed=seed, rate=rate, name=name) as world:
        world.start()
        for stage in STAGES[: min(kills, len(STAGES))]:
            world.kill(stage)
        world.kill_all(max(0, kills - len(STAGES)))
        try:
            world.drain()
        except AssertionError as exc:  # reported with the rest of what broke
            report = world.report()
            report.problems.insert(0, str(exc))
            return report
        return world.report()


def aimed(report: Report) -> str:
    """How the kills were aimed: per stage, the kills that found it of those aimed at it."""
    return ", ".join(
        f"{stage} {report.hits[stage]}/{report.stages[stage]}"
        for stage in STAGES
        if report.stages[stage]
    )


def table(reports: Iterable[Report]) -> str:
    """The reports as a plain text table."""
    rows = [Report.HEADER, *(report.cells() for report in reports)]
    widths = [max(len(row[n]) for row in rows) for n in range(len(Report.HEADER))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if n == 0 else cell.rjust(w)
            for n, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    )


class FaultWorld:
    """The fakes, the sinks, the database and ``processes`` daemons, with a publisher and an
    approver; a context manager that stops them all."""

    def __init__(
        self,
        root: Path,
        db_url: str,
        *,
        processes: int = 1,
        rate: float = 4.0,
        seed: int = 0,
        name: str = "faults",
        **sections: Any,
    ) -> None:
        self.root, self.db_url, self.processes = root, db_url, processes
        self.rate, self.seed, self.name = rate, seed, name
        self.sections = sections
        self.random = random.Random(seed)
        self.kills: list[Kill] = []
        self.slots: list[Slot] = []
        self._stack = contextlib.ExitStack()
        self.started_at = 0.0

    # -- set-up and tear-down ------------------------------------------------------------

    def __enter__(self) -> FaultWorld:
        stack = self._stack
        self.reddit = stack.enter_context(FakeReddit(users={REDDIT_ACCOUNT: REDDIT_PASSWORD}))
        # Restarted daemons at a fast pace would spend Mastodon's 300 requests a 5 minutes.
        self.mastodon = stack.enter_context(FakeMastodon(owner="brewly", rate_limit=1_000_000))
        self.smtp = stack.enter_context(SmtpSink())
        self.webhook = stack.enter_context(WebhookSink())
        for name, domain in (("anna", "mastodon.nl"), ("bob", "fosstodon.org")):
            self.mastodon.add_account(name, display_name=name.title(), remote_domain=domain)
        self.db = Database(self.db_url)
        stack.callback(self.db.close)
        self.db.upgrade()
        customers = self.root / "customers.csv"
        customers.write_text(CUSTOMERS, encoding="utf-8")
        with self.db.transaction() as session:
            import_customers(session, customers)
        logs = self.root / "logs"
        logs.mkdir(exist_ok=True)
        for index in range(self.processes):
            door = FrontDoor(self.reddit.wsgi_app)
            stack.callback(door.close)
            self.slots.append(Slot(index, self.write_config(index, door), door, logs))
        stack.callback(self._stop_daemons)
        self.publisher = Publisher(self.reddit, self.mastodon, rate=self.rate, seed=self.seed)
        self.approver = Approver(self.db, self.slots[0].config)
        stack.callback(self.publisher.stop)
        stack.callback(self.approver.stop)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def write_config(self, index: int, door: FrontDoor) -> Path:
        """The configuration of daemon ``index``: Reddit through its front door, everything
        at a fast pace, short leases, the lexicon model, no reply limits in the way."""
        pace = {"poll_interval_seconds": POLL_SECONDS, "max_poll_interval_seconds": 1}
        engagement = {
            **ENGAGEMENT,
            "propose_interval_seconds": PROCESS_SECONDS,
            "send_interval_seconds": PROCESS_SECONDS,
            "retry_base_seconds": 1,
            "lease_seconds": SEND_LEASE_SECONDS,
            "limits": {
                key: {"count": 10_000, "minutes": 1}
                for key in ("per_account", "per_thread", "per_author")
            },
        }
        config: dict[str, Any] = {
            "brands": [BRAND],
            "database": {"url": self.db_url},
            "sentiment": {"model": "lexicon"},
            "connectors": {
                "reddit": {
                    "base_url": door.url,
                    "client_id": self.reddit.client_id,
                    "client_secret": self.reddit.client_secret,
                    "username": REDDIT_ACCOUNT,
                    "password": REDDIT_PASSWORD,
                    "timeout_seconds": 5,
                    **pace,
                },
                "mastodon": {
                    "api_base_url": self.mastodon.url,
                    "access_token": self.mastodon.access_token,
                    "timeout_seconds": 5,
                    **pace,
                },
            },
            "alerts": {
                "channels": [
                    {
                        "type": "email",
                        "name": "team",
                        "host": "127.0.0.1",
                        "port": self.smtp.port,
                        "sender": "bot@brewly.example",
                        "recipients": ["team@brewly.example"],
                        "timeout_seconds": 5,
                    },
                    {
                        "type": "webhook",
                        "name": "chat",
                        "url": self.webhook.url,
                        "timeout_seconds": 5,
                    },
                ],
                "lease_seconds": SEND_LEASE_SECONDS,
                "retry_base_seconds": 1,
            },
            # Crisis alerts gather other alerts' mentions: left out, so each count is checked.
            "spikes": {"enabled": False},
            "engagement": engagement,
            "scheduler": {
                "process_interval_seconds": PROCESS_SECONDS,
                "deliver_interval_seconds": PROCESS_SECONDS,
                "health_interval_seconds": 1,
                "heartbeat_seconds": 1,
                "lease_seconds": LEASE_SECONDS,
                "jitter_seconds": 0,
            },
        }
        for section, values in self.sections.items():
            config[section] = {**config.get(section, {}), **values}
        path = self.root / f"daemon-{index}.yaml"
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return path

    def _stop_daemons(self) -> None:
        for slot in self.slots:
            if slot.process is not None:
                slot.process.kill()

    # -- running -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the daemons, then the publisher and the approver."""
        self.started_at = time.monotonic()
        for slot in self.slots:
            slot.start()
        for slot in self.slots:
            assert slot.process is not None
            slot.process.wait_running()
        self.publisher.start()
        self.approver.start()

    def live(self) -> list[Slot]:
        """The slots whose daemon runs."""
        return [slot for slot in self.slots if slot.alive()]

    def pids(self) -> set[int]:
        """The process ids of the running daemons."""
        return {slot.process.pid for slot in self.live() if slot.process is not None}

    def kill(self, stage: str) -> Kill:
        """SIGKILL a daemon in ``stage`` (or at a random moment, if the stage does not come
        within STAGE_TIMEOUT), and start it again once it is dead."""
        slot, hit, release = self._aim(stage)
        assert slot.process is not None
        pid = slot.process.pid
        slot.process.process.send_signal(signal.SIGKILL)
        slot.process.process.wait(timeout=30)
        at = utcnow()
        if release is not None:
            release.release()
        kill = Kill(stage, hit, slot.index, pid, at)
        self.kills.append(kill)
        LOGGER.info("killed daemon %d (pid %d) in %s (%s)", slot.index, pid, stage, hit)
        slot.start()
        slot.process.wait_running()  # type: ignore[union-attr]
        return kill

    def kill_all(self, kills: int, *, stages: tuple[str, ...] = STAGES) -> None:
        """``kills`` kills, each at a random stage, a random pause (up to a second) apart."""
        for _ in range(kills):
            time.sleep(self.random.uniform(0, 1))
            self.kill(self.random.choice(stages))

    def _aim(self, stage: str) -> tuple[Slot, bool, PostHold | None]:
        """The daemon to kill now, whether it is in ``stage``, and a held post to release
        once it is dead."""
        deadline = time.monotonic() + STAGE_TIMEOUT
        if stage == "poll":
            for slot in self.slots:
                slot.door.listings.clear()
            while time.monotonic() < deadline:
                for slot in self.random.sample(self.slots, len(self.slots)):
                    if slot.door.listings.is_set() and slot.alive():
                        time.sleep(self.random.uniform(0, 0.05))  # into the fetch or its storing
                        return slot, True, None
                time.sleep(0.005)
        elif stage == "reply":
            # A Reddit reply, made and held unanswered: its daemon dies before it hears back.
            # With one daemon, a Mastodon one (its Idempotency-Key) half of the time.
            mastodon = len(self.slots) == 1 and self.random.random() < 0.5
            hold = (self.mastodon if mastodon else self.reddit).hold_next_post(timeout=20)
            posts = [slot.door.posts for slot in self.slots]
            while time.monotonic() < deadline:
                if hold.made.is_set():
                    posting = [
                        slot
                        for slot, before in zip(self.slots, posts, strict=True)
                        if slot.door.posts > before
                    ]
                    return (posting or self.slots)[0], True, hold
                time.sleep(0.005)
            hold.release()  # the next post goes through unheld
        elif stage in STAGE_LINES:
            line, within = STAGE_LINES[stage]
            for slot in self.slots:
                slot.new_lines()
            while time.monotonic() < deadline:
                for slot in self.slots:
                    if slot.alive() and line.search(slot.new_lines()):
                        time.sleep(self.random.uniform(0, within))
                        return slot, True, None
                time.sleep(0.005)
        live = self.live()
        return self.random.choice(live or self.slots), stage == "random", None

    # -- draining and checking -----------------------------------------------------------

    def drain(self, *, timeout: float = 120.0) -> float:
        """Wait until the daemons have stored, classified and escalated every published item,
        sent every alert and every approved reply; returns the seconds it took."""
        self.publisher.stop()
        began = time.monotonic()
        while left := self.left():
            if time.monotonic() - began > timeout:
                raise AssertionError(f"not drained after {timeout:.0f} s: {left}")
            time.sleep(0.5)
        return time.monotonic() - began

    def left(self) -> str:
        """What the daemons have still to do ("" when nothing is left)."""
        published = {(item.network, item.native_id) for item in self.publisher.items()}
        pending = (
            ("unlabelled", ~exists().where(SentimentRecord.mention_id == MentionRecord.id)),
            ("not escalated", MentionRecord.escalated_at.is_(None)),
            (
                "not looked at for replies",
                ~exists().where(ReplyScan.mention_id == MentionRecord.id),
            ),
        )
        try:
            with self.db.transaction() as session:
                stored = set(
                    session.execute(select(MentionRecord.network, MentionRecord.native_id))
                )
                counts = {
                    what: session.scalar(select(func.count(MentionRecord.id)).where(where))
                    for what, where in pending
                }
                counts["deliveries unsent"] = session.scalar(
                    select(func.count(Delivery.id)).where(Delivery.status != DeliveryStatus.SENT)
                )
                counts["replies unsent"] = session.scalar(
                    select(func.count(Reply.id)).where(Reply.status.in_(UNSETTLED))
                )
                # A killed daemon's sources are taken over once its leases run out.
                last_kill = max((kill.at for kill in self.kills), default=None)
                if last_kill is not None:
                    counts["sources not polled since the last kill"] = session.scalar(
                        select(func.count()).where(
                            (SourceCursor.last_success_at.is_(None))
                            | (SourceCursor.last_success_at <= last_kill)
                        )
                    )
        except OperationalError as exc:  # the database is away for a moment
            return f"database unavailable ({type(exc.orig).__name__})"
        counts["not stored"] = len(published - stored)
        return ", ".join(f"{count} {what}" for what, count in counts.items() if count)

    def report(self, name: str | None = None) -> Report:
        """Compare what the networks and the sinks saw with the database; the run's row."""
        report = Report(name or self.name, self.processes, kills=len(self.kills))
        report.seconds = time.monotonic() - self.started_at
        report.stages = Counter(kill.stage for kill in self.kills)
        report.hits = Counter(kill.stage for kill in self.kills if kill.hit)
        problems = report.problems
        published = Counter((item.network, item.native_id) for item in self.publisher.items())
        report.published = len(published)
        with self.db.transaction() as session:
            stored = Counter(
                session.execute(select(MentionRecord.network, MentionRecord.native_id))
            )
            report.stored = sum(stored.values())
            report.duplicates = sum(n - 1 for n in stored.values() if n > 1)
            report.lost = len(set(published) - set(stored))
            if report.duplicates:
                problems.append(f"{report.duplicates} mention(s) stored twice")
            if report.lost:
                problems.append(f"{report.lost} published mention(s) never stored")
            unknown = set(stored) - set(published)
            if unknown:
                problems.append(f"stored but never published: {sorted(unknown)[:5]}")
            self._check_alerts(session, report)
            self._check_deliveries(session, report)
            self._check_replies(session, report)
            self._check_sources(session, report)
        crashes = re.findall(r"job \S+ failed; it runs again|Traceback", self.logs())
        if crashes:
            report.problems.append(f"the daemons logged {len(crashes)} crash(es): {crashes[:3]}")
        return report

    def _check_alerts(self, session: Any, report: Report) -> None:
        """Every mention a rule matches is counted in exactly one alert."""
        config = load_config(self.slots[0].config).escalation
        matching = 0
        for mention in session.scalars(select(MentionRecord)):
            facts = Facts.of(mention)
            if facts is not None and first_match(config.effective_rules, facts) is not None:
                matching += 1
        alerts = session.scalars(select(Alert).where(Alert.kind == AlertKind.MENTION)).all()
        report.alerts = len(alerts)
        counted = sum(alert.mention_count for alert in alerts)
        if counted != matching:
            report.problems.append(
                f"{matching} mention(s) match a rule, but the alerts count {counted}"
            )

    def _check_deliveries(self, session: Any, report: Report) -> None:
        """Each delivery row sent, and received once per key at its sink (a second receipt of
        a key is counted; it is expected only where a daemon said it sent again)."""
        rows = session.scalars(select(Delivery)).all()
        unsent = [row.idempotency_key for row in rows if row.status != DeliveryStatus.SENT]
        if unsent:
            report.problems.append(f"deliveries not sent: {unsent[:5]}")
        expected = {
            "chat": {row.idempotency_key for row in rows if row.channel == "chat"},
            "team": {row.idempotency_key for row in rows if row.channel == "team"},
        }
        received = {
            "chat": Counter(request.header("webhook-id") for request in self.webhook.requests),
            "team": Counter(
                str(message["Message-ID"]).strip("<>").split("@")[0]
                for message in self.smtp.messages
            ),
        }
        resent = set(re.findall(r"delivery (\S+) was left sending", self.logs()))
        for channel, keys in expected.items():
            got = received[channel]
            if set(got) != keys:
                report.problems.append(
                    f"{channel}: expected {len(keys)} key(s), received {len(got)}: "
                    f"missing {sorted(keys - set(got))[:5]}, unknown {sorted(set(got) - keys)[:5]}"
                )
            report.deliveries += len(got)
            report.duplicate_deliveries += sum(n - 1 for n in got.values())
            unexplained = [key for key, n in got.items() if n > 1 and key not in resent]
            if unexplained:
                report.problems.append(
                    f"{channel}: received twice, never sent again: {unexplained}"
                )

    def _check_replies(self, session: Any, report: Report) -> None:
        """Every approved reply sent, each posted once, under the mention it answers."""
        replies = session.scalars(select(Reply)).all()
        not_sent = [(r.id, r.status, r.reason) for r in replies if r.status != ReplyStatus.SENT]
        if not_sent:
            report.problems.append(f"replies not sent: {not_sent[:5]}")
        report.replies = sum(1 for r in replies if r.status == ReplyStatus.SENT)
        targets = {r.mention.native_id: r for r in replies}
        posted: Counter[str] = Counter()
        for fullname in self.reddit.comments_by(REDDIT_ACCOUNT):
            posted[self.reddit.parent_of(fullname)] += 1
        for status_id in self.mastodon.posted:
            parent = self.mastodon.status_json(status_id)["in_reply_to_id"]
            posted[self.mastodon.status_json(parent)["uri"]] += 1
        report.duplicate_replies = sum(n - 1 for n in posted.values() if n > 1)
        if report.duplicate_replies:
            report.problems.append(f"posted twice: {[t for t, n in posted.items() if n > 1]}")
        strays = set(posted) - set(targets)
        if strays:
            report.problems.append(f"posts answering no reply: {sorted(strays)[:5]}")
        for native_id, reply in targets.items():
            if reply.status == ReplyStatus.SENT and posted[native_id] != 1:
                report.problems.append(
                    f"reply {reply.id} recorded sent, posted {posted[native_id]}x"
                )

    def _check_sources(self, session: Any, report: Report) -> None:
        """Every source polled since the last kill, its lease free or held by a live daemon."""
        last_kill = max((kill.at for kill in self.kills), default=None)
        live = self.pids()
        for row in session.scalars(select(SourceCursor)):
            name = f"{row.connector}/{row.source_key}"
            if last_kill is not None and (
                row.last_success_at is None or row.last_success_at <= last_kill
            ):
                report.problems.append(f"{name} not polled since the last kill")
            if row.lease_owner and row.lease_expires_at and row.lease_expires_at > utcnow():
                pid = int(row.lease_owner.split(":")[1])
                if pid not in live:
                    report.problems.append(f"{name} leased by pid {pid}, which is not running")

    def logs(self) -> str:
        """Every daemon log so far, one after another."""
        return "\n".join(
            path.read_text(encoding="utf-8", errors="replace")
            for path in sorted((self.root / "logs").glob("daemon-*.log"))
        )
