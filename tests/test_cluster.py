"""Several daemons on one PostgreSQL database share the work and never do it twice; on
SQLite a second daemon is refused; `social-crm health` tells a service manager the truth."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from connectors.base import Batch, Source
from sentiment.lexicon import LexiconClassifier
from social_crm.alerts.escalation import escalate_pending
from social_crm.alerts.models import Alert
from social_crm.alerts.probe import probe
from social_crm.config import EscalationConfig, HealthConfig, Settings
from social_crm.daemon import Daemon
from social_crm.db import Database, heartbeats, leases
from social_crm.db.base import utcnow
from social_crm.demo.servers.local import LocalServer
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.demo.servers.sinks import SmtpSink, WebhookSink
from social_crm.jobs import poll
from social_crm.mentions import source_leases
from social_crm.mentions.classify import classify_pending
from social_crm.mentions.ingest import load_cursor, store_batch
from social_crm.mentions.models import MentionRecord, SentimentRecord, SourceCursor

from .clock import Clock
from .commands import one_error_line, social_crm
from .daemons import DaemonProcess, start_daemon, wait_for
from .factories import ANGRY, BRAND, post, store
from .scripted_connector import ScriptedConnector, ScriptedSettings

POLL_SECONDS = 1
LEASE_SECONDS = 3  # also three poll intervals: a source's lease lasts 3 s
WINDOW_SECONDS = 5  # requests are counted over this long, with one daemon and with two
ACCOUNT_LOOKUP = "/api/v1/accounts/verify_credentials"
# What a log must never show: a job that failed, a unique key two daemons both wrote.
TROUBLE = re.compile(
    r"Traceback|IntegrityError|UniqueViolation|duplicate key|deadlock|failed; it runs again"
)


class FrontDoor:
    """Another port for a fake server, keeping the path of each request that came through it:
    each daemon talks to Reddit through its own, so every request is known to be its."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.paths: list[str] = []
        self._app = app
        self._server = LocalServer(self._count).start()
        self.url = self._server.url

    def _count(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ["PATH_INFO"] != "/api/v1/access_token":
            self.paths.append(environ["PATH_INFO"])
        return self._app(environ, start_response)

    def stop(self) -> None:
        self._server.stop()


@dataclass
class Networks:
    """Fake Reddit (a front door per daemon) and Mastodon, an SMTP and a webhook sink, and a
    configuration for each daemon."""

    reddit: FakeReddit
    mastodon: FakeMastodon
    smtp: SmtpSink
    webhook: WebhookSink
    doors: tuple[FrontDoor, FrontDoor]
    configs: tuple[Path, Path]

    def window(self, seconds: float) -> tuple[Counter[str], ...]:
        """The requests each path was sent in the next ``seconds``: all, then by each daemon's
        front door to Reddit."""
        counts = [len(door.paths) for door in self.doors]
        mastodon = len(self.mastodon.api_requests())
        time.sleep(seconds)
        by_door = [
            Counter(door.paths[count:]) for door, count in zip(self.doors, counts, strict=True)
        ]
        # Polls only: the reply job's one lookup of the account replies go out as may fall
        # in the window too, whenever its first run comes.
        all_paths = sum(by_door, Counter()) + Counter(
            r.path for r in self.mastodon.api_requests()[mastodon:] if r.path != ACCOUNT_LOOKUP
        )
        return all_paths, *by_door


@pytest.fixture
def networks(pg_url: str, write_config: Callable[..., Path]) -> Iterator[Networks]:
    with (
        FakeReddit() as reddit,
        FakeMastodon(owner="brewly") as mastodon,
        SmtpSink() as smtp,
        WebhookSink() as webhook,
    ):
        for name in ("anna", "bob", "carl"):
            mastodon.add_account(name, remote_domain="mastodon.nl")
        doors = (FrontDoor(reddit.wsgi_app), FrontDoor(reddit.wsgi_app))
        # Every source at its fastest all the time, so request counts compare directly.
        pace = {"poll_interval_seconds": POLL_SECONDS, "max_poll_interval_seconds": POLL_SECONDS}
        configs = tuple(
            write_config(
                name=f"daemon-{n}.yaml",
                brands=[BRAND],
                database={"url": pg_url},
                connectors={
                    "reddit": {
                        "base_url": door.url,
                        "client_id": "demo-client",
                        "client_secret": "demo-secret",
                        **pace,
                    },
                    "mastodon": {
                        "api_base_url": mastodon.url,
                        "access_token": "demo-token",
                        **pace,
                    },
                },
                alerts={
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
                scheduler={
                    "process_interval_seconds": 0.3,
                    "deliver_interval_seconds": 0.3,
                    "health_interval_seconds": 1,
                    "score_interval_seconds": 1,
                    "heartbeat_seconds": 1,
                    "lease_seconds": LEASE_SECONDS,
                    "jitter_seconds": 0,
                },
            )
            for n, door in enumerate(doors)
        )
        yield Networks(reddit, mastodon, smtp, webhook, doors, configs)  # type: ignore[arg-type]
        for door in doors:
            door.stop()


def _count(db: Database, query) -> int:  # type: ignore[no-untyped-def]
    with db.transaction() as session:
        return session.scalar(query) or 0


def _lease_pids(db: Database) -> dict[str, int | None]:
    """Each source's lease holder's pid (None: nobody holds it now)."""
    with db.transaction() as session:
        rows = session.execute(
            select(
                SourceCursor.connector,
                SourceCursor.source_key,
                SourceCursor.lease_owner,
                SourceCursor.lease_expires_at,
            )
        ).all()
    now = utcnow()
    return {
        f"{connector}/{key}": int(owner.split(":")[1]) if owner and expires >= now else None
        for connector, key, owner, expires in rows
    }


def _processed(db: Database, published: int, alerts_sent: Callable[[], int]) -> bool:
    """Every published post is stored and classified, and each alert was sent."""
    stored = _count(db, select(func.count()).select_from(MentionRecord))
    labelled = _count(db, select(func.count()).select_from(SentimentRecord))
    alerts = _count(db, select(func.count()).select_from(Alert))
    return stored == labelled == published and alerts > 0 and alerts_sent() == alerts


@pytest.mark.postgres
def test_two_daemons_share_the_sources_and_the_work_and_one_takes_over_from_a_killed_one(
    networks: Networks, pg_url: str, tmp_path: Path
) -> None:
    r, m = networks.reddit, networks.mastodon
    gus = r.submit(
        "brewly",
        author="Grumpy_Gus",
        title="Brewly support is a disgrace",
        selftext="Broken after two weeks. Terrible, awful service.",
    )
    r.comment(gus, author="latte_lisa", body="Same here, my Brewly leaks. Horrible.")
    r.submit("espresso", author="espresso_erik", title="Brewly tip", selftext="Excellent crema!")
    m.post("anna@mastodon.nl", "My #Brewly grinder arrived, nice design.")
    published = 4
    db = Database(pg_url)
    sent = lambda: min(len(networks.smtp.messages), len(networks.webhook.payloads))  # noqa: E731
    first = start_daemon(networks.configs[0], tmp_path / "first.log")
    second: DaemonProcess | None = None
    try:
        first.wait_running()
        wait_for(lambda: _processed(db, published, sent), timeout=60, what="the first wave")

        # One daemon alone: how many requests it makes in the window, per source.
        alone, _, _ = networks.window(WINDOW_SECONDS)

        second = start_daemon(networks.configs[1], tmp_path / "second.log")
        second.wait_running()
        pids = {first.pid, second.pid}
        # The first lets go of the sources beyond its share, the second takes them.
        wait_for(
            lambda: set(_lease_pids(db).values()) == pids,
            timeout=6 * POLL_SECONDS + LEASE_SECONDS,
            what="both daemons to hold sources",
        )
        together, by_first, by_second = networks.window(WINDOW_SECONDS)
        print(
            f"API requests in {WINDOW_SECONDS} s: one daemon {alone.total()} {dict(alone)}, "
            f"two daemons {together.total()} {dict(together)}"
        )
        # Two daemons poll each of the five sources as often as one did, at most once per
        # poll interval: not each source twice.
        most = WINDOW_SECONDS / POLL_SECONDS + 1
        assert len(alone) == len(together) == 5, (alone, together)
        assert all(n <= most for n in together.values()), together
        assert together.total() < alone.total() * 1.5, (alone, together)
        # Each Reddit source was asked by one daemon only, and each daemon asked some.
        assert by_first and by_second and not set(by_first) & set(by_second), (
            by_first,
            by_second,
        )

        # A conversation on both networks while both daemons run: its replies come in
        # through other sources (held by the other daemon) than its posts.
        bob = r.submit(
            "espresso",
            author="broken_bob",
            title="My Brewly leaks everywhere",
            selftext="Terrible, awful and broken. The worst purchase ever.",
        )
        for n, author in enumerate(("dan_d", "eve_e", "fay_f")):
            r.comment(bob, author=author, body=f"Brewly broke for me too, horrible {n}. Awful.")
        toot = m.post(
            "bob@mastodon.nl", "@brewly the grinder broke, terrible and awful", mention="brewly"
        )
        m.post("carl@mastodon.nl", "#Brewly same here, horrible, awful.", in_reply_to=toot)
        published += 6
        wait_for(lambda: _processed(db, published, sent), timeout=60, what="the second wave")

        # kill -9 the second: its sources are taken over once their leases run out.
        held = [key for key, pid in _lease_pids(db).items() if pid == second.pid]
        assert held
        second.kill()
        took = wait_for(
            lambda: set(_lease_pids(db).values()) == {first.pid},
            timeout=LEASE_SECONDS + 10,
            what="the first daemon to take every source over",
        )
        assert took <= LEASE_SECONDS + 2 * POLL_SECONDS + 1, took
        assert "taken over: its daemon's lease ran out" in first.text()
        r.submit("brewly", author="neutral_ned", title="Does the Brewly One work on 110V?")
        m.post("anna@mastodon.nl", "Third week with my #Brewly, every cup is excellent.")
        published += 2
        wait_for(
            lambda: _count(db, select(func.count()).select_from(MentionRecord)) == published,
            timeout=30,
            what="the posts after the kill",
        )
        assert first.stop() == 0
    finally:
        first.kill()
        if second is not None:
            second.kill()

    with db.transaction() as session:
        ids = session.scalars(select(MentionRecord.native_id)).all()
        per_thread = session.execute(
            select(Alert.thread_key, func.count()).group_by(Alert.thread_key)
        ).all()
    assert len(ids) == len(set(ids)) == published
    assert len(per_thread) >= 3 and all(alerts == 1 for _, alerts in per_thread), per_thread
    # Each alert delivered once to each channel.
    keys = [request.header("Idempotency-Key") for request in networks.webhook.requests]
    assert len(keys) == len(set(keys)) == len(per_thread)
    assert len(networks.smtp.messages) == len(per_thread)
    for daemon in (first, second):
        assert not TROUBLE.findall(daemon.text()), daemon.text()
    db.close()


# -- the pieces, one at a time ---------------------------------------------------------------


def test_a_named_lease_is_held_by_one_process_until_it_lets_go_or_runs_out(db: Database) -> None:
    now = utcnow()
    with db.transaction() as session:
        assert leases.acquire(session, "score", holder="a", seconds=10, now=now)
        assert not leases.acquire(session, "score", holder="b", seconds=10, now=now)
        assert leases.acquire(session, "score", holder="a", seconds=10, now=now)  # renewed
        # Run out: anyone may take it.
        later = now + timedelta(seconds=11)
        assert leases.acquire(session, "score", holder="b", seconds=10, now=later)
        assert not leases.acquire(session, "score", holder="a", seconds=10, now=later)
        leases.release(session, "score", holder="a")  # not a's: changes nothing
        assert not leases.acquire(session, "score", holder="a", seconds=10, now=later)
        leases.release(session, "score", holder="b")
        assert leases.acquire(session, "score", holder="a", seconds=10, now=later)


@pytest.mark.postgres
def test_ten_processes_racing_for_one_lease_get_it_once(pg_url: str) -> None:
    database = Database(pg_url)
    database.upgrade()
    ready = threading.Barrier(10)
    won: list[str] = []

    def race(holder: str) -> None:
        ready.wait()
        with database.transaction() as session:
            if leases.acquire(session, "digest", holder=holder, seconds=60, now=utcnow()):
                won.append(holder)

    threads = [threading.Thread(target=race, args=(f"h{n}",)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    database.close()


def test_daemons_share_a_connectors_sources_and_take_a_dead_ones_over(db: Database) -> None:
    keys = ["new", "comments", "search"]
    now = utcnow()

    def claim(holder: str, at: timedelta = timedelta()) -> list[str]:
        return source_leases.claim(
            db, "reddit", keys, holder=holder, seconds=LEASE_SECONDS, now=now + at
        )

    with db.transaction() as session:
        heartbeats.start(session, interval_seconds=1, now=now)
    assert claim("a") == keys  # alone: every source
    with db.transaction() as session:
        for row in session.scalars(select(SourceCursor)):
            row.last_success_at = now  # a polls them
        heartbeats.start(session, interval_seconds=1, now=now)  # a second daemon starts
    assert claim("b") == []  # nothing is free
    a_keeps = claim("a")  # lets go of those beyond its share (3 sources / 2 daemons)
    b_takes = claim("b")
    assert len(a_keeps) == 2 and b_takes == [key for key in keys if key not in a_keeps]
    assert claim("a") == a_keeps and claim("b") == b_takes  # stable while both renew
    # a stops renewing (killed): its leases run out and b takes them over, whatever its share.
    assert claim("b", timedelta(seconds=LEASE_SECONDS - 1)) == b_takes
    assert claim("b", timedelta(seconds=LEASE_SECONDS + 1)) == keys


def test_a_free_source_nobody_polled_for_a_lease_period_is_taken_beyond_the_share(
    db: Database,
) -> None:
    # Two daemons run, but only one of them runs this connector.
    keys, now = ["new", "comments"], utcnow()
    with db.transaction() as session:
        for _ in range(2):
            heartbeats.start(session, interval_seconds=30, now=now)  # both alive throughout
        for key in keys:
            load_cursor(session, "reddit", key).last_success_at = now
    claim = source_leases.claim
    assert claim(db, "reddit", keys, holder="a", seconds=LEASE_SECONDS, now=now) == ["new"]
    later = now + timedelta(seconds=LEASE_SECONDS + 1)
    held = claim(db, "reddit", keys, holder="a", seconds=LEASE_SECONDS, now=later)
    assert held == keys


class Releasing(ScriptedConnector):
    """A scripted connector that notes each source it is told to release; ``during_fetch``
    runs inside the next fetch."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(ScriptedSettings(), watches=[b.watch() for b in settings.brands])
        self.released: list[str] = []
        self.during_fetch: Callable[[], None] | None = None

    def fetch(self, source: Source, cursor: str | None) -> Batch:
        if self.during_fetch is not None:
            self.during_fetch()
            self.during_fetch = None
        return super().fetch(source, cursor)

    def release(self, source: Source) -> None:
        self.released.append(source.key)


def test_a_source_lost_during_its_fetch_or_between_runs_is_released_on_its_connector(
    make_settings: Callable[..., Settings],
) -> None:
    settings, clock = make_settings(), Clock()
    connector = Releasing(settings)
    daemon = Daemon(settings, connectors={"c": connector}, notifiers={}, now=clock)
    daemon.start()
    key, lease = "Brewly:all", source_leases.lease_seconds(settings, "c")

    def taken_over() -> None:
        """Another daemon holds the source's lease from now on."""
        with daemon.db.transaction() as session:
            row = load_cursor(session, "c", key)
            row.lease_owner = "elsewhere:1:ab"
            row.lease_expires_at = clock() + timedelta(seconds=lease)

    connector.post("anna", "first")
    assert poll(daemon.context, "c", paced=False) == 1 and connector.released == []
    connector.post("anna", "second")
    connector.during_fetch = taken_over
    assert poll(daemon.context, "c", paced=False) == 0  # what it fetched is the other's
    assert connector.released == [key]
    assert poll(daemon.context, "c", paced=False) == 0  # still the other's: left alone
    assert connector.released == [key] and connector.fetches == 2
    clock.now += lease + 1  # the other stopped renewing: the source comes back
    assert poll(daemon.context, "c", paced=False) == 1  # "second", from the stored cursor
    taken_over()  # between two runs this time
    assert poll(daemon.context, "c", paced=False) == 0
    assert connector.released == [key, key]
    daemon.close()


class Paging(ScriptedConnector):
    """A scripted connector that serves at most ``per_fetch`` posts a fetch, saying more
    is waiting, as the Mastodon connector does with a backlog; notes what was stored at
    each fetch."""

    per_fetch = 3

    def __init__(self, settings: Settings, db: Database) -> None:
        super().__init__(ScriptedSettings(), watches=[b.watch() for b in settings.brands])
        self.db = db
        self.stored_at_fetch: list[int] = []

    def fetch(self, source: Source, cursor: str | None) -> Batch:
        self.stored_at_fetch.append(_count(self.db, select(func.count(MentionRecord.id))))
        batch = super().fetch(source, cursor)
        if len(batch.mentions) > self.per_fetch:
            kept = batch.mentions[: self.per_fetch]
            return Batch(kept, kept[-1].native_id, more=True)
        return batch


def test_one_poll_stores_a_backlog_a_fetch_at_a_time_until_it_has_caught_up(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    daemon = Daemon(settings, connectors={}, notifiers={}, now=Clock())
    connector = Paging(settings, daemon.db)
    daemon.context.connectors["c"] = connector
    daemon.start()
    for number in range(8):
        connector.post("anna", f"post {number}")
    assert poll(daemon.context, "c", paced=False) == 8
    # Each part was stored before the next was read.
    assert connector.stored_at_fetch == [0, 3, 6]
    assert poll(daemon.context, "c", paced=False) == 0
    daemon.close()


class SlowPaging(Paging):
    """Paging whose every fetch takes a while, as reading a page of statuses does; notes
    how many mentions were classified at each fetch."""

    def __init__(self, settings: Settings, db: Database) -> None:
        super().__init__(settings, db)
        self.classified_at_fetch: list[int] = []

    def fetch(self, source: Source, cursor: str | None) -> Batch:
        self.classified_at_fetch.append(
            _count(self.db, select(func.count(SentimentRecord.mention_id)))
        )
        time.sleep(0.4)
        return super().fetch(source, cursor)


def test_a_long_backlog_is_read_in_turns_with_classification_between_them(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(scheduler={"process_interval_seconds": 0.5, "jitter_seconds": 0})
    daemon = Daemon(settings, connectors={}, notifiers={})
    connector = SlowPaging(settings, daemon.db)
    daemon.context.connectors["c"] = connector
    for number in range(36):
        connector.post("anna", f"post {number}, I love it")
    daemon.db.upgrade()  # for the counts below while the daemon starts
    runner = threading.Thread(target=daemon.run, kwargs={"handle_signals": False})
    runner.start()
    try:
        wait_for(
            lambda: _count(daemon.db, select(func.count(SentimentRecord.mention_id))) == 36,
            timeout=60,
            what="the backlog stored and classified",
        )
    finally:
        daemon.stop()
        runner.join(30)
    # Twelve fetches of 0.4 s: the pipeline, which shares the poll's thread, classified
    # what the first turns stored while the backlog was still being read.
    fetches = connector.classified_at_fetch
    assert len(fetches) >= 12
    assert any(classified > 0 for classified in fetches[:11]), fetches
    assert _count(daemon.db, select(func.count(MentionRecord.id))) == 36


def test_two_daemons_classifying_at_once_label_each_mention_once(pg_url: str) -> None:
    database = Database(pg_url)
    database.upgrade()
    with database.transaction() as session:
        posts = [post(f"t3_{n}", text="great, I love it") for n in range(40)]
        store_batch(session, "test", "src", Batch(posts, None))
    counts: list[int] = []
    failures: list[BaseException] = []

    class Slow(LexiconClassifier):
        def classify(self, texts):  # type: ignore[no-untyped-def]
            time.sleep(0.05)  # long enough that the two daemons overlap
            return super().classify(texts)

    def daemon() -> None:
        try:
            total = 0
            while True:
                with database.transaction() as session:
                    done = classify_pending(session, Slow(), limit=5)
                if not done:
                    break
                total += done
            counts.append(total)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=daemon) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    assert sum(counts) == 40 and all(counts), counts  # shared, nothing done twice
    assert _count(database, select(func.count()).select_from(SentimentRecord)) == 40
    database.close()


@pytest.mark.postgres
def test_two_daemons_escalating_one_conversation_at_once_open_one_alert(pg_url: str) -> None:
    database = Database(pg_url)
    database.upgrade()
    mentions = [(post("t3_root", author="gus"), ANGRY)]
    mentions += [(post(f"t1_{n}", author=f"user{n}", thread="t3_root"), ANGRY) for n in range(30)]
    store(database, *mentions)
    ready = threading.Barrier(2)
    failures: list[BaseException] = []

    def daemon() -> None:
        try:
            ready.wait()
            while True:
                with database.transaction() as session:
                    before = session.scalar(
                        select(func.count())
                        .select_from(MentionRecord)
                        .where(MentionRecord.escalated_at.is_(None))
                    )
                    if not before:
                        return
                    escalate_pending(session, EscalationConfig(), ["team"], limit=3)
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=daemon) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
    with database.transaction() as session:
        (alert,) = session.scalars(select(Alert)).all()
        assert alert.mention_count == 31  # every mention counted, none lost between daemons
    database.close()


MIGRATE = """
import logging, sys, time
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
import social_crm.schema
from social_crm.db import Database
while time.time() < float(sys.argv[2]):
    time.sleep(0.01)
Database(sys.argv[1]).upgrade()
"""


@pytest.mark.postgres
def test_ten_daemons_starting_together_migrate_a_fresh_database_once(pg_url: str) -> None:
    start_at = time.time() + 8  # after every process has imported what it needs
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", MIGRATE, pg_url, str(start_at)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(10)
    ]
    outputs = [process.communicate(timeout=90)[1] for process in processes]
    assert [process.returncode for process in processes] == [0] * 10, outputs
    migrated = [output for output in outputs if "Running upgrade" in output]
    assert len(migrated) == 1, outputs
    database = Database(pg_url)
    with database.engine.connect() as connection:
        (version,) = connection.execute(text("SELECT version_num FROM alembic_version")).one()
    assert version == migrated[0].strip().splitlines()[-1].split("->")[1].split(",")[0].strip()
    database.close()


# -- one daemon per SQLite file, and `social-crm health` --------------------------------------


def test_a_second_daemon_on_a_sqlite_file_is_refused_naming_the_first(
    tmp_path: Path, write_config: Callable[..., Path]
) -> None:
    database = tmp_path / "crm.sqlite"
    config = write_config(
        database={"url": f"sqlite:///{database}"},
        scheduler={"heartbeat_seconds": 1},
    )
    first = start_daemon(config, tmp_path / "first.log")
    try:
        first.wait_running()
        refused = social_crm("run", "--config", str(config))
        line = one_error_line(refused)
        assert re.fullmatch(
            rf"error: the database {re.escape(str(database))} is in use by social-crm run "
            rf"\(pid {first.pid} on \S+, since \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC\); "
            r"stop it first or use PostgreSQL for several daemons",
            line,
        ), line
        # Other commands work beside the daemon.
        assert social_crm("status", "--config", str(config)).returncode == 0
        healthy = social_crm("health", "--config", str(config))
        assert healthy.returncode == 0, healthy.stdout + healthy.stderr
        assert healthy.stdout.strip() == "healthy: 1 daemon(s) running, 0 source(s)"

        first.kill()  # no clean-up: its heartbeat goes stale, its lock goes with the process
        time.sleep(3.5)  # three missed beats
        stale = social_crm("health", "--config", str(config))
        assert stale.returncode == 1
        assert re.fullmatch(
            r"unhealthy: no daemon heartbeat within its limit "
            r"\(last one at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\)\n",
            stale.stdout,
        ), stale.stdout

        again = start_daemon(config, tmp_path / "again.log")
        again.wait_running()
        assert again.stop() == 0
        assert "stopped" in again.text()
    finally:
        first.kill()


def test_health_names_each_failing_source_and_each_lease_nobody_renewed(db: Database) -> None:
    now = utcnow()
    config = HealthConfig(failing_alert_minutes=60)
    with db.transaction() as session:
        heartbeats.start(session, interval_seconds=30, now=now)
        broken = load_cursor(session, "reddit", "Brewly:search")
        broken.consecutive_failures, broken.last_error = 12, "HTTP 503"
        broken.failing_since = now - timedelta(minutes=75)
        orphan = load_cursor(session, "mastodon", "Brewly:tag:brewly")
        orphan.lease_owner, orphan.lease_expires_at = "db1:4242:ab12", now - timedelta(seconds=40)
        load_cursor(session, "mastodon", "Brewly:mentions")  # healthy
        load_cursor(session, "gone", "Brewly:x").lease_owner = "db1:1:aa"  # not configured
    with db.transaction() as session:
        found = probe(session, health=config, connectors=["reddit", "mastodon"], now=now)
    assert (found.daemons, found.sources) == (1, 3)
    assert found.problems == [
        "source mastodon/Brewly:tag:brewly: the lease of daemon db1:4242:ab12 ran out 40 s ago "
        "and no daemon renewed or took it",
        "source reddit/Brewly:search has failed for 75 minutes (12 polls in a row): HTTP 503",
    ]
    with db.transaction() as session:
        later = probe(session, health=config, connectors=["mastodon"], now=now + timedelta(hours=1))
    assert later.problems[0].startswith("no daemon heartbeat within its limit (last one at ")
    assert len(later.problems) == 1  # with no daemon running, its leases are no news


def test_health_says_when_the_database_is_unreachable(write_config: Callable[..., Path]) -> None:
    config = write_config(database={"url": "postgresql://nobody@127.0.0.1:9/none"})
    result = social_crm("health", "--config", str(config))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "unhealthy: database postgresql://nobody@127.0.0.1:9/none unavailable: "
    ), result.stdout
