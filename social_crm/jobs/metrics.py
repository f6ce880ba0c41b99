"""Prometheus metrics of a daemon: counted by its jobs, or read from the database per scrape.

Counters and the classification histogram count what this process did. Queue depths,
each source's last successful poll and the leases this process holds are read from the
database on every scrape (a few COUNT queries), so they are right whichever daemon of the
cluster did the work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from social_crm.config import MetricsConfig
from social_crm.db import Database
from social_crm.db.leases import Lease
from social_crm.delivery.enums import DeliveryStatus
from social_crm.delivery.models import Delivery
from social_crm.engagement.enums import ReplyStatus
from social_crm.engagement.models import Reply
from social_crm.errors import ConfigError
from social_crm.mentions.models import MentionRecord, SentimentRecord, SourceCursor

LOGGER = logging.getLogger(__name__)

QueueDepth = Callable[[Session], int]


def _unclassified(session: Session) -> int:
    """Mentions without a sentiment label that the classify job will label (not those whose
    text was erased or cleared by retention)."""
    labelled = exists().where(SentimentRecord.mention_id == MentionRecord.id)
    waiting = (
        select(func.count())
        .select_from(MentionRecord)
        .where(
            MentionRecord.escalated_at.is_(None),  # as classify_pending claims them: indexed
            ~labelled,
            MentionRecord.erased_at.is_(None),
            MentionRecord.expired_at.is_(None),
        )
    )
    return session.scalar(waiting) or 0


def _unescalated(session: Session) -> int:
    """Classified mentions escalation has not looked at yet."""
    return (
        session.scalar(
            select(func.count())
            .select_from(MentionRecord)
            .join(SentimentRecord)
            .where(MentionRecord.escalated_at.is_(None))
        )
        or 0
    )


def _undelivered(session: Session) -> int:
    """Deliveries waiting to be sent, or being sent."""
    waiting = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)
    return (
        session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.status.in_(waiting))
        )
        or 0
    )


def _unsent_replies(session: Session) -> int:
    """Approved replies waiting to be posted, or being posted."""
    waiting = (ReplyStatus.APPROVED, ReplyStatus.SENDING)
    return (
        session.scalar(select(func.count()).select_from(Reply).where(Reply.status.in_(waiting)))
        or 0
    )


# The queues reported as social_crm_queue_depth{queue=...}.
QUEUE_DEPTHS: dict[str, QueueDepth] = {
    "unclassified": _unclassified,
    "unescalated": _unescalated,
    "undelivered": _undelivered,
    "unsent_replies": _unsent_replies,
}

# Seconds to classify and store one batch: the lexicon takes milliseconds, a transformer
# on a CPU up to seconds.
CLASSIFICATION_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """One process's metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)  # memory, CPU, open files of the process
        self.mentions_stored = Counter(
            "social_crm_mentions_stored",
            "New mentions stored by this process, per connector and source.",
            ["connector", "source"],
            registry=self.registry,
        )
        self.classification_seconds = Histogram(
            "social_crm_classification_seconds",
            "Time to classify and store one batch of mentions.",
            buckets=CLASSIFICATION_BUCKETS,
            registry=self.registry,
        )
        self.mentions_classified = Counter(
            "social_crm_mentions_classified",
            "Mentions classified by this process.",
            registry=self.registry,
        )
        self.delivery_failures = Counter(
            "social_crm_delivery_failures",
            "Failed delivery attempts by this process, per channel.",
            ["channel"],
            registry=self.registry,
        )

    def read_database(self, db: Database, *, holder: str, now: Callable[[], datetime]) -> None:
        """Report the queues, sources and leases from ``db`` on each scrape."""
        self.registry.register(DatabaseCollector(db, holder=holder, now=now))

    def serve(self, config: MetricsConfig) -> Any:
        """Serve /metrics on ``config``'s address and port; returns the server (to shut down)."""
        assert config.port is not None
        try:
            server, _thread = start_http_server(config.port, config.address, registry=self.registry)
        except OSError as exc:
            raise ConfigError(
                f"metrics.port: cannot serve on {config.address}:{config.port}: "
                f"{exc.strerror or exc}"
            ) from None
        host, port = server.server_address[:2]
        LOGGER.info("metrics served on http://%s:%d/metrics", host, port)
        return server


class DatabaseCollector(Collector):
    """Gauges read from the database at scrape time."""

    def __init__(self, db: Database, *, holder: str, now: Callable[[], datetime]) -> None:
        self.db, self.holder, self.now = db, holder, now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """Queue depths, per-source last success and lease, job leases, database up."""
        up = GaugeMetricFamily(
            "social_crm_database_up", "1 when the last scrape could read the database."
        )
        try:
            families = self._read()
        except Exception as exc:  # noqa: BLE001 - a scrape reports the outage, never raises
            LOGGER.warning("metrics: the database could not be read: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _read(self) -> list[GaugeMetricFamily]:
        now = self.now()
        queues = GaugeMetricFamily(
            "social_crm_queue_depth",
            "Items waiting in each queue of the pipeline.",
            labels=["queue"],
        )
        last_success = GaugeMetricFamily(
            "social_crm_source_last_success_timestamp_seconds",
            "When each source was last polled successfully (Unix time).",
            labels=["connector", "source"],
        )
        held = GaugeMetricFamily(
            "social_crm_source_lease_held",
            "1 for each source this process holds the lease of (polls), 0 for the others.",
            labels=["connector", "source"],
        )
        jobs = GaugeMetricFamily(
            "social_crm_job_lease_held",
            "1 for each once-per-cluster job this process holds the lease of.",
            labels=["job"],
        )
        with self.db.transaction() as session:
            for name, depth in QUEUE_DEPTHS.items():
                queues.add_metric([name], depth(session))
            for row in session.execute(
                select(
                    SourceCursor.connector,
                    SourceCursor.source_key,
                    SourceCursor.last_success_at,
                    SourceCursor.lease_owner,
                    SourceCursor.lease_expires_at,
                ).order_by(SourceCursor.connector, SourceCursor.source_key)
            ):
                labels = [row.connector, row.source_key]
                if row.last_success_at is not None:
                    last_success.add_metric(labels, row.last_success_at.timestamp())
                held.add_metric(labels, self._mine(row.lease_owner, row.lease_expires_at, now))
            for lease in session.scalars(select(Lease).order_by(Lease.name)):
                jobs.add_metric([lease.name], self._mine(lease.owner, lease.expires_at, now))
        return [queues, last_success, held, jobs]

    def _mine(self, owner: str | None, expires_at: datetime | None, now: datetime) -> int:
        return int(owner == self.holder and expires_at is not None and expires_at >= now)
