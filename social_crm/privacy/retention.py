"""Retention: past its network's period (``retention`` in the configuration), a mention's
text and URL are cleared, and so are the display name and profile of an author with no
mention inside the period; a crisis alert's top posts lose the text and URL of such
mentions.

What stays: every mention row, with its date, brand, network ids, reach and sentiment
label, so the overview's counts and sentiment shares, the ambassador scores (made of
labels, reach and dates, never text) and alert histories do not change; authors keep
their handle, follower count and links. A mention whose text is cleared is never
classified again, nor given back its text by a later edit. Profile data is what links an
author to a customer by their bio or fields: a link already made stays; an author whose
profile was cleared can then be linked on their handle only.

Rows are changed a batch at a time, each batch in its own transaction, so a first run
over a large history never holds locks for long; running again changes nothing more.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, exists, func, null, or_, select, update
from sqlalchemy.orm import Session

from social_crm.alerts.enums import AlertKind
from social_crm.alerts.models import Alert
from social_crm.config import RetentionConfig
from social_crm.db import Database
from social_crm.db.base import utcnow
from social_crm.mentions.models import AuthorRecord, MentionRecord
from social_crm.privacy.subject import chunks, top_posts

LOGGER = logging.getLogger(__name__)

BATCH = 1000  # rows per transaction
EXPIRED = "(expired)"  # a crisis alert's top post whose text was cleared


@dataclass(frozen=True, slots=True)
class NetworkRetention:
    """One network's retention: its period and how many rows were (or would be) cleared."""

    network: str
    days: int
    cutoff: datetime  # mentions written before it are past the period
    mentions: int
    authors: int


@dataclass(frozen=True, slots=True)
class RetentionReport:
    """What retention cleared, or would clear when ``applied`` is False."""

    networks: tuple[NetworkRetention, ...]
    kept: tuple[str, ...]  # networks with stored mentions and no retention period
    alerts: int  # crisis alerts whose top posts lost text
    applied: bool

    @property
    def total(self) -> int:
        """Rows cleared (or to clear) in all."""
        return self.alerts + sum(item.mentions + item.authors for item in self.networks)


def _periods(
    session: Session, config: RetentionConfig, now: datetime
) -> tuple[list[tuple[str, int, datetime]], tuple[str, ...]]:
    """Each stored network with a period (name, days, cutoff), and those kept for good."""
    networks = session.scalars(
        select(AuthorRecord.network).distinct().order_by(AuthorRecord.network)
    ).all()
    periods = []
    kept = []
    for network in networks:
        days = config.days(network)
        if days is None:
            kept.append(network)
        else:
            periods.append((network, days, now - timedelta(days=days)))
    return periods, tuple(kept)


def _old_mentions(network: str, cutoff: datetime) -> tuple[ColumnElement[bool], ...]:
    """Mentions of ``network`` written before ``cutoff`` whose text is still stored."""
    return (
        MentionRecord.network == network,
        MentionRecord.created_at < cutoff,
        MentionRecord.expired_at.is_(None),
        MentionRecord.erased_at.is_(None),
    )


def _quiet_authors(network: str, cutoff: datetime) -> tuple[ColumnElement[bool], ...]:
    """Authors of ``network`` with profile data and no mention since ``cutoff``."""
    recent = exists().where(
        MentionRecord.author_id == AuthorRecord.id, MentionRecord.created_at >= cutoff
    )
    return (
        AuthorRecord.network == network,
        AuthorRecord.erased_at.is_(None),
        or_(AuthorRecord.profile.is_not(None), AuthorRecord.display_name != ""),
        ~recent,
    )


def plan(
    session: Session, config: RetentionConfig, *, now: datetime | None = None
) -> RetentionReport:
    """What retention would clear now; nothing is changed."""
    periods, kept = _periods(session, config, now or utcnow())
    rows = []
    for network, days, cutoff in periods:
        mentions = session.scalar(
            select(func.count()).select_from(MentionRecord).where(*_old_mentions(network, cutoff))
        )
        authors = session.scalar(
            select(func.count()).select_from(AuthorRecord).where(*_quiet_authors(network, cutoff))
        )
        rows.append(NetworkRetention(network, days, cutoff, mentions or 0, authors or 0))
    cutoffs = {network: cutoff for network, _, cutoff in periods}
    alerts = len(_alerts_to_redact(session, cutoffs))
    return RetentionReport(tuple(rows), kept, alerts, applied=False)


def apply(
    db: Database,
    config: RetentionConfig,
    *,
    now: datetime | None = None,
    batch_size: int = BATCH,
    stop: threading.Event | None = None,
) -> RetentionReport:
    """Clear what is past each network's period, ``batch_size`` rows per transaction.

    Stops between batches once ``stop`` is set; the next run carries on.
    """
    now = now or utcnow()
    with db.transaction() as session:
        periods, kept = _periods(session, config, now)
    rows = []
    for network, days, cutoff in periods:
        mentions = _in_batches(
            db,
            MentionRecord,
            _old_mentions(network, cutoff),
            {"text": "", "url": "", "expired_at": now},
            batch_size=batch_size,
            stop=stop,
        )
        authors = _in_batches(
            db,
            AuthorRecord,
            _quiet_authors(network, cutoff),
            {"display_name": "", "profile": null()},
            batch_size=batch_size,
            stop=stop,
        )
        rows.append(NetworkRetention(network, days, cutoff, mentions, authors))
        if mentions or authors:
            LOGGER.info(
                "retention on %s (%d days): text of %d mention(s), profile of %d author(s) cleared",
                network,
                days,
                mentions,
                authors,
            )
    alerts = 0
    if not (stop and stop.is_set()):
        with db.transaction() as session:
            changes = _alerts_to_redact(session, {network: cut for network, _, cut in periods})
            for alert, posts in changes:
                alert.details = {**(alert.details or {}), "top": posts}
            alerts = len(changes)
    return RetentionReport(tuple(rows), kept, alerts, applied=True)


def _in_batches(
    db: Database,
    table: type[MentionRecord] | type[AuthorRecord],
    where: tuple[ColumnElement[bool], ...],
    values: dict[str, Any],
    *,
    batch_size: int,
    stop: threading.Event | None,
) -> int:
    """Set ``values`` on the rows matching ``where``, one transaction per batch; how many."""
    changed = 0
    while not (stop and stop.is_set()):
        with db.transaction() as session:
            ids = session.scalars(
                select(table.id)
                .where(*where)
                .order_by(table.id)
                .limit(batch_size)
                .with_for_update(skip_locked=True)
            ).all()
            if ids:
                # The conditions again: another process may have cleared some meanwhile.
                result = session.execute(
                    update(table)
                    .where(table.id.in_(ids), *where)
                    .values(values)
                    .execution_options(synchronize_session=False)
                )
                changed += result.rowcount  # type: ignore[attr-defined]
        if len(ids) < batch_size:
            break
    return changed


def _alerts_to_redact(
    session: Session, cutoffs: dict[str, datetime]
) -> list[tuple[Alert, list[dict[str, Any]]]]:
    """Crisis alerts quoting mentions whose text is cleared, each with its top posts without
    that text and URL."""
    if not cutoffs:
        return []
    changes = []
    for alert in session.scalars(
        select(Alert).where(Alert.kind == AlertKind.CRISIS).order_by(Alert.id)
    ):
        posts = top_posts(alert)
        quoting = [
            post["mention_id"]
            for post in posts
            if isinstance(post.get("mention_id"), int)
            and not (post.get("erased") or post.get("expired"))
        ]
        gone: set[int] = set()
        for part in chunks(quoting):
            gone.update(
                session.scalars(
                    select(MentionRecord.id).where(
                        MentionRecord.id.in_(part),
                        or_(
                            MentionRecord.expired_at.is_not(None),
                            *(
                                (MentionRecord.network == network)
                                & (MentionRecord.created_at < cut)
                                for network, cut in cutoffs.items()
                            ),
                        ),
                    )
                )
            )
        if gone:
            changes.append(
                (
                    alert,
                    [
                        {**post, "url": "", "text": EXPIRED, "expired": True}
                        if post.get("mention_id") in gone
                        else post
                        for post in posts
                    ],
                )
            )
    return changes
