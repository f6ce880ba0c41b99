"""A daemon killed while deliveries are in flight: after a restart every alert reaches every
channel, and the receivers can drop the few raw duplicates by their idempotency key."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from social_crm.alerts.models import Alert
from social_crm.db import Database
from social_crm.delivery.channels import verify_signature
from social_crm.delivery.models import Delivery
from social_crm.demo.servers.sinks import SmtpSink, WebhookSink

from .factories import ANGRY, BRAND, post, store

ALERTS = 4
SECRET = "whsec_Y3Jhc2gtdGVzdC1zZWNyZXQ="


@pytest.fixture
def sinks() -> Iterator[tuple[SmtpSink, WebhookSink]]:
    with SmtpSink() as smtp, WebhookSink(delay=0.3) as webhook:  # a slow receiver
        yield smtp, webhook


def start(config: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "social_crm.cli", "run", "--config", str(config)],
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )


def wait_for(condition: Callable[[], bool], *, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def statuses(db: Database) -> Counter[str]:
    with db.transaction() as session:
        return Counter(
            dict(
                session.execute(
                    select(Delivery.status, func.count()).group_by(Delivery.status)
                ).all()
            )
        )


def test_a_killed_daemon_resends_in_flight_deliveries_with_the_same_key(
    db: Database, sinks: tuple[SmtpSink, WebhookSink], write_config, tmp_path: Path
) -> None:
    smtp, webhook = sinks
    config = write_config(
        brands=[BRAND],
        database={"url": db.url},
        sentiment={"model": "lexicon"},  # fast to load; the mentions are labelled already
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
                {"type": "webhook", "name": "chat", "url": webhook.url, "secret": SECRET},
            ],
            "lease_seconds": 1.0,
            "retry_base_seconds": 1,
            "digest": None,
        },
        scheduler={
            "process_interval_seconds": 0.2,
            "deliver_interval_seconds": 0.2,
            "jitter_seconds": 0,
        },
    )
    store(db, *[(post(f"t3_{n}", author=f"user{n}"), ANGRY) for n in range(ALERTS)])
    log = tmp_path / "daemon.log"

    first = start(config, log)
    try:
        # Kill it while the slow receiver holds a request: that row is sent, not recorded.
        wait_for(lambda: len(webhook.requests) >= 2, seconds=60, what="deliveries in flight")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        first.kill()
    stuck = statuses(db)["sending"]
    assert stuck >= 1, statuses(db)

    second = start(config, log)
    try:
        wait_for(
            lambda: statuses(db) == Counter({"sent": 2 * ALERTS}),
            seconds=60,
            what="every delivery sent",
        )
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0, log.read_text()
    finally:
        second.kill()

    with db.transaction() as session:
        alert_ids = session.scalars(select(Alert.id)).all()
    assert len(alert_ids) == ALERTS
    hooks = Counter(r.header("Idempotency-Key") for r in webhook.requests)
    mails = Counter(m["Message-ID"] for m in smtp.messages)
    # Deduplicated by key, every alert reached every channel exactly once.
    assert set(hooks) == {f"alert-{i}-chat-0" for i in alert_ids}
    assert set(mails) == {f"<alert-{i}-team-0@brewly.example>" for i in alert_ids}
    duplicates = sum(hooks.values()) - len(hooks) + sum(mails.values()) - len(mails)
    # Only rows caught in flight by the kill are sent twice (here: the slow webhook's one).
    assert 1 <= duplicates <= stuck, (hooks, mails)
    assert all(
        verify_signature(
            SECRET,
            {
                name: r.header(name) or ""
                for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
            },
            r.body,
        )
        for r in webhook.requests
    )
    assert "was left sending (lease ran out): sending again with the same key" in log.read_text()
