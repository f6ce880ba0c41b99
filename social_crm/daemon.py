"""The daemon: APScheduler jobs that poll, process, score and deliver, until told to stop."""

from __future__ import annotations

import functools
import logging
import math
import random
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

import social_crm.schema  # noqa: F401 - every table, before any query
from connectors.base import Connector, Refreshable, Source
from connectors.registry import connector_class
from sentiment import Classifier, load_classifier
from social_crm.alerts import health, spikes
from social_crm.alerts.escalation import Routing, check_levels, escalate_pending
from social_crm.alerts.notifications import compose
from social_crm.alerts.sla import check_sla
from social_crm.ambassadors import scoring
from social_crm.config import Settings
from social_crm.customers.linking import link_authors
from social_crm.db import Database
from social_crm.db.base import utcnow
from social_crm.delivery import digests
from social_crm.delivery.channels import Notifier, build_notifiers
from social_crm.delivery.outbox import deliver_due
from social_crm.errors import AuthenticationError, ConnectorError, RateLimitedError
from social_crm.mentions.classify import classify_pending
from social_crm.mentions.ingest import apply_revisions, load_cursor, store_batch
from social_crm.mentions.models import MentionRecord

LOGGER = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 5.0
BACKOFF_MAX_SECONDS = 900.0
DEFAULT_POLL_SECONDS = 60.0
# A poll that fills this share of a page costs one request: fewer requests per mention than
# polling a busy source too rarely (two pages) or a quiet one too often (empty pages).
TARGET_PAGE_FILL = 0.8
DIGEST_CHECK_SECONDS = 60.0  # digests are due at the top of the hour or once a day
REFRESH_CHUNK = 100  # ids per refresh request: Reddit's /api/info takes at most 100
# Classified once at start-up: an English and a Dutch post, so every model route is warm.
WARM_UP_TEXTS = ["Thanks, this works great!", "Dit werkt helemaal niet, wat jammer."]


def rss_megabytes() -> float:
    """This process's resident memory in MB (its peak where /proc is not available)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


@dataclass(slots=True)
class CycleReport:
    """What one pass over every job did."""

    fetched: int = 0
    classified: int = 0
    linked: int = 0
    alerts: int = 0
    escalated: int = 0  # re-escalated to a next level after their SLA
    crises: int = 0
    digests: int = 0
    delivered: int = 0


class Daemon:
    """Owns the database, the model, the connectors and the notifiers of one process."""

    def __init__(
        self,
        settings: Settings,
        *,
        classifier: Classifier | None = None,
        connectors: Mapping[str, Connector] | None = None,
        notifiers: Mapping[str, Notifier] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.classifier = classifier
        self.connectors: dict[str, Connector] = dict(connectors or {})
        self.notifiers: dict[str, Notifier] = dict(notifiers or {})
        self.routing = Routing.single(list(self.notifiers))
        self._given_connectors = connectors is not None
        self._stop = threading.Event()
        self._clock = clock
        self._due_at: dict[tuple[str, str], float] = {}  # paced: not polled before
        self._retry_at: dict[tuple[str, str], float] = {}  # failing: backing off until
        self._interval: dict[tuple[str, str], float] = {}  # its current polling interval
        self._disabled: set[str] = set()
        self._started = False

    # -- set-up ---------------------------------------------------------------------------

    def start(self) -> None:
        """Migrate the database, load the model once, build connectors and channels."""
        if self._started:
            return
        LOGGER.info("database %s", self.db.describe())
        self.db.upgrade()
        if self.classifier is None:
            self.classifier = self._load_classifier()
        if not self._given_connectors:
            for key, entry in self.settings.connectors.items():
                if entry.enabled:
                    cls = connector_class(entry.type or key)
                    brands = self.settings.brands
                    self.connectors[key] = cls(self.settings.connector_settings[key], brands=brands)  # type: ignore[call-arg]
        if not self.notifiers:
            self.notifiers = build_notifiers(self.settings.alerts.channels)
        self.routing = Routing.from_config(self.settings.alerts, list(self.notifiers))
        check_levels(self.routing, self.settings.escalation, self.settings.spikes)
        for brand in self.settings.brands:
            LOGGER.info(
                "watching %s: keywords=%s hashtags=%s subreddits=%s accounts=%s",
                brand.name,
                brand.keywords,
                brand.hashtags,
                brand.subreddits,
                brand.accounts.model_dump(exclude_none=True),
            )
        LOGGER.info(
            "connectors: %s; alert channels: %s",
            ", ".join(self.connectors) or "none",
            ", ".join(self.notifiers) or "none",
        )
        self._started = True

    def _load_classifier(self) -> Classifier:
        """Load the configured sentiment model once, warm it up, log its time and memory."""
        sentiment = self.settings.sentiment
        rss_before = rss_megabytes()
        began = time.perf_counter()
        classifier = load_classifier(
            sentiment.model,
            batch_size=sentiment.batch_size,
            uncertain_below=sentiment.uncertain_below,
        )
        loaded = time.perf_counter() - began
        classifier.classify(WARM_UP_TEXTS)  # every route, so the first real batch is not slow
        rss_after = rss_megabytes()
        LOGGER.info(
            "sentiment model %s loaded in %.1f s, warmed up in %.1f s; "
            "process memory %.0f MB (+%.0f MB for the model)",
            classifier.name,
            loaded,
            time.perf_counter() - began - loaded,
            rss_after,
            rss_after - rss_before,
        )
        return classifier

    def close(self) -> None:
        """Release connectors and database connections."""
        for connector in self.connectors.values():
            connector.close()
        self.db.close()

    # -- jobs -----------------------------------------------------------------------------

    def poll(self, name: str, *, paced: bool = True) -> int:
        """Fetch every due source of one connector; returns how many new mentions were stored.

        A failing source waits out its backoff; ``paced=False`` skips only the pacing wait.
        """
        if name in self._disabled:
            return 0
        connector = self.connectors[name]
        stored = 0
        for source in connector.sources():
            if self._stop.is_set():
                break
            key, now = (name, source.key), self._clock()
            if self._retry_at.get(key, 0.0) > now or (paced and self._due_at.get(key, 0.0) > now):
                continue
            with self.db.transaction() as session:
                cursor = load_cursor(session, name, source.key).cursor
            try:
                batch = connector.fetch(source, cursor)
            except AuthenticationError as exc:
                self._disable(name, source.key, exc)
                return stored
            except ConnectorError as exc:
                self._record_failure(name, source.key, exc)
                continue
            with self.db.transaction() as session:
                row = load_cursor(session, name, source.key)
                recovered = row.consecutive_failures > 0
                added = store_batch(session, name, source.key, batch)
                if added:
                    health.note_recovery(session, row)
            if recovered:
                LOGGER.info("source %s/%s recovered", name, source.key)
            self._retry_at.pop(key, None)
            self._pace(name, source, len(batch.mentions))
            if added:
                LOGGER.info("%s/%s: %d new mention(s)", name, source.key, added)
            stored += added
        return stored

    def _disable(self, name: str, key: str | None, exc: AuthenticationError) -> None:
        """Stop polling a connector whose credentials were refused: one log line, one alert.

        ``key``: the source whose poll was refused (None: the refresh job was).
        """
        if name in self._disabled:
            return
        self._disabled.add(name)
        reason = f"connector {name} disabled: {exc} (fix its credentials and restart)"
        LOGGER.error("%s", reason)
        with self.db.transaction() as session:
            if key is not None:
                health.record_failure(session, name, key, exc)
            health.raise_health_alert(session, name, None, reason, self.routing.levels[0])

    def _record_failure(self, name: str, key: str, exc: ConnectorError) -> None:
        with self.db.transaction() as session:
            failures = health.record_failure(session, name, key, exc)
        if isinstance(exc, RateLimitedError):
            delay = exc.retry_after
        else:
            delay = min(BACKOFF_BASE_SECONDS * 2 ** (failures - 1), BACKOFF_MAX_SECONDS)
            delay *= random.uniform(0.8, 1.2)
        self._retry_at[(name, key)] = self._clock() + delay
        # Logged once when a source starts failing, not on every poll; recovery once too.
        log = LOGGER.error if failures == 1 else LOGGER.debug
        log(
            "source %s/%s failed (%d in a row), retrying in %.0f s: %s",
            name,
            key,
            failures,
            delay,
            exc,
        )

    def _pace(self, name: str, source: Source, fetched: int) -> None:
        """Poll busy sources often and quiet ones rarely, aiming at well-filled pages."""
        entry = self.settings.connectors.get(name)
        floor = entry.poll_interval_seconds if entry else DEFAULT_POLL_SECONDS
        ceiling = (entry.max_poll_interval_seconds if entry else None) or floor * 10
        key = (name, source.key)
        interval = self._interval.get(key, floor)
        if source.page_size:
            fill = fetched / source.page_size
            proposed = interval * 2 if fetched == 0 else interval * TARGET_PAGE_FILL / fill
            interval = min(max(math.sqrt(interval * proposed), floor), max(ceiling, floor))
        self._interval[key] = interval
        # The poll job runs every `floor` seconds; a little slack keeps a due source from
        # waiting a whole extra round for a few milliseconds.
        self._due_at[key] = self._clock() + interval - min(floor, interval) * 0.1

    def refresh(self, name: str) -> int:
        """Re-read one connector's recent mentions for edits and deletions; returns changes."""
        connector = self.connectors[name]
        if name in self._disabled or not isinstance(connector, Refreshable):
            return 0
        since = utcnow() - timedelta(hours=self.settings.health.refresh_window_hours)
        with self.db.transaction() as session:
            ids = session.scalars(
                select(MentionRecord.native_id).where(
                    MentionRecord.network == connector.network,
                    MentionRecord.created_at >= since,
                    MentionRecord.deleted_at.is_(None),
                )
            ).all()
        changed = 0
        for start in range(0, len(ids), REFRESH_CHUNK):
            if self._stop.is_set():
                break
            try:
                revisions = connector.refresh(ids[start : start + REFRESH_CHUNK])
            except AuthenticationError as exc:
                self._disable(name, None, exc)
                break
            except ConnectorError as exc:
                LOGGER.warning("refresh of %s stopped: %s", name, exc)
                break
            with self.db.transaction() as session:
                changed += apply_revisions(session, connector.network, revisions)
        if changed:
            LOGGER.info("%s: %d mention(s) edited or deleted", name, changed)
        return changed

    def check_health(self) -> int:
        """Raise one health alert per newly silent source; returns how many were raised."""
        with self.db.transaction() as session:
            return len(
                health.check_silence(
                    session,
                    hours=self.settings.health.silence_alert_hours,
                    channels=self.routing.levels[0],
                )
            )

    def process(self) -> tuple[int, int, int]:
        """Classify, link and escalate what was stored; returns (classified, linked, alerts)."""
        assert self.classifier is not None, "start() loads the classifier"
        classified = 0
        while not self._stop.is_set():
            with self.db.transaction() as session:
                done = classify_pending(
                    session, self.classifier, limit=self.settings.sentiment.batch_size
                )
            classified += done
            if done == 0:
                break
        with self.db.transaction() as session:
            linked = link_authors(session, self.settings.linking)
            opened = escalate_pending(session, self.settings.escalation, self.routing)
        return classified, linked, len(opened)

    def check_sla(self) -> int:
        """Re-escalate open alerts past their SLA to the next level; returns how many."""
        with self.db.transaction() as session:
            return len(
                check_sla(
                    session,
                    self.settings.escalation,
                    self.routing,
                    quiet=self.settings.alerts.quiet_hours,
                )
            )

    def check_spikes(self) -> int:
        """Raise a crisis alert for each brand whose negative volume spikes; returns how many."""
        with self.db.transaction() as session:
            return len(
                spikes.check_spikes(
                    session, self.settings.spikes, self.settings.escalation, self.routing
                )
            )

    def build_digests(self) -> int:
        """Gather waiting low-severity alerts into digests; returns how many were made."""
        with self.db.transaction() as session:
            return len(digests.build_digests(session, self.settings.alerts.digest))

    def score(self) -> int:
        """Recompute the ambassador ranking; returns how many authors it ranks."""
        with self.db.transaction() as session:
            return scoring.recompute(session, config=self.settings.ambassadors)

    def deliver(self) -> int:
        """Send due alert deliveries; returns how many were sent."""
        sent, _failed = deliver_due(
            self.db,
            self.notifiers,
            self.settings.alerts,
            compose=functools.partial(compose, base_url=self.settings.web.base_url),
        )
        return sent

    def run_cycle(self) -> CycleReport:
        """Run the main jobs once, in order: poll, health, process, score, deliver."""
        self.start()
        report = CycleReport()
        for name in self.connectors:
            report.fetched += self.poll(name, paced=False)
        self.check_health()
        report.classified, report.linked, report.alerts = self.process()
        report.escalated = self.check_sla()
        report.crises = self.check_spikes()
        report.digests = self.build_digests()
        self.score()
        report.delivered = self.deliver()
        return report

    # -- running --------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the daemon to finish the work in hand and return from run()."""
        self._stop.set()

    def run(
        self,
        *,
        handle_signals: bool = True,
        tick: Callable[[], bool] | None = None,
        tick_seconds: float = 0.5,
    ) -> None:
        """Schedule the jobs and block until stop(), SIGINT/SIGTERM, or ``tick()`` returns True."""
        self.start()
        if handle_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, self._on_signal)
        scheduler = self._scheduler()
        scheduler.start()
        LOGGER.info("daemon running")
        try:
            while not self._stop.wait(tick_seconds):
                if tick is not None and tick():
                    break
        finally:
            self._stop.set()
            LOGGER.info("stopping: finishing the work in hand")
            scheduler.shutdown(wait=True)
            self.close()
            LOGGER.info("stopped")

    def _on_signal(self, signum: int, _frame: Any) -> None:
        LOGGER.info("received %s", signal.Signals(signum).name)
        self._stop.set()

    def _scheduler(self) -> BackgroundScheduler:
        plan = self.settings.scheduler
        scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        now = datetime.now(UTC)
        for name in self.connectors:
            entry = self.settings.connectors.get(name)
            interval = entry.poll_interval_seconds if entry else DEFAULT_POLL_SECONDS
            scheduler.add_job(
                self._guarded(self.poll),
                "interval",
                args=[name],
                id=f"poll:{name}",
                seconds=interval,
                jitter=plan.jitter_seconds,
                next_run_time=now,
            )
            scheduler.add_job(
                self._guarded(self.refresh),
                "interval",
                args=[name],
                id=f"refresh:{name}",
                seconds=plan.refresh_interval_seconds,
                jitter=plan.jitter_seconds,
            )
        jobs: list[tuple[str, Callable[[], Any], float]] = [
            ("health", self.check_health, plan.health_interval_seconds),
            ("process", self.process, plan.process_interval_seconds),
            ("score", self.score, plan.score_interval_seconds),
            ("deliver", self.deliver, plan.deliver_interval_seconds),
            ("sla", self.check_sla, self.settings.escalation.sla_check_interval_seconds),
            ("spikes", self.check_spikes, self.settings.spikes.check_interval_seconds),
            ("digest", self.build_digests, DIGEST_CHECK_SECONDS),
        ]
        for offset, (job_id, func, seconds) in enumerate(jobs, start=1):
            scheduler.add_job(
                self._guarded(func),
                "interval",
                id=job_id,
                seconds=seconds,
                jitter=plan.jitter_seconds,
                next_run_time=now + timedelta(seconds=offset * 0.1),
            )
        return scheduler

    def _guarded(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """A job that logs its own crash and runs again next time; no job can kill the daemon."""

        def job(*args: Any) -> Any:
            if self._stop.is_set():
                return None
            try:
                return func(*args)
            except Exception:
                LOGGER.exception("job %s failed; it runs again at its next time", func.__name__)
                return None

        return job
