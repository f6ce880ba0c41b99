"""The daemon: builds one process's job context, schedules the jobs, stops on a signal."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MAX_INSTANCES,
    JobEvent,
)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy.exc import DBAPIError

import social_crm.schema  # noqa: F401 - every table, before any query
from connectors.base import Connector
from connectors.registry import connector_class
from sentiment import Classifier, ModelError, load_classifier
from social_crm.alerts.escalation import Routing, check_levels
from social_crm.config import RULE_FIELDS, Brand, Settings, load_config, rule_changes
from social_crm.db import Database, failure, heartbeats, sole_daemon
from social_crm.db.base import utcnow
from social_crm.delivery.channels import Notifier, build_notifiers
from social_crm.errors import ConfigError, DatabaseUnavailable, SocialCrmError
from social_crm.jobs import CONNECTOR_JOBS, JOBS, LANES, PIPELINE, JobContext, cluster, poll
from social_crm.mentions import sources

LOGGER = logging.getLogger(__name__)

# Waits between attempts to reach a database that is down at start-up: doubling to the cap.
DATABASE_RETRY_SECONDS = (5.0, 60.0)

# How often the running daemon looks whether its configuration file changed.
CONFIG_CHECK_SECONDS = 2.0

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


class _StopDuringStartUp(BaseException):
    """Raised by the signal handler while the daemon starts: leave start-up at once.

    A BaseException, like KeyboardInterrupt, so no ``except Exception`` on the way (model
    loading, migrations) takes it for a failure.
    """


class BlockedJobs(logging.Filter):
    """One log line while a job is blocked, instead of APScheduler's warning per skipped run."""

    SKIPPED = "maximum number of running instances reached"

    def __init__(self) -> None:
        super().__init__()
        self.skipped: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """Drop APScheduler's per-run "skipped" warning; :meth:`on_event` reports it once."""
        return self.SKIPPED not in str(record.msg)

    def on_event(self, event: JobEvent) -> None:
        """Note a skipped run (logged the first time), or the end of a blocked stretch."""
        if event.code == EVENT_JOB_MAX_INSTANCES:
            count = self.skipped.get(event.job_id, 0)
            if count == 0:
                LOGGER.warning(
                    "job %s is still running (or waiting for the worker); "
                    "its next runs are skipped until it finishes",
                    event.job_id,
                )
            self.skipped[event.job_id] = count + 1
        elif event.job_id in self.skipped:
            LOGGER.info(
                "job %s finished; %d run(s) were skipped meanwhile",
                event.job_id,
                self.skipped.pop(event.job_id),
            )


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
    """Builds the job context of one process (database, model, connectors, notifiers)."""

    def __init__(
        self,
        settings: Settings,
        *,
        classifier: Classifier | None = None,
        connectors: Mapping[str, Connector] | None = None,
        notifiers: Mapping[str, Notifier] | None = None,
        now: Callable[[], datetime] = utcnow,
        config_path: Path | None = None,
    ) -> None:
        """``config_path``: the file ``settings`` came from; its listening rules are reread
        when it changes or on SIGHUP (None: never)."""
        self.settings = settings
        notifiers = dict(notifiers or {})
        self.context = JobContext(
            settings=settings,
            # Its lanes and heartbeat write from several threads: each SQLite transaction
            # waits for the write lock first rather than fail on finding another wrote.
            db=Database(settings.database_url, immediate=True),
            routing=Routing.single(list(notifiers)),
            classifier=classifier,
            connectors=dict(connectors or {}),
            notifiers=notifiers,
            now=now,
            rules={brand.name: brand.rule_set() for brand in settings.brands},
        )
        self.db = self.context.db
        self._given_connectors = connectors is not None
        self._started = False
        self._starting = False
        self.config_path = config_path
        self._config_stamp = _file_stamp(config_path)
        self._reload_asked = False  # set by SIGHUP, read by the main loop
        self._sole: sole_daemon.SoleDaemon | None = None  # held on SQLite while running
        self._metrics_server: Any = None
        # Since when (time.monotonic()) jobs fail on the database; None: it works.
        self._database_failing_since: float | None = None
        self._database_lock = threading.Lock()

    # -- set-up ---------------------------------------------------------------------------

    def start(self) -> None:
        """Migrate the database, load the model once, build connectors and channels."""
        if self._started:
            return
        ctx = self.context
        LOGGER.info("database %s", self.db.describe())
        if not self._wait_for_database():
            return
        self.db.upgrade()
        if ctx.classifier is None:
            ctx.classifier = self._load_classifier()
        if not self._given_connectors:
            for key, entry in self.settings.connectors.items():
                if entry.enabled:
                    cls = connector_class(entry.type or key)
                    settings = self.settings.connector_settings[key]
                    watches = [brand.watch() for brand in self.settings.brands]
                    ctx.connectors[key] = cls(settings, watches=watches)  # type: ignore[call-arg]
        if not ctx.notifiers:
            ctx.notifiers = build_notifiers(self.settings.alerts.channels)
        ctx.routing = Routing.from_config(self.settings.alerts, list(ctx.notifiers))
        check_levels(ctx.routing, self.settings.escalation, self.settings.spikes)
        for brand in self.settings.brands:
            LOGGER.info(
                "watching %s: keywords=%s hashtags=%s subreddits=%s accounts=%s rules=%s",
                brand.name,
                brand.keywords,
                brand.hashtags,
                brand.subreddits,
                brand.accounts.model_dump(exclude_none=True),
                brand.rules.model_dump(exclude_defaults=True),
            )
        LOGGER.info(
            "connectors: %s; alert channels: %s",
            ", ".join(ctx.connectors) or "none",
            ", ".join(ctx.notifiers) or "none",
        )
        # Disabled means "until restart": starting again (credentials fixed) re-enables.
        with self.db.transaction() as session:
            for name in sources.enable(session, ctx.connectors):
                LOGGER.info("connector %s enabled again at start-up", name)
        self._started = True

    def _wait_for_database(self) -> bool:
        """Wait until the database answers, one log line per attempt; False if stopped."""
        wait, cap = DATABASE_RETRY_SECONDS
        while True:
            try:
                self.db.ping()
            except DatabaseUnavailable as exc:
                LOGGER.warning("%s; retrying in %.0f s", exc, wait)
                if self.context.stop.wait(wait):
                    return False
                wait = min(wait * 2, cap)
            else:
                return True

    def _load_classifier(self) -> Classifier:
        """Load the configured sentiment model once, warm it up, log its time and memory."""
        sentiment = self.settings.sentiment
        rss_before = rss_megabytes()
        began = time.perf_counter()
        try:
            classifier = load_classifier(
                sentiment.model,
                batch_size=sentiment.batch_size,
                uncertain_below=sentiment.uncertain_below,
                threads=sentiment.threads,
            )
        except ModelError as exc:
            raise ConfigError(str(exc)) from exc
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
        """Release leases, connectors, the metrics port and database connections."""
        if self._started:
            cluster.let_go(self.context)
        if self._metrics_server is not None:
            self._metrics_server.shutdown()
            self._metrics_server.server_close()
            self._metrics_server = None
        for connector in self.context.connectors.values():
            connector.close()
        self.db.close()
        if self._sole is not None:
            self._sole.release()
            self._sole = None

    def run_cycle(self) -> CycleReport:
        """Run every job once, in order: poll every source (unpaced), then the pipeline."""
        self.start()
        ctx = self.context
        fetched = sum(poll(ctx, name, paced=False) for name in ctx.connectors)
        done = {step.__name__: step(ctx) for job in JOBS for step in job.steps}
        return CycleReport(
            fetched=fetched,
            classified=done["classify"],
            linked=done["link"],
            alerts=done["escalate"],
            escalated=done["check_sla"],
            crises=done["check_spikes"],
            digests=done["build_digests"],
            delivered=done["deliver"],
        )

    # -- running --------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the daemon to finish the work in hand and return from run()."""
        self.context.stop.set()

    def run(
        self,
        *,
        handle_signals: bool = True,
        tick: Callable[[], bool] | None = None,
        tick_seconds: float = 0.5,
    ) -> None:
        """Schedule the jobs and block until stop(), SIGINT/SIGTERM, or ``tick()`` returns True.

        A signal during start-up (migrations, model loading) leaves start-up at once and
        returns normally, as one while running does after the work in hand.
        """
        if handle_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, self._on_signal)
            if hasattr(signal, "SIGHUP"):
                signal.signal(signal.SIGHUP, self._on_hangup)
        self._starting = True
        try:
            self._sole = sole_daemon.hold(self.db.url)  # SQLite: the one daemon of its file
            self._serve_metrics()  # a port in use fails at once, not after loading the model
            self.start()
        except _StopDuringStartUp:
            LOGGER.info("stopped during start-up")
            self.close()
            return
        except SocialCrmError:
            self.close()
            raise
        finally:
            self._starting = False
        if self.context.stop.is_set() or not self._started:
            self.close()  # a signal between start-up and here, or while waiting for the database
            return
        interval = self.settings.scheduler.heartbeat_seconds
        with self.db.transaction() as session:
            beat_id = heartbeats.start(session, interval_seconds=interval)
            if self._sole is not None:
                # The file's lock is this daemon's: any other that seems alive was killed
                # (its last beats are recent), and must not be given a share of the sources.
                gone = heartbeats.stop_others(session, beat_id)
                if gone:
                    LOGGER.info("the daemon before this one stopped without saying so")
        scheduler = self._scheduler()
        scheduler.start()
        LOGGER.info("daemon running")
        next_beat = time.monotonic() + interval
        next_config_check = time.monotonic() + CONFIG_CHECK_SECONDS
        try:
            while not self.context.stop.wait(tick_seconds):
                if tick is not None and tick():
                    break
                if time.monotonic() >= next_beat:
                    next_beat = time.monotonic() + interval
                    self._beat(beat_id)
                if self._reload_asked or time.monotonic() >= next_config_check:
                    next_config_check = time.monotonic() + CONFIG_CHECK_SECONDS
                    self._check_config()
        finally:
            self.context.stop.set()
            LOGGER.info("stopping: finishing the work in hand")
            scheduler.shutdown(wait=True)
            self._beat(beat_id, stopping=True)
            self.close()
            LOGGER.info("stopped")

    def _serve_metrics(self) -> None:
        """Serve the Prometheus metrics on metrics.port, if it is set."""
        config = self.settings.metrics
        if config.port is None:
            return
        ctx = self.context
        ctx.metrics.read_database(self.db, holder=ctx.holder, now=ctx.now)
        self._metrics_server = ctx.metrics.serve(config)

    def _beat(self, beat_id: int, *, stopping: bool = False) -> None:
        """Say in the database that this daemon is alive (or has stopped)."""
        try:
            with self.db.transaction() as session:
                (heartbeats.stop if stopping else heartbeats.beat)(session, beat_id)
        except DBAPIError as exc:  # a database hiccup must not stop the daemon
            self._database_failed("the heartbeat", exc)
        except Exception as exc:  # noqa: BLE001 - nor anything else in the heartbeat
            LOGGER.warning("could not record the daemon's heartbeat: %s", exc)
        else:
            self._database_works()

    # -- reloading the listening rules ----------------------------------------------------

    def _on_hangup(self, _signum: int, _frame: Any) -> None:
        self._reload_asked = True  # the main loop rereads the file

    def _check_config(self) -> None:
        """Reread the rules on SIGHUP, or when the file's time or size changed."""
        stamp = _file_stamp(self.config_path)
        if self._reload_asked or stamp != self._config_stamp:
            self._reload_asked = False
            self._config_stamp = stamp
            self.reload_rules()

    def reload_rules(self) -> bool:
        """Read the configuration file again and use its listening rules from now on.

        Logs one line saying what changed. A file that does not validate changes nothing:
        one error line, and the rules in use stay. Other settings are read at start-up only.
        """
        if self.config_path is None:
            return False
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            problems = "; ".join(str(exc).splitlines())
            LOGGER.error("configuration not reloaded, the current rules stay: %s", problems)
            return False
        changes, others = rule_changes(self.settings, new)
        # Only the brands polled since start-up; one gone from the file keeps its rules.
        updated = {brand.name: brand.rule_set() for brand in new.brands}
        self.context.rules = {
            name: updated.get(name, rules) for name, rules in self.context.rules.items()
        }
        self.settings = self.context.settings = self.settings.model_copy(
            update={"brands": [_with_rules(brand, new) for brand in self.settings.brands]}
        )
        restart = "; other changes take effect after a restart" if others else ""
        if changes:
            LOGGER.info("listening rules reloaded: %s%s", "; ".join(changes), restart)
        else:
            LOGGER.info("configuration reread: listening rules unchanged%s", restart)
        return True

    def _on_signal(self, signum: int, _frame: Any) -> None:
        LOGGER.info("received %s", signal.Signals(signum).name)
        self.context.stop.set()
        if self._starting:
            self._starting = False  # a second signal while leaving start-up changes nothing
            raise _StopDuringStartUp

    def _scheduler(self) -> BackgroundScheduler:
        """Every job on its own timer, jittered; per-connector jobs once per connector; one
        thread per lane (``jobs.LANES``)."""
        ctx, jitter = self.context, self.settings.scheduler.jitter_seconds
        scheduler = BackgroundScheduler(
            executors={lane: ThreadPoolExecutor(max_workers=1) for lane in LANES},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        blocked = BlockedJobs()
        apscheduler_log = logging.getLogger("apscheduler.scheduler")
        for old in [f for f in apscheduler_log.filters if isinstance(f, BlockedJobs)]:
            apscheduler_log.removeFilter(old)
        apscheduler_log.addFilter(blocked)
        scheduler.add_listener(
            blocked.on_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
        )

        def run_again(event: JobEvent) -> None:
            # After the jobs queued in its lane meanwhile: they take turns with its work.
            if event.job_id in ctx.run_again and not ctx.stop.is_set():
                ctx.run_again.discard(event.job_id)
                scheduler.modify_job(event.job_id, next_run_time=datetime.now(UTC))

        scheduler.add_listener(run_again, EVENT_JOB_EXECUTED)
        now = datetime.now(UTC)
        for name in ctx.connectors:
            for connector_job in CONNECTOR_JOBS:
                scheduler.add_job(
                    self._guarded(cluster.run_connector_job, f"{connector_job.name}:{name}"),
                    "interval",
                    args=[ctx, connector_job, name],
                    id=f"{connector_job.name}:{name}",
                    executor=PIPELINE,
                    seconds=connector_job.interval(self.settings, name),
                    jitter=jitter,
                    **({"next_run_time": now} if connector_job.at_start else {}),
                )
        for offset, job in enumerate(JOBS, start=1):
            scheduler.add_job(
                self._guarded(cluster.run_job, job.name),
                "interval",
                args=[ctx, job],
                id=job.name,
                executor=job.lane,
                seconds=job.interval(self.settings),
                jitter=jitter,
                next_run_time=now + timedelta(seconds=offset * 0.1),
            )
        return scheduler

    def _guarded(self, func: Callable[..., Any], job_id: str) -> Callable[..., Any]:
        """A job that logs its own crash and runs again next time; no job can kill the daemon."""

        def job(*args: Any) -> Any:
            if self.context.stop.is_set():
                return None
            try:
                done = func(*args)
            except DBAPIError as exc:
                self._database_failed(f"job {job_id}", exc)
                return None
            except Exception:
                LOGGER.exception("job %s failed; it runs again at its next time", job_id)
                return None
            return done

        return job

    def _database_failed(self, what: str, exc: DBAPIError) -> None:
        """One error line when the database starts failing (locked, full, gone away), not
        one per job run; the jobs and the heartbeat retry at their next times."""
        with self._database_lock:
            first = self._database_failing_since is None
            if first:
                self._database_failing_since = time.monotonic()
        log = LOGGER.error if first else LOGGER.debug
        log("%s: the database failed, retrying at each job's next run: %s", what, failure(exc))

    def _database_works(self) -> None:
        """Say once that the database works again after failing: the heartbeat wrote (a
        job that succeeds may have written nothing)."""
        with self._database_lock:
            since, self._database_failing_since = self._database_failing_since, None
        if since is not None:
            LOGGER.info("the database works again (it failed for %.0f s)", time.monotonic() - since)


def _file_stamp(path: Path | None) -> tuple[int, int] | None:
    """The file's modification time and size; None when there is no file to read."""
    if path is None:
        return None
    try:
        status = path.stat()
    except OSError:
        return None
    return status.st_mtime_ns, status.st_size


def _with_rules(brand: Brand, new: Settings) -> Brand:
    """``brand`` with the keywords, hashtags and rules ``new`` gives it (if it still has it)."""
    update = next((b for b in new.brands if b.name == brand.name), None)
    if update is None:
        return brand
    return brand.model_copy(update={field: getattr(update, field) for field in RULE_FIELDS})
