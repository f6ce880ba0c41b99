"""Escalation: rules decide severity, one alert per conversation, SLA re-escalation, digests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from social_crm.alerts.enums import AlertStatus
from social_crm.alerts.escalation import Routing, check_levels
from social_crm.alerts.lifecycle import acknowledge, assign, can_move, resolve
from social_crm.alerts.models import Alert
from social_crm.alerts.notifications import alert_message
from social_crm.alerts.rules import Facts, first_match, keyword_pattern
from social_crm.alerts.sla import check_sla
from social_crm.config import (
    AlertsConfig,
    DigestConfig,
    EscalationConfig,
    EscalationRule,
    QuietHours,
    SpikesConfig,
    load_config,
)
from social_crm.customers.models import Customer
from social_crm.db import Database
from social_crm.db.base import utcnow
from social_crm.delivery import digests, quiet_hours
from social_crm.delivery.models import Delivery
from social_crm.errors import ConfigError, InvalidTransition
from social_crm.mentions.models import AuthorRecord

from .escalation import TWO_LEVELS, alerts, escalate
from .factories import ANGRY, BRAND, POST_T0, UNSURE, post, store


def make_customer(db: Database, handle: str, tier: str) -> None:
    with db.transaction() as session:
        customer = Customer(external_id=f"C-{handle}", name=handle.title(), tier=tier)
        session.add(customer)
        session.flush()
        author = session.scalars(select(AuthorRecord).where(AuthorRecord.handle == handle)).one()
        author.customer_id = customer.id


def facts(**overrides: object) -> Facts:
    base: dict[str, object] = {
        "label": "negative",
        "confidence": 0.9,
        "uncertain": False,
        "tier": None,
        "is_customer": False,
        "followers": 3,
        "reach": 2,
        "text": "awful",
        "brand": "brewly",
        "network": "reddit",
    }
    return Facts(**{**base, **overrides})  # type: ignore[arg-type]


# -- rules ------------------------------------------------------------------------------------


def test_the_default_rules_grade_negatives_by_customer_reach_and_certainty() -> None:
    rules = EscalationConfig().effective_rules
    assert first_match(rules, facts(tier="vip", is_customer=True)).name == "vip-negative"  # type: ignore[union-attr]
    assert first_match(rules, facts(followers=20_000)).name == "high-reach-negative"  # type: ignore[union-attr]
    assert first_match(rules, facts(reach=500)).name == "viral-negative"  # type: ignore[union-attr]
    assert first_match(rules, facts()).severity == "medium"  # type: ignore[union-attr]
    unsure = first_match(rules, facts(confidence=0.45, uncertain=True))
    assert unsure is not None and unsure.name == "uncertain-negative" and unsure.severity == "low"
    assert first_match(rules, facts(confidence=0.55)) is None  # below the threshold, not unsure
    assert first_match(rules, facts(label="positive")) is None


def test_the_first_matching_rule_wins_and_every_condition_must_hold() -> None:
    rules = [
        EscalationRule(
            name="legal",
            severity="critical",
            sentiment=["negative", "neutral"],
            keywords=["class action", "lawsuit"],
            networks=["Reddit"],
        ),
        EscalationRule(name="any", severity="low"),
    ]
    assert first_match(rules, facts(text="Time for a CLASS  action.")).name == "legal"  # type: ignore[union-attr]
    assert first_match(rules, facts(label="neutral", text="lawsuit?")).name == "legal"  # type: ignore[union-attr]
    assert first_match(rules, facts(text="lawsuits everywhere")).name == "any"  # type: ignore[union-attr]
    assert first_match(rules, facts(text="lawsuit", network="mastodon")).name == "any"  # type: ignore[union-attr]
    assert keyword_pattern("c++").search("I use C++ daily")
    assert not keyword_pattern("brew").search("Brewly")


def test_a_rule_that_does_not_validate_fails_at_start_up_naming_it(write_config) -> None:
    path = write_config(
        escalation={
            "rules": [
                {"name": "a", "severity": "low"},
                {"name": "b", "severity": "high", "tiers": ["vip"]},
                {"name": "vip", "severity": "urgent", "min_folowers": 5},
            ]
        }
    )
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert f"{path}: escalation.rules.2: (name 'vip')" in message
    assert "severity: Input should be 'low', 'medium', 'high' or 'critical'" in message
    assert "min_folowers: unknown key" in message

    quiet = write_config(alerts={"quiet_hours": {"start": 1320, "end": "07:00"}})
    with pytest.raises(ConfigError, match=r"alerts.quiet_hours.start: .*quoted 24-hour time"):
        load_config(quiet)
    levels = write_config(
        alerts={
            "channels": [{"type": "webhook", "name": "chat", "url": "http://x"}],
            "levels": [["chat"], ["pager"]],
        }
    )
    with pytest.raises(ConfigError, match=r"levels.1: unknown channel\(s\) pager; channels: chat"):
        load_config(levels)


def test_a_rule_starting_at_a_level_that_does_not_exist_stops_the_daemon() -> None:
    config = EscalationConfig(
        rules=[
            EscalationRule(name="ok", severity="low"),
            EscalationRule(name="page", severity="high", level=2),
        ]
    )
    with pytest.raises(
        ConfigError, match=r"escalation.rules.1 \(name 'page'\): level 2, but alerts.levels has 2"
    ):
        check_levels(TWO_LEVELS, config, SpikesConfig())
    check_levels(TWO_LEVELS, EscalationConfig(), SpikesConfig())


def test_the_old_threshold_setting_still_drives_the_default_rules(write_config) -> None:
    settings = load_config(write_config(escalation={"negative_threshold": 0.8}))
    rules = settings.escalation.effective_rules
    assert {rule.min_confidence for rule in rules if rule.name != "uncertain-negative"} == {0.8}


# -- one alert per conversation -----------------------------------------------------------------


def test_fifty_negative_replies_in_one_thread_make_one_alert(db: Database) -> None:
    replies = [
        (
            post(
                f"t1_{i:02d}",
                author=f"user{i}",
                thread="t3_a",
                created_at=POST_T0 + timedelta(minutes=i),
            ),
            ANGRY,
        )
        for i in range(49)
    ]
    store(db, (post("t3_a"), ANGRY), *replies)
    opened = escalate(db)
    assert len(opened) == 1
    (alert,) = alerts(db)
    assert alert.mention_count == 50
    assert alert.last_mention is not None and alert.last_mention.native_id == "t1_48"
    assert alert.last_mention_at == POST_T0 + timedelta(minutes=48)
    assert [d.channel for d in alert.deliveries] == ["chat"]  # level 0 only, once


def test_a_post_opens_its_threads_alert_even_when_a_reply_was_stored_first(
    db: Database,
) -> None:
    # One poll can bring the comments listing before the submissions: the reply is stored
    # first, yet the VIP's post, written earlier, is the alert's headline and severity.
    store(
        db,
        (
            post("t1_r", author="lisa", thread="t3_p", created_at=POST_T0 + timedelta(minutes=5)),
            ANGRY,
        ),
    )
    store(db, (post("t3_p", author="gus"), ANGRY))
    make_customer(db, "gus", "VIP")
    (opened,) = escalate(db)
    assert opened.first_mention is not None and opened.first_mention.native_id == "t3_p"
    assert (opened.severity, opened.rule, opened.mention_count) == ("high", "vip-negative", 2)


def test_one_author_within_the_cooldown_joins_their_open_alert(db: Database) -> None:
    store(
        db,
        (post("t3_a", author="gus"), ANGRY),
        (post("t3_b", author="gus", created_at=POST_T0 + timedelta(minutes=30)), ANGRY),
        (post("t3_c", author="gus", created_at=POST_T0 + timedelta(hours=3)), ANGRY),
        (post("t3_d", author="gus", brand="Other"), ANGRY),
    )
    escalate(db, EscalationConfig(author_cooldown_minutes=60))
    by_thread = {a.thread_key: a.mention_count for a in alerts(db)}
    assert by_thread == {"reddit:t3_a": 2, "reddit:t3_c": 1, "reddit:t3_d": 1}


def test_a_more_severe_mention_raises_the_alert_and_sends_a_waiting_digest_at_once(
    db: Database,
) -> None:
    store(db, (post("t3_a", author="lisa"), UNSURE))
    (alert,) = escalate(db)
    with db.transaction() as session:
        row = session.scalars(select(Delivery)).one()
        assert (row.status, alert.severity) == ("digest", "low")
    store(db, (post("t1_b", author="gus", thread="t3_a"), ANGRY))
    make_customer(db, "gus", "VIP")
    # gus is linked before his reply is escalated: vip-negative (high)
    assert escalate(db) == []
    (alert,) = alerts(db)
    assert (alert.severity, alert.rule, alert.mention_count) == ("high", "vip-negative", 2)
    assert [(d.channel, d.status) for d in alert.deliveries] == [("chat", "pending")]
    assert alert.sla_due_at == POST_T0 + timedelta(minutes=60)


def test_a_resolved_conversation_opens_a_new_alert_and_keeps_the_old_one(db: Database) -> None:
    store(db, (post("t3_a"), ANGRY))
    (first,) = escalate(db)
    with db.transaction() as session:
        assign(session, first.id, to="maria")
        acknowledge(session, first.id, by="maria")
        resolve(session, first.id, by="maria")
    store(db, (post("t1_b", author="ann", thread="t3_a"), ANGRY))
    (second,) = escalate(db)
    assert second.id != first.id
    old, new = sorted(alerts(db), key=lambda a: a.id)
    assert (old.status, old.assignee, old.acknowledged_by, old.resolved_by) == (
        "resolved",
        "maria",
        "maria",
        "maria",
    )
    assert old.resolved_at is not None and new.status == "open"
    assert new.details == {
        "reopens": old.id,
        "resolved_by": "maria",
        "resolved_at": old.resolved_at.isoformat(),
    }
    with db.transaction() as session:
        message = alert_message(session.get(Alert, new.id))
    note = f"alert {old.id}, resolved by maria at {old.resolved_at.isoformat()}"
    assert f"Reopens:  {note}" in message.body()
    assert (message.as_json()["alert"]["reopens"], message.reopens_note) == (
        old.id,
        note.split(", ", 1)[1],
    )
    with db.transaction() as session, pytest.raises(InvalidTransition, match="cannot be assigned"):
        assign(session, first.id, to="erik")


# -- SLA and levels -----------------------------------------------------------------------------


def test_an_unacknowledged_alert_re_escalates_once_per_level(db: Database) -> None:
    config = EscalationConfig()
    routing = Routing(levels=(("chat",), ("chat", "pager"), ("boss",)))
    store(db, (post("t3_a"), ANGRY), (post("t3_b", author="ann"), ANGRY))
    first, second = escalate(db, config, routing)
    assert first.severity == "medium" and first.sla_due_at == POST_T0 + timedelta(minutes=240)
    with db.transaction() as session:
        acknowledge(session, second.id, by="maria")
        assert check_sla(session, config, routing, now=POST_T0 + timedelta(minutes=239)) == []
        assert [
            a.id for a in check_sla(session, config, routing, now=POST_T0 + timedelta(hours=4))
        ] == [first.id]
        assert check_sla(session, config, routing, now=POST_T0 + timedelta(hours=5)) == []  # once
        assert len(check_sla(session, config, routing, now=POST_T0 + timedelta(hours=8))) == 1
        assert (
            check_sla(session, config, routing, now=POST_T0 + timedelta(days=9)) == []
        )  # last level
    by_id = {a.id: a for a in alerts(db)}
    assert by_id[first.id].level == 2 and by_id[first.id].sla_due_at is None
    assert sorted((d.level, d.channel) for d in by_id[first.id].deliveries) == [
        (0, "chat"),
        (1, "chat"),
        (1, "pager"),
        (2, "boss"),
    ]
    assert {d.idempotency_key for d in by_id[first.id].deliveries} >= {
        f"alert-{first.id}-chat-0",
        f"alert-{first.id}-chat-1",
    }
    assert [(d.level, d.channel) for d in by_id[second.id].deliveries] == [(0, "chat")]


def test_quiet_hours_restart_the_sla_instead_of_escalating_into_the_night(db: Database) -> None:
    config = EscalationConfig()
    routing = Routing(levels=(("chat",), ("pager",)))
    quiet = QuietHours(start="22:00", end="07:00", timezone="UTC", hold_below="high")
    night = datetime(2026, 11, 2, 23, 0, tzinfo=UTC)
    morning = datetime(2026, 11, 3, 7, 0, tzinfo=UTC)
    store(
        db,
        (post("t3_a", created_at=night), ANGRY),
        (post("t3_b", author="vip", followers=50_000, created_at=night), ANGRY),
    )
    medium, high = escalate(db, config, routing, now=night)
    assert (medium.severity, high.severity) == ("medium", "high")
    with db.transaction() as session:
        # 03:00: both SLAs have run out. High alerts are sent at night, so the high one
        # moves on; nobody has seen the medium one yet: its clock starts again at 07:00.
        at_three = check_sla(session, config, routing, quiet=quiet, now=night + timedelta(hours=4))
        assert [a.id for a in at_three] == [high.id]
        held = session.get(Alert, medium.id)
        assert held is not None and (held.level, held.sla_due_at) == (
            0,
            morning + timedelta(minutes=240),
        )
        later = morning + timedelta(minutes=239)
        assert check_sla(session, config, routing, quiet=quiet, now=later) == []
        due = morning + timedelta(minutes=240)
        assert [a.id for a in check_sla(session, config, routing, quiet=quiet, now=due)] == [
            medium.id
        ]


def test_a_rule_can_start_at_a_higher_level(db: Database) -> None:
    config = EscalationConfig(
        rules=[EscalationRule(name="legal", severity="critical", level=1, keywords=["lawyer"])]
    )
    store(db, (post("t3_a", text="My lawyer will hear about this, awful"), ANGRY))
    (alert,) = escalate(db, config)
    assert (alert.level, alert.sla_due_at) == (1, None)  # nothing beyond level 1
    assert sorted((d.level, d.channel) for d in alerts(db)[0].deliveries) == [
        (0, "chat"),
        (1, "pager"),
    ]


# -- digests and quiet hours --------------------------------------------------------------------


def test_low_alerts_wait_for_one_digest_per_channel_and_period(db: Database) -> None:
    routing = Routing(levels=(("chat", "team"),), digest_at_most="low")
    store(
        db,
        (post("t3_a", author="a"), UNSURE),
        (post("t3_b", author="b"), UNSURE),
        (post("t3_c", author="c"), UNSURE),
    )
    escalate(db, routing=routing)
    with db.transaction() as session:
        resolve(session, 3, by="maria")
        session.execute(Delivery.__table__.update().values(created_at=POST_T0))
    config = DigestConfig(every="hourly")
    with db.transaction() as session:
        assert digests.build_digests(session, config, now=POST_T0 + timedelta(minutes=59)) == []
        made = digests.build_digests(session, config, now=POST_T0 + timedelta(minutes=61))
        assert sorted(d.idempotency_key for d in made) == [
            "digest-chat-20261102T1300Z",
            "digest-team-20261102T1300Z",
        ]
        assert digests.build_digests(session, config, now=POST_T0 + timedelta(minutes=62)) == []
        statuses = session.execute(
            select(Delivery.status, func.count()).group_by(Delivery.status)
        ).all()
    assert dict(statuses) == {"digested": 4, "skipped": 2, "pending": 2}


def test_digest_periods_and_quiet_hours_follow_the_local_clock() -> None:
    daily = DigestConfig(every="daily", daily_at="08:00", timezone="Europe/Amsterdam")
    # 07:30 UTC on 2 November is 08:30 in Amsterdam (CET): today's digest is due.
    assert digests.period_start(daily, datetime(2026, 11, 2, 7, 30, tzinfo=UTC)) == datetime(
        2026, 11, 2, 7, 0, tzinfo=UTC
    )
    assert digests.period_start(daily, datetime(2026, 11, 2, 6, 30, tzinfo=UTC)) == datetime(
        2026, 11, 1, 7, 0, tzinfo=UTC
    )
    quiet = QuietHours(start="22:00", end="07:00", timezone="Europe/Amsterdam", hold_below="high")
    night = datetime(2026, 11, 2, 22, 30, tzinfo=UTC)  # 23:30 local
    morning = datetime(2026, 11, 3, 6, 0, tzinfo=UTC)  # 07:00 local
    assert quiet_hours.held_until(quiet, "medium", night) == morning
    assert quiet_hours.held_until(quiet, None, night) == morning  # digests wait too
    assert quiet_hours.held_until(quiet, "high", night) is None
    assert quiet_hours.held_until(quiet, "low", datetime(2026, 11, 2, 12, 0, tzinfo=UTC)) is None
    assert quiet_hours.held_until(quiet, "low", datetime(2026, 11, 3, 5, 0, tzinfo=UTC)) == morning


def test_the_daemon_settings_build_levels_and_digest_from_configuration(make_settings) -> None:
    settings = make_settings(
        alerts={
            "channels": [
                {"type": "webhook", "name": "chat", "url": "http://127.0.0.1:9/x"},
                {"type": "webhook", "name": "pager", "url": "http://127.0.0.1:9/y"},
            ],
            "levels": [["chat"], ["pager"]],
            "digest": None,
        },
        escalation={"sla_minutes": {"high": 30}},
    )
    routing = Routing.from_config(settings.alerts, ["chat", "pager"])
    assert routing == Routing(levels=(("chat",), ("pager",)), digest_at_most=None)
    assert settings.escalation.sla_minutes.of("high") == 30
    assert settings.escalation.sla_minutes.of("low") is None
    assert AlertsConfig().digest is not None  # low alerts go to an hourly digest by default
    assert BRAND["name"] == "Brewly"


# -- the lifecycle: one transition table -------------------------------------------------------


def test_the_transition_table_is_the_alert_lifecycle() -> None:
    assert can_move("open", AlertStatus.ACKNOWLEDGED) and can_move("open", AlertStatus.RESOLVED)
    assert can_move("acknowledged", AlertStatus.RESOLVED)
    assert not can_move("acknowledged", AlertStatus.OPEN)
    # A resolved alert only moves when a person reopens it.
    assert [t for t in AlertStatus if can_move("resolved", t)] == [AlertStatus.OPEN]


def test_resolving_drops_the_alerts_rows_waiting_for_a_digest_but_not_sent_ones(
    db: Database,
) -> None:
    routing = Routing(levels=(("chat", "team"),), digest_at_most="low")
    store(db, (post("t3_a", author="a"), UNSURE), (post("t3_b", author="b"), UNSURE))
    first, second = escalate(db, routing=routing)
    with db.transaction() as session:
        session.execute(Delivery.__table__.update().values(created_at=POST_T0))
        digests.build_digests(session, DigestConfig(), now=POST_T0 + timedelta(hours=1))
    with db.transaction() as session:
        resolve(session, first.id, by="maria")
        resolve(session, second.id, by="maria")
        with pytest.raises(InvalidTransition, match="already resolved"):
            resolve(session, second.id, by="maria")
        statuses = dict(
            session.execute(
                select(Delivery.status, func.count())
                .where(Delivery.alert_id.is_not(None))
                .group_by(Delivery.status)
            ).all()
        )
    assert statuses == {"digested": 4}  # already in a digest: left as it was

    store(db, (post("t3_d", author="d"), UNSURE))
    (third,) = escalate(db, routing=routing)
    with db.transaction() as session:
        resolve(session, third.id, by="maria")
        rows = session.scalars(select(Delivery).where(Delivery.alert_id == third.id)).all()
        assert [row.status for row in rows] == ["skipped", "skipped"]
        assert (
            digests.build_digests(session, DigestConfig(), now=utcnow() + timedelta(days=1)) == []
        )
