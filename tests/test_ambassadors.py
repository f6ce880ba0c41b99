"""Ambassador scores: properties of the formula, the stored ranking, and the review workflow."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console
from sqlalchemy import select
from typer.testing import CliRunner

from connectors.base import Author, Batch, Mention
from social_crm.ambassadors import report, review, scoring
from social_crm.ambassadors.models import AmbassadorScore
from social_crm.ambassadors.report import ambassador_rows
from social_crm.ambassadors.scoring import CustomerFacts, Opinion, decay, score_author
from social_crm.cli import app
from social_crm.config import AmbassadorsConfig, AmbassadorWeights
from social_crm.customers.models import Customer
from social_crm.db import Database
from social_crm.errors import InvalidTransition, NotFound
from social_crm.mentions.ingest import store_batch
from social_crm.mentions.models import AuthorRecord, MentionRecord, SentimentRecord

NOW = datetime(2026, 11, 23, tzinfo=UTC)
DEFAULTS = AmbassadorsConfig()

opinions = st.builds(
    Opinion,
    label=st.sampled_from(["negative", "neutral", "positive"]),
    confidence=st.floats(0.0, 1.0),
    created_at=st.integers(0, 3650).map(lambda days: NOW - timedelta(days=days)),
    reach=st.integers(0, 10**7),
)
weights = st.builds(
    AmbassadorWeights,
    recent_positive=st.floats(0, 5),
    positive_count=st.floats(0, 5),
    positive_share=st.floats(0, 5),
    engagement=st.floats(0, 5),
    negative_penalty=st.floats(0, 5),
    reach=st.floats(0, 5),
    customer=st.floats(0.1, 5),
)
configs = st.builds(
    AmbassadorsConfig,
    half_life_days=st.floats(1, 400),
    window_days=st.floats(1, 4000),
    weights=weights,
)
customers = st.one_of(
    st.none(),
    st.builds(
        CustomerFacts,
        tier=st.sampled_from([None, "vip", "gold", "silver", "bronze"]),
        status=st.sampled_from([None, "active", "churned"]),
    ),
)


def score(items: list[Opinion], followers: int = 0, **kwargs: object) -> float:
    return score_author(items, followers=followers, now=NOW, **kwargs)[0]  # type: ignore[arg-type]


@given(st.lists(opinions, max_size=30), st.integers(0, 10**7), customers)
def test_a_score_is_never_negative_and_explains_itself(
    items: list[Opinion], followers: int, customer: CustomerFacts | None
) -> None:
    value, parts = score_author(items, followers=followers, now=NOW, customer=customer)
    assert value >= 0
    in_window = [o for o in items if (NOW - o.created_at).days <= DEFAULTS.window_days]
    assert parts["positive_mentions"] == sum(o.label == "positive" for o in in_window)
    advocacy = sum(
        parts[k] for k in ("from_recency", "from_count", "from_share", "from_engagement")
    )
    expected = (
        max(0.0, advocacy - parts["penalty"]) * parts["reach_factor"] * parts["customer_factor"]
    )
    if not parts["positive_mentions"]:
        expected = 0.0
    assert abs(value - expected) < 1e-3 * max(1.0, expected)


@given(
    st.lists(opinions, max_size=30),
    st.floats(0.0, 1.0),
    st.integers(0, 3650),
    st.integers(0, 10**6),
    configs,
    customers,
)
def test_one_more_positive_mention_never_lowers_a_score(
    items: list[Opinion],
    confidence: float,
    age: int,
    reach: int,
    config: AmbassadorsConfig,
    customer: CustomerFacts | None,
) -> None:
    extra = Opinion("positive", confidence, NOW - timedelta(days=age), reach)
    before = score(items, config=config, customer=customer)
    after = score([*items, extra], config=config, customer=customer)
    assert after >= before - 1e-9 * max(1.0, before)


@given(
    st.lists(opinions, max_size=30),
    st.floats(0.0, 1.0),
    st.integers(0, 3650),
    st.integers(0, 10**6),
    configs,
    customers,
)
def test_one_more_negative_mention_never_raises_a_score(
    items: list[Opinion],
    confidence: float,
    age: int,
    reach: int,
    config: AmbassadorsConfig,
    customer: CustomerFacts | None,
) -> None:
    extra = Opinion("negative", confidence, NOW - timedelta(days=age), reach)
    before = score(items, config=config, customer=customer)
    after = score([*items, extra], config=config, customer=customer)
    assert after <= before + 1e-9 * max(1.0, before)


@given(st.floats(0.5, 1.0), st.integers(0, 300), st.integers(1, 60))
def test_older_praise_counts_less(confidence: float, age: int, later: int) -> None:
    recent = Opinion("positive", confidence, NOW - timedelta(days=age), 0)
    older = Opinion("positive", confidence, NOW - timedelta(days=age + later), 0)
    assert score([older]) < score([recent])


@given(st.integers(0, 10**6), st.integers(1, 10**6))
def test_more_reach_never_lowers_a_score(followers: int, more: int) -> None:
    praise = [Opinion("positive", 0.9, NOW, 0)]
    assert score(praise, followers + more) >= score(praise, followers)


def test_customers_and_their_tier_weigh_in_and_no_praise_scores_nothing() -> None:
    praise = [Opinion("positive", 0.9, NOW, 5)]
    stranger = score(praise)
    assert score(praise, customer=CustomerFacts("standard", None)) == pytest.approx(stranger * 1.2)
    assert score(praise, customer=CustomerFacts("Gold", None)) == pytest.approx(stranger * 1.56)
    assert score(praise, customer=CustomerFacts("gold", "churned")) == pytest.approx(
        stranger * 0.78
    )
    assert score([Opinion("neutral", 0.9, NOW, 100)], followers=10**6) == 0
    outside = [Opinion("positive", 0.9, NOW - timedelta(days=400), 0)]
    assert score(outside) == 0  # outside the window


def test_a_half_life_halves() -> None:
    assert decay(0, 30) == 1.0
    assert abs(decay(30, 30) - 0.5) < 1e-12


# -- stored scores ----------------------------------------------------------------------------


def store(
    db: Database,
    said: list[tuple[str, str, float, int]],
    *,
    network: str = "reddit",
    first: int = 0,
    reach: int = 0,
    followers: int = 0,
) -> None:
    """Store classified mentions: (author, label, confidence, age in days)."""
    with db.transaction() as session:
        mentions = [
            Mention(
                network=network,
                native_id=f"n{first + i}",
                brand="Brewly",
                source="s",
                url="u",
                author=Author(network=network, handle=who, followers=followers),
                text=f"{label} words",
                created_at=NOW - timedelta(days=age),
                kind="post",
                thread_id=f"n{first + i}",
                reach=reach,
            )
            for i, (who, label, _c, age) in enumerate(said)
        ]
        store_batch(session, network, "s", Batch(mentions, None))
        ids = {
            m.native_id: m.id
            for m in session.scalars(select(MentionRecord).where(MentionRecord.network == network))
        }
        for i, (_who, label, confidence, age) in enumerate(said):
            rest = (1 - confidence) / 2
            scores = {"negative": rest, "neutral": rest, "positive": rest, label: confidence}
            session.add(
                SentimentRecord(
                    mention_id=ids[f"n{first + i}"],
                    label=label,
                    confidence=confidence,
                    model="test",
                    classified_at=NOW - timedelta(days=age),
                    **scores,
                )
            )


FANS = [
    ("fan", "positive", 0.9, 0),
    ("fan", "positive", 0.8, 1),
    ("fan", "positive", 0.9, 2),
    ("mixed", "positive", 0.9, 3),
    ("mixed", "negative", 0.9, 4),
    ("once", "positive", 0.7, 5),
    ("critic", "negative", 0.95, 6),
]


def handles(entries: list[report.Entry]) -> list[str]:
    return [e.score.author.handle for e in entries]


def test_ranking_puts_the_consistent_fan_first(db: Database) -> None:
    store(db, FANS)
    with db.transaction() as session:
        assert scoring.recompute(session, half_life_days=30, now=NOW) == 3  # critic: 0
    with db.transaction() as session:
        ranked = [(row.author, row.positive) for row in ambassador_rows(session)]
    assert ranked[0] == ("fan", 3)
    assert [handle for handle, _ in ranked] == ["fan", "once", "mixed"]


def test_the_database_sums_what_the_pure_function_sums(db: Database) -> None:
    said = [
        ("ann", "positive", 0.9, 0),
        ("ann", "positive", 0.6, 40),
        ("ann", "neutral", 0.8, 3),
        ("ann", "negative", 0.7, 90),
        ("ann", "positive", 0.99, 500),  # outside the window
        ("bo", "positive", 0.5, 200),
        ("bo", "negative", 0.2, 1),
    ]
    store(db, said, reach=7, followers=120)
    config = AmbassadorsConfig(half_life_days=45)
    with db.transaction() as session:
        scoring.recompute(session, config=config, now=NOW)
        stored = {
            s.author.handle: (s.score, s.components)
            for s in session.scalars(select(AmbassadorScore))
        }
    for who in ("ann", "bo"):
        mine = [
            Opinion(label, confidence, NOW - timedelta(days=age), 7)
            for w, label, confidence, age in said
            if w == who
        ]
        value, parts = score_author(mine, followers=120, now=NOW, config=config)
        assert stored[who][0] == pytest.approx(value, rel=1e-6)
        assert stored[who][1]["engagement"] == parts["engagement"]
        assert stored[who][1]["last_positive_at"][:19] == parts["last_positive_at"][:19]


def test_incremental_runs_rescore_only_authors_with_new_mentions(db: Database) -> None:
    store(db, FANS)
    first, later = NOW + timedelta(hours=1), NOW + timedelta(hours=2)
    with db.transaction() as session:
        scoring.recompute(session, now=first)
    store(db, [("once", "positive", 0.9, 0)], first=100)
    with db.transaction() as session:
        new = session.scalar(select(MentionRecord.id).where(MentionRecord.native_id == "n100"))
        session.get(SentimentRecord, new).classified_at = later
    with db.transaction() as session:
        assert scoring.recompute(session, now=later) == 1
        computed = {
            s.author.handle: (s.computed_at, s.components["positive_mentions"])
            for s in session.scalars(select(AmbassadorScore))
        }
    assert computed["once"] == (later, 2)
    assert computed["fan"][0] == first  # untouched
    with db.transaction() as session:  # a full run rescores everyone
        scoring.recompute(session, now=later, full=True)
        assert {s.computed_at for s in session.scalars(select(AmbassadorScore))} == {later}


def test_rising_candidates_grow_over_a_window(db: Database) -> None:
    store(db, FANS)
    config = AmbassadorsConfig(rising_window_days=7)
    with db.transaction() as session:
        scoring.recompute(session, config=config, now=NOW)
    week, fortnight = NOW + timedelta(days=7), NOW + timedelta(days=14)
    with db.transaction() as session:
        scoring.recompute(session, config=config, now=week, full=True)
    store(db, [("once", "positive", 0.9, -13), ("once", "positive", 0.9, -13)], first=100)
    with db.transaction() as session:
        scoring.recompute(session, config=config, now=fortnight, full=True)
    with db.transaction() as session:
        rising = report.entries(session, rising=True)
        growth = {e.score.author.handle: e.growth for e in rising}
    assert handles(rising)[0] == "once"
    assert growth["once"] > 0 and "fan" not in growth  # the fan's praise only ages


def test_review_workflow_approve_reject_and_opt_out(db: Database) -> None:
    store(db, FANS)
    store(
        db,
        [("fan@mastodon.nl", "positive", 0.9, 0)],
        network="mastodon",
        first=50,
    )
    with db.transaction() as session:
        customer = Customer(external_id="C-1", name="Fan", tier="gold")
        session.add(customer)
        session.flush()
        for author in session.scalars(select(AuthorRecord)):
            if author.handle.startswith("fan"):
                author.customer_id = customer.id
        scoring.recompute(session, now=NOW)
    with db.transaction() as session:
        pending = report.entries(session, pending_above=2.0)
        assert "fan" in handles(pending) and "mixed" not in handles(pending)
        review.review(session, "u/Fan", status="approved", by="maria", note="great posts")
        review.review(session, "once", network="reddit", status="rejected", by="maria")
    with db.transaction() as session:
        listed = {e.score.author.handle: e.review_status for e in report.entries(session)}
        assert listed["fan"] == "approved" and listed["once"] == "rejected"
        assert "fan" not in handles(report.entries(session, pending_above=0.0))
        with pytest.raises(NotFound, match="no author 'nobody'"):
            review.review(session, "nobody", status="approved", by="maria")
    with db.transaction() as session:
        review.review(session, "@fan@mastodon.nl", status="opted_out", by="maria")
    with db.transaction() as session:
        scoring.recompute(session, now=NOW, full=True)
        shown = handles(report.entries(session))
        # Opting out on one account hides the person's other accounts too, for good.
        assert "fan" not in shown and "fan@mastodon.nl" not in shown and "once" in shown
        with pytest.raises(InvalidTransition, match="opted out"):
            review.review(session, "fan", status="approved", by="maria")


def test_the_cli_lists_reviews_and_exports_the_breakdown_as_safe_csv(
    db: Database, db_url: str, write_config, monkeypatch: pytest.MonkeyPatch
) -> None:
    store(db, FANS)
    with db.transaction() as session:
        customer = Customer(external_id="C-1", name="=cmd|' /C calc'!A0", tier="gold")
        session.add(customer)
        session.flush()
        session.scalars(
            select(AuthorRecord).where(AuthorRecord.handle == "fan")
        ).one().customer_id = customer.id
    config = str(write_config(database={"url": db_url}))
    monkeypatch.setattr("social_crm.cli.render.console", Console(width=300))
    runner = CliRunner()
    scored = runner.invoke(app, ["ambassadors", "score", "--full", "-c", config])
    assert scored.exit_code == 0, scored.output
    listed = runner.invoke(app, ["ambassadors", "list", "--format", "csv", "-c", config])
    assert listed.exit_code == 0, listed.output
    rows = list(csv.DictReader(io.StringIO(listed.stdout)))
    assert [(r["rank"], r["author"], r["positive"]) for r in rows][0] == ("1", "fan", "3")
    assert list(rows[0])[:9] == [
        "rank",
        "network",
        "author",
        "customer",
        "score",
        "positive",
        "negative",
        "reach",
        "last_positive",
    ]
    assert list(rows[0])[9:] == [  # then the score's breakdown, in this order
        "tier",
        "review",
        "growth",
        "neutral",
        "share_positive",
        "recent_positive",
        "recent_negative",
        "engagement",
        "from_recency",
        "from_count",
        "from_share",
        "from_engagement",
        "penalty",
        "reach_factor",
        "customer_factor",
    ]
    assert rows[0]["customer"] == "'=cmd|' /C calc'!A0"  # no spreadsheet runs it
    assert float(rows[0]["score"]) > 0 and float(rows[0]["customer_factor"]) == pytest.approx(1.56)
    approve = runner.invoke(
        app, ["ambassadors", "approve", "fan", "--network", "reddit", "--by", "maria", "-c", config]
    )
    assert approve.exit_code == 0, approve.output
    pending = runner.invoke(app, ["ambassadors", "list", "--pending", "-c", config])
    assert "fan" not in pending.stdout.replace("Ambassadors", "")
    optout = runner.invoke(app, ["ambassadors", "optout", "once", "-c", config])
    assert optout.exit_code == 0, optout.output
    table = runner.invoke(app, ["ambassadors", "list", "-c", config])
    assert "reddit:fan" in table.stdout and "reddit:once" not in table.stdout
    assert "approved" in table.stdout and "breakdown: --format csv" in table.stdout
    rising = runner.invoke(app, ["ambassadors", "list", "--rising", "-c", config])
    assert rising.exit_code == 0 and "reddit:mixed" in rising.stdout
