"""Escalation and delivery: one alert per thread, every channel once, retries that end."""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from social_crm.alerts import service
from social_crm.alerts.lifecycle import acknowledge, resolve
from social_crm.alerts.notifications import compose
from social_crm.config import AlertsConfig, EmailChannel, WebhookChannel
from social_crm.db import Database
from social_crm.db.base import utcnow
from social_crm.delivery.channels import build_notifiers
from social_crm.delivery.models import Delivery
from social_crm.delivery.outbox import DeliveryPass, deliver_due
from social_crm.demo.servers.sinks import SmtpSink, WebhookSink
from social_crm.errors import InvalidTransition, NotFound

from .escalation import ingest_and_escalate
from .factories import mention

ANGRY = "This is terrible, awful service. I hate it and want a refund."


@pytest.fixture
def smtp() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def webhook() -> Iterator[WebhookSink]:
    with WebhookSink() as sink:
        yield sink


def channels(smtp: SmtpSink, webhook: WebhookSink) -> AlertsConfig:
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
            WebhookChannel(type="webhook", name="chat", url=webhook.url),
        ],
        max_attempts=3,
        retry_base_seconds=60,
    )


def test_a_negative_thread_raises_one_alert_delivered_once_per_channel(
    db: Database, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    policy = channels(smtp, webhook)
    notifiers = build_notifiers(policy.channels)
    opened = ingest_and_escalate(
        db,
        mention("t3_a", text=ANGRY),
        mention("t1_b", parent="t3_a", thread="t3_a", text="Same here, horrible and broken."),
        mention("t3_c", text="I love my Brewly, wonderful!"),
    )
    assert len(opened) == 1
    assert deliver_due(db, notifiers, policy, compose=compose) == DeliveryPass(sent=2, failed=0)
    assert deliver_due(db, notifiers, policy, compose=compose) == DeliveryPass(
        sent=0, failed=0
    )  # nothing is sent twice
    assert len(smtp.messages) == 1 and len(webhook.payloads) == 1
    assert "Brewly: negative reddit mention by erik" in smtp.messages[0]["Subject"]
    payload = webhook.payloads[0]["alert"]
    assert payload["url"] == "https://www.reddit.com/t3_a" and payload["sentiment"] == "negative"
    with db.transaction() as session:
        (alert,) = service.list_alerts(session)
        assert alert.mention_count == 2
    # A later negative reply in the same conversation adds to the alert, sends nothing.
    assert ingest_and_escalate(db, mention("t1_d", parent="t3_a", thread="t3_a", text=ANGRY)) == []
    assert deliver_due(db, notifiers, policy, compose=compose) == DeliveryPass(sent=0, failed=0)


def test_a_resolved_conversation_that_turns_negative_again_opens_a_new_alert(db: Database) -> None:
    (first,) = ingest_and_escalate(db, mention("t3_a", text=ANGRY))
    with db.transaction() as session:
        acknowledge(session, first, by="maria")
        resolve(session, first, by="maria")
    assert (
        len(ingest_and_escalate(db, mention("t1_b", parent="t3_a", thread="t3_a", text=ANGRY))) == 1
    )


def test_a_failing_channel_is_retried_with_backoff_then_given_up(
    db: Database, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    policy = channels(smtp, webhook)
    notifiers = build_notifiers(policy.channels)
    webhook.status = 503
    ingest_and_escalate(db, mention("t3_a", text=ANGRY))
    assert deliver_due(db, notifiers, policy, compose=compose) == DeliveryPass(
        sent=1, failed=1
    )  # email sent, webhook failed
    assert deliver_due(db, notifiers, policy, compose=compose) == DeliveryPass(
        sent=0, failed=0
    )  # not due yet: backing off
    later = utcnow() + timedelta(hours=1)
    webhook.status = 200
    assert deliver_due(db, notifiers, policy, now=later, compose=compose) == DeliveryPass(
        sent=1, failed=0
    )
    assert len(smtp.messages) == 1 and len(webhook.payloads) == 1

    webhook.status = 500
    # Another author: the same author's new thread would join their open alert (cooldown).
    ingest_and_escalate(db, mention("t3_z", author="gus", text=ANGRY))
    for hours in range(2, 10):
        deliver_due(
            db, notifiers, policy, now=utcnow() + timedelta(hours=hours * 2), compose=compose
        )
    with db.transaction() as session:
        failed = session.scalars(
            select(Delivery).where(Delivery.channel == "chat", Delivery.status == "failed")
        ).one()
        assert failed.attempts == policy.max_attempts
        assert "answered 500" in (failed.last_error or "")


def test_an_unreachable_smtp_server_is_a_retryable_failure(
    db: Database, webhook: WebhookSink
) -> None:
    with SmtpSink() as gone:
        policy = channels(gone, webhook)
    notifiers = build_notifiers(policy.channels)
    ingest_and_escalate(db, mention("t3_a", text=ANGRY))
    assert deliver_due(db, notifiers, policy, compose=compose) == DeliveryPass(sent=1, failed=1)
    with db.transaction() as session:
        email = session.scalars(select(Delivery).where(Delivery.channel == "team")).one()
        assert email.status == "pending" and "email to 127.0.0.1" in (email.last_error or "")


def test_alert_workflow_rejects_impossible_steps(db: Database) -> None:
    (alert_id,) = ingest_and_escalate(db, mention("t3_a", text=ANGRY))
    with db.transaction() as session:
        resolve(session, alert_id, by="maria")
    with pytest.raises(InvalidTransition, match="only open alerts can be acknowledged"):
        with db.transaction() as session:
            acknowledge(session, alert_id, by="maria")
    with pytest.raises(NotFound, match="no alert with id 999"):
        with db.transaction() as session:
            resolve(session, 999, by="maria")


def test_weak_negatives_stay_below_the_threshold(db: Database) -> None:
    assert ingest_and_escalate(db, mention("t3_a", text="The box was a bit dented.")) == []


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # a CLI test: one backend will do
def test_alerts_can_be_shown_and_assigned_from_the_command_line(
    db: Database, db_url: str, write_config
) -> None:
    from typer.testing import CliRunner

    from social_crm.cli import app

    config = str(write_config(database={"url": db_url}))
    (alert_id,) = ingest_and_escalate(
        db,
        mention("t3_a", text=ANGRY),
        mention(
            "t1_b",
            parent="t3_a",
            thread="t3_a",
            author="lisa",
            text="Awful, I hate it [red]terrible[/red]",
        ),
    )
    runner = CliRunner()
    assigned = runner.invoke(
        app, ["alerts", "assign", str(alert_id), "--to", "maria", "-c", config]
    )
    assert assigned.exit_code == 0 and f"alert {alert_id} assigned to maria" in assigned.output
    shown = runner.invoke(
        app, ["alerts", "show", str(alert_id), "-c", config], env={"COLUMNS": "80"}
    )
    assert shown.exit_code == 0, shown.output
    assert "medium, open" in shown.output and "rule:         negative" in shown.output
    assert "assignee:     maria" in shown.output and "mentions:     2" in shown.output
    assert "latest:" in shown.output and "[red]terrible[/red]" in shown.output  # not markup
    assert f"alert-{alert_id}-team-0" in shown.output
    assert re.search(r"team +0 +pending", shown.output), shown.output  # deliveries: in show
    listed = runner.invoke(
        app, ["alerts", "list", "--severity", "medium", "-c", config], env={"COLUMNS": "80"}
    )
    assert "maria" in listed.output
    with db.transaction() as session:
        resolve(session, alert_id, by="maria")
    again = runner.invoke(app, ["alerts", "assign", str(alert_id), "--to", "erik", "-c", config])
    assert isinstance(again.exception, InvalidTransition) and "cannot be assigned" in str(
        again.exception
    )
    (reopened,) = ingest_and_escalate(
        db, mention("t1_c", parent="t3_a", thread="t3_a", author="ann", text=ANGRY)
    )
    shown = runner.invoke(
        app, ["alerts", "show", str(reopened), "-c", config], env={"COLUMNS": "80"}
    )
    assert re.search(rf"reopens: +alert {alert_id}, resolved [-0-9: ]+ maria", shown.output)


def test_alert_read_models_hold_plain_values_usable_after_the_session(db: Database) -> None:

    (first,) = ingest_and_escalate(db, mention("t3_a", text=ANGRY))
    with db.transaction() as session:
        resolve(session, first, by="maria")
    (second,) = ingest_and_escalate(
        db,
        mention("t1_b", parent="t3_a", thread="t3_a", text=ANGRY),
        mention("t1_c", parent="t3_a", thread="t3_a", author="lisa", text=ANGRY),
    )
    with db.transaction() as session:
        listed = service.list_alerts(session, status="open")
        detail = service.get_alert(session, second)
        with pytest.raises(NotFound, match="no alert with id 999"):
            service.get_alert(session, 999)
    # The session is gone: everything below reads plain values, nothing loads lazily.
    assert [alert.id for alert in listed] == [second]
    summary = detail.summary
    assert (summary.status, summary.mention_count) == ("open", 2)
    assert summary.first_mention is not None and summary.first_mention.handle == "erik"
    assert detail.last_mention is not None and detail.last_mention.handle == "lisa"
    assert summary.first_mention.customer is None
    assert {(d.channel, d.level) for d in summary.deliveries} == {("team", 0), ("chat", 0)}
    assert detail.reopens is not None
    assert (detail.reopens.alert_id, detail.reopens.resolved_by) == (first, "maria")
    assert detail.reopens.resolved_at is not None and detail.top_posts == ()


def test_a_followers_only_post_is_quoted_only_into_a_private_channel(
    db: Database, smtp: SmtpSink, webhook: WebhookSink
) -> None:
    policy = channels(smtp, webhook)
    policy.channels[0] = policy.channels[0].model_copy(update={"private": True})
    secret = dataclasses.replace(mention("t3_a", text=ANGRY), visibility="private")
    (alert_id,) = ingest_and_escalate(db, secret)
    private_channels = {c.name for c in policy.channels if c.private}  # as the deliver job
    send = functools.partial(compose, private_channels=private_channels)
    assert deliver_due(db, build_notifiers(policy.channels), policy, compose=send).sent == 2
    shared = webhook.payloads[0]["alert"]
    assert ANGRY not in json.dumps(webhook.payloads[0])
    assert shared["url"] == "https://www.reddit.com/t3_a" and shared["author"] == "erik"
    assert shared["visibility"] == "private" and "not quoted" in shared["text"]
    team = smtp.messages[0].get_payload(decode=True).decode()
    assert ANGRY in team and "followers only" in team
    with db.transaction() as session:
        assert service.get_alert(session, alert_id).summary.first_mention.visibility == "private"
