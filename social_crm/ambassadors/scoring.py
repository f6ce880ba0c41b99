"""Ambassadors: authors who speak well of the brand, often, recently and with reach.

Each classified mention in the window (``window_days``) counts its label's confidence,
halved every ``half_life_days`` of age. With P, N and U those sums for positive, negative
and neutral mentions, and the weights of ``ambassadors.weights``::

    advocacy = recent_positive x P + positive_count x log2(1 + positive mentions)
             + positive_share x P / (P + N + U) + engagement x log10(1 + reach of praise)
    score    = max(0, advocacy - negative_penalty x N) x reach factor x customer factor

where the reach factor is 1 + reach x log10(1 + followers) and the customer factor is 1 for
an author not linked to a customer, else ``customer`` x the tier's and the status's
factors. An author with no positive mention scores 0. Every weight is zero or more, so one
more positive mention never lowers a score and one more negative never raises it. Every
figure is stored beside the score, so a ranking explains itself.

Scores are recomputed incrementally (authors with mentions classified, or links made,
since the last run), and in full every ``full_recompute_hours`` (ages and windows move).
Mentions are aggregated per author in SQL; Python only applies the formula per author.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    case,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from social_crm.ambassadors.models import AmbassadorScore
from social_crm.config import AmbassadorsConfig
from social_crm.customers.models import Customer
from social_crm.db import watermarks
from social_crm.db.base import utcnow
from social_crm.errors import SocialCrmError
from social_crm.mentions.models import AuthorRecord, MentionRecord, SentimentRecord

LOGGER = logging.getLogger(__name__)

CLASSIFIED = "ambassadors.classified"
FULL = "ambassadors.full"
OVERLAP = timedelta(minutes=10)  # re-read a little before the watermark: late commits
CHUNK = 500
WRITE_BATCH = 5000
LN2 = math.log(2)


@dataclass(frozen=True, slots=True)
class Opinion:
    """One classified mention, as the score sees it."""

    label: str
    confidence: float
    created_at: datetime
    reach: int


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """What the CRM says about the customer an author is linked to."""

    tier: str | None = None
    status: str | None = None


@dataclass(slots=True)
class Tally:
    """One author's opinions in the window, summed: what the score is made from."""

    positive: float = 0.0  # sum of confidence x decay
    negative: float = 0.0
    neutral: float = 0.0
    positives: int = 0
    negatives: int = 0
    neutrals: int = 0
    engagement: int = 0  # reach received by positive mentions
    last_positive: datetime | None = None

    def add(self, opinion: Opinion, *, now: datetime, config: AmbassadorsConfig) -> None:
        """Count one opinion, if it is inside the window."""
        age_days = (now - opinion.created_at).total_seconds() / 86400
        if age_days > config.window_days:
            return
        weight = opinion.confidence * decay(age_days, config.half_life_days)
        if opinion.label == "positive":
            self.positive += weight
            self.positives += 1
            self.engagement += max(opinion.reach, 0)
            if self.last_positive is None or opinion.created_at > self.last_positive:
                self.last_positive = opinion.created_at
        elif opinion.label == "negative":
            self.negative += weight
            self.negatives += 1
        else:
            self.neutral += weight
            self.neutrals += 1


def decay(age_days: float, half_life_days: float) -> float:
    """How much a mention ``age_days`` old still counts (1 when new, 0.5 after a half-life)."""
    return 0.5 ** (max(age_days, 0.0) / half_life_days)


def customer_factor(customer: CustomerFacts | None, config: AmbassadorsConfig) -> float:
    """1 for a stranger; for a customer, the customer weight x tier and status factors."""
    if customer is None:
        return 1.0
    tier = (customer.tier or "").strip().lower()
    status = (customer.status or "").strip().lower()
    return (
        config.weights.customer
        * config.tier_weights.get(tier, 1.0)
        * config.status_weights.get(status, 1.0)
    )


def score_tally(
    tally: Tally,
    *,
    followers: int,
    customer: CustomerFacts | None,
    config: AmbassadorsConfig,
) -> tuple[float, dict[str, Any]]:
    """The score of one author's tally and every figure that makes it up."""
    w = config.weights
    weighed = tally.positive + tally.negative + tally.neutral
    share = tally.positive / weighed if weighed > 0 else 0.0
    parts = {
        "from_recency": w.recent_positive * tally.positive,
        "from_count": w.positive_count * math.log2(1 + tally.positives),
        "from_share": w.positive_share * share,
        "from_engagement": w.engagement * math.log10(1 + tally.engagement),
    }
    penalty = w.negative_penalty * tally.negative
    reach_factor = 1 + w.reach * math.log10(1 + max(followers, 0))
    factor = customer_factor(customer, config)
    advocacy = sum(parts.values())
    score = max(0.0, advocacy - penalty) * reach_factor * factor if tally.positives else 0.0
    return score, {
        "positive_mentions": tally.positives,
        "negative_mentions": tally.negatives,
        "neutral_mentions": tally.neutrals,
        "recent_positive": round(tally.positive, 4),
        "recent_negative": round(tally.negative, 4),
        "share_positive": round(share, 4),
        "engagement": tally.engagement,
        "reach": max(followers, 0),
        **{name: round(value, 4) for name, value in parts.items()},
        "penalty": round(penalty, 4),
        "reach_factor": round(reach_factor, 4),
        "customer_factor": round(factor, 4),
        "tier": customer.tier if customer else None,
        "status": customer.status if customer else None,
        "last_positive_at": tally.last_positive.isoformat() if tally.last_positive else None,
    }


def score_author(
    opinions: Iterable[Opinion],
    *,
    followers: int,
    now: datetime,
    config: AmbassadorsConfig | None = None,
    customer: CustomerFacts | None = None,
) -> tuple[float, dict[str, Any]]:
    """The ambassador score of one author and the figures that make it up (pure)."""
    config = config or AmbassadorsConfig()
    tally = Tally()
    for opinion in opinions:
        tally.add(opinion, now=now, config=config)
    return score_tally(tally, followers=followers, customer=customer, config=config)


# -- the scheduled job ----------------------------------------------------------------------


def recompute(
    session: Session,
    *,
    config: AmbassadorsConfig | None = None,
    half_life_days: float | None = None,
    now: datetime | None = None,
    full: bool | None = None,
) -> int:
    """Score the authors whose mentions changed (or all of them, ``full`` or when due).

    Returns how many of the authors scored this time score above zero.
    """
    config = config or AmbassadorsConfig()
    if half_life_days is not None:
        config = config.model_copy(update={"half_life_days": half_life_days})
    now = now or utcnow()
    since = watermarks.get(session, CLASSIFIED)
    last_full = watermarks.get(session, FULL)
    if full is None:
        full = (
            since is None
            or last_full is None
            or now - last_full >= timedelta(hours=config.full_recompute_hours)
        )
    _ensure_sqlite_math(session)
    if full or since is None:
        ranked = _score(session, config, now, None)
        session.execute(delete(AmbassadorScore).where(AmbassadorScore.computed_at != now))
        watermarks.put(session, FULL, now)
    else:
        ranked = 0
        changed = _changed_authors(session, since - OVERLAP)
        for start in range(0, len(changed), CHUNK):
            ranked += _score(session, config, now, changed[start : start + CHUNK])
    watermarks.put(session, CLASSIFIED, now)
    session.flush()
    LOGGER.debug("ambassador scores recomputed (%s): %d ranked", "full" if full else "new", ranked)
    return ranked


def _changed_authors(session: Session, since: datetime) -> list[int]:
    """Authors with a mention classified, or a link made, since ``since``."""
    # "id IN (subquery)" makes SQLite scan sentiments once rather than join every mention.
    classified = select(MentionRecord.author_id).where(
        MentionRecord.id.in_(
            select(SentimentRecord.mention_id).where(SentimentRecord.classified_at > since)
        )
    )
    linked = select(AuthorRecord.id).where(AuthorRecord.linked_at > since)
    return sorted(set(session.scalars(classified.union(linked))))


def _epoch(session: Session, column: Any) -> ColumnElement[float]:
    """A timestamp column as seconds since 1970, computed by the database."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(column) - 2440587.5) * 86400.0
    return cast(func.extract("epoch", column), Float)


def _ensure_sqlite_math(session: Session) -> None:
    """SQLite built without math functions gets ``exp`` from Python."""
    if session.get_bind().dialect.name != "sqlite":
        return
    try:
        session.execute(select(func.exp(0)))
    except OperationalError:
        raw = session.connection().connection.driver_connection
        raw.create_function("exp", 1, math.exp, deterministic=True)  # type: ignore[union-attr]


def _tallies(
    session: Session, config: AmbassadorsConfig, now: datetime, author_ids: Sequence[int] | None
) -> Iterator[tuple[int, Tally, int, int | None, str | None, str | None]]:
    """Each author's tally, summed by the database, with followers and customer facts."""
    now_epoch = now.timestamp()
    age_days = (literal(now_epoch) - _epoch(session, MentionRecord.created_at)) / 86400.0
    weight = SentimentRecord.confidence * func.exp(
        -LN2 * case((age_days < 0, 0.0), else_=age_days) / config.half_life_days
    )
    label = SentimentRecord.label

    def when(name: str, value: Any) -> Any:
        return func.coalesce(func.sum(case((label == name, value), else_=0)), 0)

    where = [
        MentionRecord.created_at >= now - timedelta(days=config.window_days),
        MentionRecord.deleted_at.is_(None),
    ]
    if author_ids is not None:
        where.append(MentionRecord.author_id.in_(list(author_ids)))
    # Grouping by an expression, not the indexed column, lets SQLite scan the table in
    # order and sort, instead of visiting every mention through the author index (4x faster).
    author = MentionRecord.author_id + 0
    per_author = (
        select(
            author.label("author_id"),
            when("positive", weight).label("p"),
            when("negative", weight).label("n"),
            func.coalesce(
                func.sum(case((label.not_in(["positive", "negative"]), weight), else_=0)), 0
            ).label("u"),
            when("positive", 1).label("np"),
            when("negative", 1).label("nn"),
            func.count().label("total"),
            when("positive", MentionRecord.reach).label("engagement"),
            func.max(case((label == "positive", MentionRecord.created_at), else_=None)).label(
                "last_positive"
            ),
        )
        .join(SentimentRecord, SentimentRecord.mention_id == MentionRecord.id)
        .where(*where)
        .group_by(author)
        .subquery()
    )
    query = (
        select(
            per_author,
            AuthorRecord.followers,
            AuthorRecord.customer_id,
            Customer.tier,
            Customer.status,
        )
        .join(AuthorRecord, AuthorRecord.id == per_author.c.author_id)
        .outerjoin(Customer, Customer.id == AuthorRecord.customer_id)
    )
    for row in session.execute(query.execution_options(yield_per=10_000)):
        tally = Tally(
            positive=float(row.p),
            negative=float(row.n),
            neutral=float(row.u),
            positives=int(row.np),
            negatives=int(row.nn),
            neutrals=int(row.total) - int(row.np) - int(row.nn),
            engagement=int(row.engagement),
            last_positive=row.last_positive,
        )
        yield row.author_id, tally, row.followers, row.customer_id, row.tier, row.status


def _score(
    session: Session, config: AmbassadorsConfig, now: datetime, author_ids: Sequence[int] | None
) -> int:
    """Score the authors (all when None) and store the scores; returns how many are above 0.

    Tallies stream from the database and are written back in batches, as upserts that keep
    the score history: once the checkpoint is a rising window old, it becomes the previous
    score and the score before this one becomes the checkpoint.
    """
    statement = _upsert(session, now - timedelta(days=config.rising_window_days))
    connection = session.connection()
    batch: list[dict[str, Any]] = []
    ranked = 0
    for author_id, tally, followers, customer_id, tier, status in _tallies(
        session, config, now, author_ids
    ):
        facts = CustomerFacts(tier, status) if customer_id is not None else None
        value, parts = score_tally(tally, followers=followers, customer=facts, config=config)
        ranked += value > 0
        batch.append(
            {
                "author_id": author_id,
                "score": value,
                "components": parts,
                "computed_at": now,
                "previous_score": 0.0,  # a newcomer rose from nothing
                "previous_at": now,
                "checkpoint_score": 0.0,
                "checkpoint_at": now,
            }
        )
        if len(batch) >= WRITE_BATCH:
            connection.execute(statement, batch)
            batch = []
    if batch:
        connection.execute(statement, batch)
    session.expire_all()
    return ranked


def _upsert(session: Session, roll_before: datetime) -> Any:
    """INSERT a new score, or UPDATE the stored one and roll its history when due."""
    table = AmbassadorScore.__table__
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as upsert
    else:  # pragma: no cover - the two supported backends
        raise SocialCrmError(f"ambassador scores need SQLite or PostgreSQL, not {dialect}")
    statement = upsert(table)
    new = statement.excluded
    roll = or_(table.c.checkpoint_at.is_(None), table.c.checkpoint_at <= roll_before)
    return statement.on_conflict_do_update(
        index_elements=[table.c.author_id],
        set_={
            "score": new.score,
            "components": new.components,
            "computed_at": new.computed_at,
            # The right-hand sides see the row as it was before this update.
            "previous_score": case(
                (roll, func.coalesce(table.c.checkpoint_score, table.c.score)),
                else_=table.c.previous_score,
            ),
            "previous_at": case(
                (roll, func.coalesce(table.c.checkpoint_at, new.computed_at)),
                else_=table.c.previous_at,
            ),
            "checkpoint_score": case((roll, table.c.score), else_=table.c.checkpoint_score),
            "checkpoint_at": case((roll, new.computed_at), else_=table.c.checkpoint_at),
        },
    )
