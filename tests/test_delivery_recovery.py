"""Nothing given up on for good, and no secret in a channel's errors."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from social_crm.alerts.escalation import Routing
from social_crm.alerts.notifications import compose
from social_crm.config import AlertsConfig, AppriseChannel, WebhookChannel
from social_crm.db import Database
from social_crm.db.base import utcnow
from social_crm.delivery.channels import build_notifiers
from social_crm.delivery.channels.redact import RedactingFilter, redact, secret_parts
from social_crm.delivery.messages import Message
from social_crm.delivery.models import Delivery
from social_crm.delivery.outbox import DeliveryPass, deliver_due
from social_crm.demo.servers.sinks import WebhookSink
from social_crm.errors import DeliveryError

from .escalation import escalate
from .factories import ANGRY, post, store

CHAT = Routing.single(["chat"])
POLICY = AlertsConfig(max_attempts=3, retry_base_seconds=60)


class Receiver:
    """A channel that is down while ``down``, and always refuses the keys in ``refuse``."""

    name = "chat"

    def __init__(self) -> None:
        self.down = False
        self.refuse: set[str] = set()
        self.received: list[str] = []

    def send(self, message: Message) -> None:
        if self.down or message.idempotency_key in self.refuse:
            raise DeliveryError("answered 503")
        self.received.append(message.idempotency_key)


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


def passes(db: Database, receiver: Receiver, hours: range) -> None:
    for hour in hours:
        deliver_due(
            db, {"chat": receiver}, POLICY, compose=compose, now=utcnow() + timedelta(hours=hour)
        )


def statuses(db: Database) -> dict[str, tuple[str, int]]:
    with db.transaction() as session:
        return {
            row.idempotency_key: (row.status, row.attempts)
            for row in session.scalars(select(Delivery).order_by(Delivery.id))
        }


def test_a_delivery_given_up_on_is_sent_once_its_channel_works_again(db: Database) -> None:
    receiver = Receiver()
    receiver.down = True
    store(db, (post("t3_a"), ANGRY), (post("t3_b", author="ann"), ANGRY))
    first, second = sorted(alert.id for alert in escalate(db, routing=CHAT))
    passes(db, receiver, range(0, 12, 2))
    a, b = f"alert-{first}-chat-0", f"alert-{second}-chat-0"
    assert statuses(db) == {a: ("failed", 3), b: ("failed", 3)}

    # The channel is back: the next thing it delivers brings both back, with their keys;
    # the receiver keeps refusing alert a's message.
    receiver.down = False
    receiver.refuse = {a}
    store(db, (post("t3_c", author="bob"), ANGRY))
    (third,) = escalate(db, routing=CHAT)
    c = f"alert-{third.id}-chat-0"
    passes(db, receiver, range(20, 32, 2))
    assert receiver.received == [c, b]
    assert statuses(db) == {a: ("failed", 3), b: ("sent", 1), c: ("sent", 1)}

    # Retried once, not after every later success: a message always refused stays failed.
    store(db, (post("t3_d", author="kim"), ANGRY))
    (fourth,) = escalate(db, routing=CHAT)
    passes(db, receiver, range(40, 44, 2))
    assert receiver.received[-1] == f"alert-{fourth.id}-chat-0"
    assert statuses(db)[a] == ("failed", 3)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # a CLI test: one backend will do
def test_alerts_resend_queues_an_alert_again_from_the_command_line(
    db: Database, webhook: WebhookSink, write_config
) -> None:
    channels = [WebhookChannel(type="webhook", name="chat", url=webhook.url)]
    config = AlertsConfig(channels=channels, max_attempts=1)  # type: ignore[arg-type]
    notifiers = build_notifiers(config.channels)
    store(db, (post("t3_a"), ANGRY), (post("t3_b", author="ann"), ANGRY))
    sent_one, failed_one = sorted(alert.id for alert in escalate(db, routing=CHAT))
    assert deliver_due(db, notifiers, config, compose=compose, limit=1).sent == 1
    webhook.status = 500
    assert deliver_due(db, notifiers, config, compose=compose).failed == 1
    webhook.status = 200
    path = write_config(
        database={"url": db.url},
        alerts={"channels": [{"type": "webhook", "name": "chat", "url": webhook.url}]},
    )

    def resend(alert_id: int) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "social_crm.cli", "alerts", "resend", str(alert_id)]
            + ["--config", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},
        )

    done = resend(sent_one)
    assert done.returncode == 0, done.stderr
    assert f"alert-{sent_one}-chat-0-r1" in done.stdout and "was sent" in done.stdout
    done = resend(failed_one)
    assert done.returncode == 0, done.stderr
    assert f"same key alert-{failed_one}-chat-0" in done.stdout and "was failed" in done.stdout
    missing = resend(999)
    assert missing.returncode != 0 and "no alert with id 999" in missing.stderr

    assert deliver_due(db, notifiers, config, compose=compose) == DeliveryPass(sent=2, failed=0)
    ids = [request.header("webhook-id") for request in webhook.requests]
    assert ids[-2:] == [f"alert-{failed_one}-chat-0", f"alert-{sent_one}-chat-0-r1"] or ids[
        -2:
    ] == [f"alert-{sent_one}-chat-0-r1", f"alert-{failed_one}-chat-0"]


def test_secrets_in_webhook_urls_never_reach_errors_logs_or_the_database(
    db: Database, webhook: WebhookSink, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, not listening: connections are refused
        channels = [
            WebhookChannel(
                type="webhook",
                name="down",
                url=f"http://127.0.0.1:{port}/services/T0SECRET1/B0SECRET2/XXXXSECRET3",
            ),
            WebhookChannel(type="webhook", name="refusing", url=f"{webhook.url}?token=tok-SECRET4"),
            AppriseChannel(  # type: ignore[call-arg]
                type="apprise",
                name="chatops",
                url=webhook.url.replace("http://", "json://") + "/hooks/SECRET5tok",
            ),
        ]
        config = AlertsConfig(channels=channels)  # type: ignore[arg-type]
        webhook.status = 500
        store(db, (post("t3_a"), ANGRY))
        escalate(db, routing=Routing.single(["down", "refusing", "chatops"]))
        # Libraries log the URLs they call: the command's log handlers mask what channels hold.
        caplog.handler.addFilter(RedactingFilter())
        with caplog.at_level(logging.DEBUG):
            result = deliver_due(db, build_notifiers(config.channels), config, compose=compose)
    assert result == DeliveryPass(sent=0, failed=3)
    with db.transaction() as session:
        errors = {row.channel: row.last_error or "" for row in session.scalars(select(Delivery))}
    assert errors["down"].startswith(f"webhook http://127.0.0.1:{port}/*** failed")
    host = webhook.url.split("/")[2]
    assert errors["refusing"] == f"webhook http://{host}/*** answered 500"
    assert errors["chatops"].startswith("apprise json:// failed")
    assert host in caplog.text  # hosts stay readable
    for text in [*errors.values(), caplog.text]:
        for secret in ("SECRET1", "SECRET2", "SECRET3", "SECRET4", "SECRET5"):
            assert secret not in text, text


def test_redact_keeps_the_host_and_masks_tokens_wherever_they_appear() -> None:
    url = "https://hooks.example/T000/B000/XXXX?token=abc123&channel=ops"
    secrets = secret_parts(url)
    text = f"POST {url} failed; retried T000/B000/XXXX with token abc123"
    assert redact(text, secrets=secrets) == (
        "POST https://hooks.example/*** failed; retried ***/***/*** with token ***"
    )
    assert "services" not in secret_parts("https://hooks.slack.com/services/T0/B0/XXXXXXX")
