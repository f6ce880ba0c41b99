"""Spikes: a brand's negative volume far above its usual level raises one crisis alert."""

from __future__ import annotations

from datetime import timedelta

from social_crm.alerts.escalation import Routing
from social_crm.alerts.lifecycle import resolve
from social_crm.alerts.notifications import alert_message
from social_crm.alerts.spikes import baseline_offsets, check_spikes, measure
from social_crm.config import EscalationConfig, SpikesConfig
from social_crm.db import Database

from .escalation import alerts, escalate
from .factories import ANGRY, HAPPY, POST_T0, post, store

NOW = POST_T0 + timedelta(days=28)
ROUTING = Routing.single(["chat"])


def history(db: Database, *, per_day: int, days: int = 28) -> None:
    """``per_day`` negative posts in the hour before NOW's time of day, on each earlier day."""
    items = []
    for day in range(1, days + 1):
        for n in range(per_day):
            created = NOW - timedelta(days=day, minutes=5 + n)
            items.append((post(f"h{day}_{n}", author=f"old{day}_{n}", created_at=created), ANGRY))
        items.append(
            (post(f"p{day}", author="fan", created_at=NOW - timedelta(days=day, hours=5)), HAPPY)
        )
    store(db, *items)


def burst(db: Database, count: int, *, prefix: str = "b") -> None:
    store(
        db,
        *[
            (
                post(
                    f"{prefix}{n}",
                    author=f"angry{n}",
                    reach=n,
                    created_at=NOW - timedelta(minutes=50 - n),
                    text=f"Brewly broke, refund now #{n}",
                ),
                ANGRY,
            )
            for n in range(count)
        ],
        (post(f"{prefix}_happy", author="fan", created_at=NOW - timedelta(minutes=3)), HAPPY),
    )


def check(db: Database, config: SpikesConfig | None = None) -> list[int]:
    with db.transaction() as session:
        raised = check_spikes(
            session, config or SpikesConfig(), EscalationConfig(), ROUTING, now=NOW
        )
        return [alert.id for alert in raised]


def test_the_baseline_is_the_same_window_on_earlier_days_and_weekdays() -> None:
    offsets = baseline_offsets(SpikesConfig())
    assert [o.days for o in offsets] == [1, 2, 3, 4, 5, 6, 7, 14, 21, 28]


def test_a_burst_of_negative_mentions_raises_one_crisis_alert_with_the_top_posts(
    db: Database,
) -> None:
    history(db, per_day=2)
    burst(db, 30)
    assert len(escalate(db, now=NOW)) == 2 * 28 + 30  # before the crisis: one alert each
    with db.transaction() as session:
        figures = measure(session, "Brewly", SpikesConfig(), now=NOW)
    assert (figures.count, figures.baseline, figures.samples) == (30, 2.0, 10)

    (crisis_id,) = check(db)
    assert check(db) == []  # no repeat while it is unresolved
    crises = [a for a in alerts(db) if a.kind == "crisis"]
    assert [a.id for a in crises] == [crisis_id]
    crisis = crises[0]
    assert (crisis.severity, crisis.thread_key, crisis.mention_count) == (
        "critical",
        "crisis:Brewly:60m",
        30,
    )
    assert "30 negative mentions in the last 60 min (usual: 2.0, 15.0x)" in crisis.reason
    assert crisis.details["last_spike_at"] == NOW.isoformat()  # type: ignore[index]
    assert [post["reach"] for post in crisis.details["top"]] == [29, 28, 27, 26, 25]  # type: ignore[index]
    assert [(d.channel, d.status) for d in crisis.deliveries] == [("chat", "pending")]

    subject, body = alert_message(crisis).render("text")
    assert subject.startswith("[social-crm] CRISIS Brewly: 30 negative mentions")
    assert "Top 1:    angry29 (reach 29)" in body and "Brewly broke, refund now #29" in body

    # While the crisis is open, the brand's ordinary negatives are counted in it.
    late = NOW + timedelta(minutes=1)
    store(db, (post("late", author="late", created_at=late), ANGRY))
    assert escalate(db, now=late) == []
    assert [a.mention_count for a in alerts(db) if a.kind == "crisis"] == [31]

    with db.transaction() as session:
        resolve(session, crisis_id, by="maria")
    assert len(check(db)) == 1  # still spiking after resolution: a new crisis


def test_usual_volume_and_small_counts_are_not_a_crisis(db: Database) -> None:
    history(db, per_day=12, days=7)
    burst(db, 30)
    assert check(db) == []  # 30 is less than 3 x 12
    assert check(db, SpikesConfig(factor=2)) != []


def test_a_new_installation_needs_a_day_of_history_then_the_minimum_count_applies(
    db: Database,
) -> None:
    burst(db, 12)
    assert check(db) == []  # the first poll's backlog is no crisis
    store(db, (post("old", author="fan", created_at=NOW - timedelta(days=1, hours=2)), HAPPY))
    assert check(db, SpikesConfig(min_count=13)) == []
    (crisis_id,) = check(db)
    (crisis,) = [a for a in alerts(db) if a.id == crisis_id]
    assert "12 negative mentions in the last 60 min (usual: 0.0)" in crisis.reason
    assert check(db, SpikesConfig(enabled=False)) == []


def test_the_crisis_gathers_ordinary_negatives_only_while_the_spike_lasts(db: Database) -> None:
    history(db, per_day=1, days=7)
    burst(db, 20)
    escalate(db, now=NOW)
    (crisis_id,) = check(db)
    during = NOW + timedelta(minutes=30)
    after = NOW + timedelta(hours=3)
    store(
        db,
        (post("during", author="x1", created_at=during), ANGRY),
        (post("vip", author="x2", followers=50_000, created_at=during), ANGRY),
        (post("after", author="x3", created_at=after), ANGRY),
    )
    opened = escalate(db, now=after)
    assert sorted(a.first_mention.native_id for a in opened) == ["after", "vip"]  # type: ignore[union-attr]
    (crisis,) = [a for a in alerts(db) if a.id == crisis_id]
    assert crisis.mention_count == 21
