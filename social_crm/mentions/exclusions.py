"""What the listening rules left out: counts per source and rule, and replays over stored
mentions to see what the current rules would keep."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from social_crm.listening import Item, RuleSet
from social_crm.mentions.models import AuthorRecord, ListeningExclusion, MentionRecord

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ExclusionCount:
    """How many items one rule kept out of one source, and when it last did."""

    brand: str
    connector: str
    source_key: str
    rule: str
    count: int
    last_at: datetime


def count_exclusions(
    session: Session,
    *,
    brand: str,
    connector: str,
    source_key: str,
    counts: Mapping[str, int],
    now: datetime,
) -> None:
    """Add ``counts`` (rule -> items) to the source's totals, atomically (one upsert each)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for rule, count in counts.items():
        statement = insert(ListeningExclusion).values(
            brand=brand,
            connector=connector,
            source_key=source_key,
            rule=rule,
            count=count,
            first_at=now,
            last_at=now,
        )
        session.execute(
            statement.on_conflict_do_update(
                index_elements=["connector", "source_key", "rule"],
                set_={
                    "count": ListeningExclusion.count + statement.excluded.count,
                    "last_at": statement.excluded.last_at,
                    "brand": statement.excluded.brand,
                },
            )
        )


def exclusion_report(session: Session, *, brand: str | None = None) -> list[ExclusionCount]:
    """Every source's exclusions, by brand, source, then the rule that left out the most."""
    query = select(ListeningExclusion).order_by(
        ListeningExclusion.brand,
        ListeningExclusion.connector,
        ListeningExclusion.source_key,
        ListeningExclusion.count.desc(),
        ListeningExclusion.rule,
    )
    if brand is not None:
        query = query.where(ListeningExclusion.brand == brand)
    return [
        ExclusionCount(
            brand=row.brand,
            connector=row.connector,
            source_key=row.source_key,
            rule=row.rule,
            count=row.count,
            last_at=row.last_at,
        )
        for row in session.scalars(query)
    ]


@dataclass(frozen=True, slots=True)
class ReplayedMention:
    """A stored mention the current rules would leave out, and why."""

    mention_id: int
    source: str
    author: str
    text: str
    created_at: datetime
    rule: str
    reason: str


@dataclass(slots=True)
class ReplayReport:
    """What the current rules would have kept and left out of the stored mentions."""

    since: datetime
    kept: int = 0
    dropped_by_rule: Counter[str] = field(default_factory=Counter)
    dropped: list[ReplayedMention] = field(default_factory=list)  # oldest first

    @property
    def total(self) -> int:
        """Mentions replayed."""
        return self.kept + self.dropped_by_rule.total()


def replay(session: Session, rules: RuleSet, *, since: datetime) -> ReplayReport:
    """Run ``rules`` over the brand's mentions written since ``since`` (deleted ones aside).

    Reads only; nothing stored changes.
    """
    report = ReplayReport(since=since)
    rows = session.execute(
        select(MentionRecord, AuthorRecord)
        .join(AuthorRecord, MentionRecord.author_id == AuthorRecord.id)
        .where(
            MentionRecord.brand == rules.brand,
            MentionRecord.created_at >= since,
            MentionRecord.deleted_at.is_(None),
        )
        .order_by(MentionRecord.created_at, MentionRecord.id)
    )
    for mention, author in rows:
        decision = rules.decide(
            Item.from_parts(
                brand=mention.brand,
                source=mention.source,
                text=mention.text,
                network=mention.network,
                community=mention.community,
                author=author.handle,
                bot=author.bot,
                language=mention.language,
            )
        )
        if decision.kept:
            report.kept += 1
            continue
        report.dropped_by_rule[decision.rule] += 1
        report.dropped.append(
            ReplayedMention(
                mention_id=mention.id,
                source=mention.source,
                author=author.handle,
                text=mention.text,
                created_at=mention.created_at,
                rule=decision.rule,
                reason=decision.reason,
            )
        )
    return report
