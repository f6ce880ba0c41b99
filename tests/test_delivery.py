"""Delivery: real SMTP and HTTP receivers, signatures, idempotency keys, leases, isolation."""

from __future__ import annotations

import dataclasses
import functools
import json
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from social_crm.alerts.escalation import Routing
from social_crm.alerts.notifications import compose
from social_crm.config import (
    AlertsConfig,
    AppriseChannel,
    EmailChannel,
    QuietHours,
    WebhookChannel,
)
from social_crm.db import Database
from social_crm.db.base import utcnow
from social_crm.delivery.channels import build_notifiers, verify_signature
from social_crm.delivery.channels.signing import sign
from social_crm.delivery.messages import AlertMessage, DigestItem, DigestMessage
from social_crm.delivery.models import Delivery
from social_crm.delivery.outbox import DeliveryPass, channel_report, claim_due, deliver_due
from social_crm.demo.servers.sinks import SmtpSink, WebhookSink
from social_crm.errors import ConfigError, DeliveryError

from .escalation import escalate
from .factories import ANGRY, UNSURE, post, store

WEBHOOK_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
SECRET = "whsec_czNjcmV0LXdlYmhvb2sta2V5LWZvci10ZXN0cw=="


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


def policy(smtp: SmtpSink, webhook: WebhookSink, **options: object) -> AlertsConfig:
    return AlertsConfig(
        channels=[
            EmailChannel(
                type="email",
                name="team",
                host="127.0.0.1",
                port=smtp.port,
                sender="bot@brewly.example",
                recipients=["team@brewly.example"],
            ),
            WebhookChannel(type="webhook", name="chat", url=webhook.url, secret=SECRET),  # type: ignore[arg-type]
        ],
        max_attempts=3,
        retry_base_seconds=60,
        **options,  # type: ignore[arg-type]
    )


ROUTING = Routing.single(["team", "chat"])


def test_email_and_webhook_carry_the_alert_a_stable_key_and_a_valid_signature(
    db: Database, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    config = policy(smtp, webhook)
    store(db, (post("t3_a", text="Brewly broke again. Ünïcode ☕ and a <b>tag</b>"), ANGRY))
    (alert,) = escalate(db, routing=ROUTING)
    assert deliver_due(
        db, build_notifiers(config.channels), config, compose=compose
    ) == DeliveryPass(sent=2, failed=0)

    (email,) = smtp.messages
    assert email["Subject"] == "[social-crm] Brewly: negative reddit mention by erik [medium]"
    assert email["Message-ID"] == f"<alert-{alert.id}-team-0@brewly.example>"
    assert email.get_content_type() == "text/plain"
    assert email.get_content_charset() == "utf-8"
    body = email.get_payload(decode=True).decode("utf-8")
    assert "> Brewly broke again. Ünïcode ☕ and a <b>tag</b>" in body
    assert "Link:     https://www.reddit.com/t3_a" in body
    assert f"Ref: alert-{alert.id}-team-0" in body

    (request,) = webhook.requests
    key = request.header("Idempotency-Key")
    assert key == f"alert-{alert.id}-chat-0"
    payload = json.loads(request.body)
    assert payload["idempotency_key"] == key and payload["event"] == "mention_alert.opened"
    assert payload["alert"]["severity"] == "medium" and payload["alert"]["rule"] == "negative"
    # Standard Webhooks: the id is the stable key, the signature v1 over "id.timestamp.body".
    assert request.header("webhook-id") == key
    timestamp = request.header("webhook-timestamp")
    signature = request.header("webhook-signature")
    assert timestamp and signature and signature.startswith("v1,")
    headers = {name: request.header(name) or "" for name in WEBHOOK_HEADERS}
    assert verify_signature(SECRET, headers, request.body)
    assert not verify_signature("whsec_d3Jvbmc=", headers, request.body)
    assert not verify_signature(SECRET, headers, request.body + b" ")
    # A receiver with the stock library of the specification accepts the same request.
    assert Webhook(SECRET).verify(request.body, headers) == payload


def test_alert_emails_share_one_smtp_session_and_one_the_server_dropped_is_replaced(
    db: Database, webhook: WebhookSink
) -> None:
    with SmtpSink() as smtp:
        config = policy(smtp, webhook)
        notifiers = build_notifiers(config.channels)
        store(db, *[(post(f"t3_{n}", author=f"user{n}"), ANGRY) for n in range(3)])
        escalate(db, routing=Routing.single(["team"]))
        assert deliver_due(db, notifiers, config, compose=compose) == DeliveryPass(sent=3, failed=0)
        assert len(smtp.messages) == 3 and len(set(smtp.peers)) == 1
    # The server restarts: the session kept open is gone.
    with SmtpSink(port=smtp.port) as restarted:
        store(db, (post("t3_later", author="late"), ANGRY))
        escalate(db, routing=Routing.single(["team"]))
        assert deliver_due(db, notifiers, config, compose=compose) == DeliveryPass(sent=1, failed=0)
        assert len(restarted.messages) == 1  # sent once, on a new session
    assert len(smtp.messages) == 3


def test_signatures_match_the_standard_webhooks_published_test_vector() -> None:
    # From the specification's reference libraries (standard-webhooks, test_sign_function).
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    msg_id, timestamp = "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330
    body = b'{"test": 2432232314}'
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert sign(secret, msg_id, timestamp, body) == expected
    assert sign(secret.removeprefix("whsec_"), msg_id, timestamp, body) == expected
    headers = {
        "Webhook-Id": msg_id,
        "Webhook-Timestamp": str(timestamp),
        "Webhook-Signature": f"v1,bm90LXRoaXMtb25l {expected}",  # key rotation: several
    }
    assert verify_signature(secret, headers, body, now=timestamp + 299)


def test_verify_signature_rejects_old_future_and_malformed_requests() -> None:
    body = b'{"event":"mention_alert.opened"}'
    now = 1_800_000_000

    def headers(timestamp: object = now, signature: str | None = None) -> dict[str, str]:
        good = sign(SECRET, "alert-1-chat-0", now, body)
        return {
            "webhook-id": "alert-1-chat-0",
            "webhook-timestamp": str(timestamp),
            "webhook-signature": good if signature is None else signature,
        }

    assert verify_signature(SECRET, headers(), body, now=now + 299)
    assert not verify_signature(SECRET, headers(), body, now=now + 301)
    assert not verify_signature(SECRET, headers(), body, now=now - 301)
    assert verify_signature(SECRET, headers(), body, tolerance=10, now=now + 5)
    assert not verify_signature(SECRET, headers("yesterday"), body, now=now)
    assert not verify_signature(SECRET, headers(now + 1), body, now=now)  # timestamp is signed
    assert not verify_signature(SECRET, headers(signature="v1," + "A" * 44), body, now=now)
    assert not verify_signature(SECRET, {**headers(), "webhook-id": "other"}, body, now=now)
    assert not verify_signature(SECRET, {}, body, now=now)


def test_a_failed_send_is_retried_and_a_dead_channel_holds_back_no_other(
    db: Database, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    config = policy(smtp, webhook)
    notifiers = build_notifiers(config.channels)
    webhook.status = 503
    store(db, (post("t3_a"), ANGRY), (post("t3_b", author="ann"), ANGRY))
    escalate(db, routing=ROUTING)
    # Both emails go out; the webhook fails once and its other row waits for the next pass.
    assert deliver_due(db, notifiers, config, compose=compose) == DeliveryPass(sent=2, failed=1)
    assert deliver_due(db, notifiers, config, compose=compose) == DeliveryPass(sent=0, failed=1)
    assert deliver_due(db, notifiers, config, compose=compose) == DeliveryPass(
        sent=0, failed=0
    )  # both backing off
    webhook.status = 200
    assert deliver_due(
        db, notifiers, config, now=utcnow() + timedelta(hours=1), compose=compose
    ) == DeliveryPass(sent=2, failed=0)
    first_keys = [r.header("Idempotency-Key") for r in webhook.requests]
    assert sorted(first_keys[:2]) == sorted(first_keys[2:])  # retries repeat their keys

    webhook.status = 500  # from now on the webhook never works again
    store(db, (post("t3_c", author="bob"), ANGRY), (post("t3_d", author="kim"), ANGRY))
    escalate(db, routing=ROUTING)
    for hours in range(2, 12):
        deliver_due(
            db, notifiers, config, now=utcnow() + timedelta(hours=hours * 2), compose=compose
        )
    with db.transaction() as session:
        rows = session.scalars(select(Delivery).order_by(Delivery.id)).all()
        outcome = Counter((row.channel, row.status) for row in rows)
        assert outcome == {("team", "sent"): 4, ("chat", "sent"): 2, ("chat", "failed"): 2}
        assert {row.attempts for row in rows if row.status == "failed"} == {3}
        (chat, team) = channel_report(session)
    assert len(smtp.messages) == 4
    assert (chat.channel, chat.sent, chat.failed, chat.pending) == ("chat", 2, 2, 0)
    assert "answered 500" in (chat.last_error or "") and team.last_error is None


def test_a_channel_that_times_out_costs_the_others_one_timeout_per_pass(
    db: Database, webhook: WebhookSink
) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        config = AlertsConfig(
            channels=[
                WebhookChannel(
                    type="webhook",
                    name="pager",
                    url=f"http://127.0.0.1:{port}/hook",
                    timeout_seconds=0.5,
                ),
                WebhookChannel(type="webhook", name="chat", url=webhook.url),
            ]
        )
        store(db, *[(post(f"t3_{n}", author=f"user{n}"), ANGRY) for n in range(5)])
        escalate(db, routing=Routing.single(["pager", "chat"]))
        started = time.monotonic()
        assert deliver_due(
            db, build_notifiers(config.channels), config, compose=compose
        ) == DeliveryPass(sent=5, failed=1)
        assert time.monotonic() - started < 2.4  # one timeout (0.5 s), not five
    assert len(webhook.payloads) == 5
    with db.transaction() as session:
        pager = session.scalars(
            select(Delivery).where(Delivery.channel == "pager").order_by(Delivery.id)
        ).all()
        assert [(row.status, row.attempts) for row in pager] == [("pending", 1)] + [
            ("pending", 0)
        ] * 4
        assert "timed out" in (pager[0].last_error or "").lower()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # a CLI test: one backend will do
def test_status_shows_each_channel_with_its_last_error(
    db: Database, smtp: SmtpSink, webhook: WebhookSink, write_config
) -> None:
    config = policy(smtp, webhook)
    webhook.status = 502
    store(db, (post("t3_a"), ANGRY))
    escalate(db, routing=ROUTING)
    deliver_due(db, build_notifiers(config.channels), config, compose=compose)
    path = write_config(
        database={"url": db.url},
        alerts={
            "channels": [
                {"type": "webhook", "name": "chat", "url": webhook.url},
                {"type": "webhook", "name": "spare", "url": webhook.url},
            ]
        },
    )
    result = subprocess.run(
        [sys.executable, "-m", "social_crm.cli", "status", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    chat = next(line for line in lines if line.startswith("chat "))
    assert "failing" in chat
    error = next(line for line in lines if line.startswith("last error of chat: "))
    assert "answered 502" in error
    assert "not configured" in next(line for line in lines if line.startswith("team "))
    assert "unused" in next(line for line in lines if line.startswith("spare "))


def test_a_send_interrupted_by_a_crash_is_sent_again_with_the_same_key(
    db: Database, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    config = policy(smtp, webhook, lease_seconds=60)
    notifiers = build_notifiers(config.channels)
    store(db, (post("t3_a"), ANGRY))
    escalate(db, routing=Routing.single(["chat"]))
    (claim,) = claim_due(db, config, compose=compose) or ()
    notifiers["chat"].send(claim.message)  # sent, then the process dies before recording it
    with db.transaction() as session:
        row = session.scalars(select(Delivery)).one()
        assert (row.status, row.attempts) == ("sending", 1)
    assert deliver_due(db, notifiers, config, compose=compose) == DeliveryPass(
        sent=0, failed=0
    )  # the lease still holds
    assert deliver_due(
        db, notifiers, config, now=utcnow() + timedelta(seconds=61), compose=compose
    ) == DeliveryPass(sent=1, failed=0)
    keys = [r.header("Idempotency-Key") for r in webhook.requests]
    assert len(keys) == 2 and len(set(keys)) == 1  # one duplicate, which the key identifies
    with db.transaction() as session:
        row = session.scalars(select(Delivery)).one()
        assert (row.status, row.attempts, row.lease_until) == ("sent", 2, None)


@pytest.mark.postgres
def test_several_daemons_never_send_the_same_row(pg_url: str) -> None:
    db = Database(pg_url)
    db.upgrade()
    with WebhookSink() as webhook:
        config = AlertsConfig(
            channels=[WebhookChannel(type="webhook", name="chat", url=webhook.url)]
        )
        store(db, *[(post(f"t3_{i}", author=f"user{i}"), ANGRY) for i in range(30)])
        escalate(db, routing=Routing.single(["chat"]))
        notifiers = build_notifiers(config.channels)
        results: list[DeliveryPass] = []
        workers = [
            threading.Thread(
                target=lambda: results.append(deliver_due(db, notifiers, config, compose=compose))
            )
            for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=60)
        keys = [r.header("Idempotency-Key") for r in webhook.requests]
    db.close()
    assert sum(result.sent for result in results) == 30
    assert len(keys) == 30 and len(set(keys)) == 30


def test_quiet_hours_hold_non_urgent_deliveries_until_morning(
    db: Database, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    quiet = QuietHours(start="22:00", end="07:00", timezone="UTC", hold_below="high")
    config = policy(smtp, webhook, quiet_hours=quiet)
    notifiers = build_notifiers(config.channels)
    store(db, (post("t3_a"), ANGRY), (post("t3_b", author="vip", followers=50_000), ANGRY))
    escalate(db, routing=Routing.single(["chat"]))
    night = datetime(2026, 11, 2, 23, 0, tzinfo=UTC)
    assert deliver_due(db, notifiers, config, now=night, compose=compose) == DeliveryPass(
        sent=1, failed=0
    )
    assert webhook.payloads[0]["alert"]["severity"] == "high"
    with db.transaction() as session:
        held = session.scalars(select(Delivery).where(Delivery.status == "pending")).one()
        assert held.next_attempt_at == datetime(2026, 11, 3, 7, 0, tzinfo=UTC)
        assert held.attempts == 0
    assert deliver_due(
        db, notifiers, config, now=night + timedelta(hours=8, minutes=1), compose=compose
    ) == DeliveryPass(sent=1, failed=0)


def test_a_digest_arrives_as_one_message_listing_its_alerts(
    db: Database, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    from social_crm.config import DigestConfig
    from social_crm.delivery import digests

    config = policy(smtp, webhook)
    routing = Routing(levels=(("team", "chat"),), digest_at_most="low")
    store(db, (post("t3_a", author="a"), UNSURE), (post("t3_b", author="b"), UNSURE))
    escalate(db, routing=routing)
    assert deliver_due(
        db, build_notifiers(config.channels), config, compose=compose
    ) == DeliveryPass(sent=0, failed=0)
    later = utcnow() + timedelta(hours=1, minutes=1)
    with db.transaction() as session:
        assert len(digests.build_digests(session, DigestConfig(), now=later)) == 2
    assert deliver_due(
        db, build_notifiers(config.channels), config, now=later, compose=compose
    ) == DeliveryPass(sent=2, failed=0)
    (payload,) = webhook.payloads
    assert payload["event"] == "digest" and len(payload["alerts"]) == 2
    assert {item["severity"] for item in payload["alerts"]} == {"low"}
    (email,) = smtp.messages
    assert email["Subject"].startswith("[social-crm] digest: 2 alerts until ")
    assert email["Message-ID"].startswith("<digest-team-")


def test_apprise_delivers_to_json_and_email_services_and_reports_failures(
    db: Database, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    json_url = webhook.url.replace("http://", "json://")
    mail_url = (
        f"mailto://127.0.0.1:{smtp.port}?mode=insecure"
        "&from=bot@brewly.example&to=team@brewly.example"
    )
    channels = [
        AppriseChannel(type="apprise", name="hook", url=json_url),  # type: ignore[arg-type]
        AppriseChannel(type="apprise", name="mail", url=mail_url, format="text"),  # type: ignore[arg-type]
    ]
    config = AlertsConfig(channels=channels, max_attempts=2)  # type: ignore[arg-type]
    notifiers = build_notifiers(config.channels)
    store(db, (post("t3_a", text="Broken *again* @everyone"), ANGRY))
    escalate(db, routing=Routing.single(["hook", "mail"]))
    assert deliver_due(db, notifiers, config, compose=compose) == DeliveryPass(sent=2, failed=0)
    (payload,) = webhook.payloads
    # Markdown escaped (json:// shows it as it is; `format: text` suits such services).
    assert payload["title"].startswith(r"\[social-crm\] Brewly: negative reddit mention by erik")
    assert "```\nBroken *again* @\u200beveryone\n```" in payload["message"]
    assert smtp.messages[0]["Subject"].startswith("[social-crm] Brewly")

    webhook.status = 500
    store(db, (post("t3_b", author="ann"), ANGRY))
    escalate(db, routing=Routing.single(["hook"]))
    assert deliver_due(db, notifiers, config, compose=compose) == DeliveryPass(sent=0, failed=1)
    with db.transaction() as session:
        row = session.scalars(select(Delivery).where(Delivery.status == "pending")).one()
        assert (row.last_error or "").startswith("apprise json:// failed:")
        assert SECRET not in (row.last_error or "")


def test_an_invalid_apprise_url_fails_at_start_up_without_showing_it() -> None:
    channel = AppriseChannel(type="apprise", name="chat", url="nosuchservice://token-123")  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError, match=r"chat: not a valid apprise URL \(scheme nosuchservice://\)"
    ) as raised:
        build_notifiers([channel])
    assert "token-123" not in str(raised.value)


def test_a_notifier_bug_is_recorded_as_a_failure_not_a_stuck_row(db: Database) -> None:
    class Broken:
        name = "chat"

        def send(self, message: object) -> None:
            raise KeyError("bug")

    store(db, (post("t3_a"), ANGRY))
    escalate(db, routing=Routing.single(["chat"]))
    assert deliver_due(db, {"chat": Broken()}, AlertsConfig(), compose=compose) == DeliveryPass(
        sent=0, failed=1
    )
    with db.transaction() as session:
        row = session.scalars(select(Delivery)).one()
        assert row.status == "pending" and "KeyError" in (row.last_error or "")
    assert issubclass(DeliveryError, Exception)


# -- what messages say: the alert's name and, when configured, its web page ----------------------


def test_messages_name_the_alert_and_link_to_the_web_interface_when_it_is_configured(
    db: Database, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    config = policy(smtp, webhook)
    notifiers = build_notifiers(config.channels)
    store(db, (post("t3_a", author="anna"), ANGRY))
    (linked,) = escalate(db, routing=ROUTING)
    with_web = functools.partial(compose, base_url="https://crm.brewly.example")
    assert deliver_due(db, notifiers, config, compose=with_web) == DeliveryPass(sent=2, failed=0)
    store(db, (post("t3_b", author="bob"), ANGRY))
    (plain,) = escalate(db, routing=ROUTING)
    assert deliver_due(db, notifiers, config, compose=compose) == DeliveryPass(sent=2, failed=0)

    first, second = (
        m.get_payload(decode=True).decode("utf-8").replace("\r\n", "\n") for m in smtp.messages
    )
    page = f"https://crm.brewly.example/alerts/{linked.id}"
    assert f"Alert #{linked.id}\nOpen: {page}\n" in first
    assert f"Alert #{plain.id}\n" in second and "Open:" not in second
    for body in (first, second):
        assert "social-crm " not in body  # no command to type
    first_json, second_json = (payload["alert"] for payload in webhook.payloads)
    assert first_json["alert_url"] == page and second_json["alert_url"] == ""


@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
def test_alert_digest_and_health_messages_render_their_links_in_every_format(fmt: str) -> None:
    common = {
        "brand": "Brewly",
        "status": "open",
        "reason": "reddit/Brewly:search found nothing for 24 hours",
        "network": "",
        "url": "",
        "author": "",
        "customer": None,
        "customer_tier": None,
        "text": "",
        "sentiment": "",
        "confidence": 0.0,
        "opened_at": "2026-11-02T12:00:00+00:00",
    }
    health = AlertMessage(
        alert_id=7,
        kind="health",
        alert_url="https://crm.example/alerts/7",
        status_url="https://crm.example/status",
        **common,  # type: ignore[arg-type]
    )
    item = DigestItem(7, "low", "subject", "", "text", 1, "2026-11-02T12:00:00+00:00")
    digest = DigestMessage(channel="team", period="20261102T1300Z", items=(item,))
    linked_digest = DigestMessage(
        channel="team",
        period="20261102T1300Z",
        items=(dataclasses.replace(item, alert_url="https://crm.example/alerts/7"),),
        alerts_url="https://crm.example/alerts?status=open",
    )
    _, with_links = health.render(fmt)  # type: ignore[arg-type]
    _, without = dataclasses.replace(health, alert_url="", status_url="").render(fmt)  # type: ignore[arg-type]
    _, digest_with = linked_digest.render(fmt)  # type: ignore[arg-type]
    _, digest_without = digest.render(fmt)  # type: ignore[arg-type]
    for url in ("https://crm.example/alerts/7", "https://crm.example/status"):
        assert url in with_links and url not in without
    assert "https://crm.example/alerts?status=open" in digest_with
    assert "https://crm.example" not in digest_without
    for body in (with_links, without, digest_with, digest_without):
        assert "7" in body and "social-crm " not in body
    if fmt == "text":
        assert "Alert #7\nOpen: https://crm.example/alerts/7\n" in with_links
        assert "Status: https://crm.example/status" in with_links
        assert "Open: https://crm.example/alerts?status=open" in digest_with
    if fmt == "html":
        assert '<a href="https://crm.example/alerts/7">' in with_links
