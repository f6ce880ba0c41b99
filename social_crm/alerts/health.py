"""Source health: failures and silences recorded per source, raised once as health alerts."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from social_crm.alerts.enums import AlertKind
from social_crm.alerts.escalation import open_alert, unresolved
from social_crm.alerts.lifecycle import resolve
from social_crm.alerts.models import Alert
from social_crm.db import locks
from social_crm.db.base import utcnow
from social_crm.mentions.models import MentionRecord, SkippedItem, SourceCursor

LOGGER = logging.getLogger(__name__)


def source_key(connector: str, source: str | None = None) -> str:
    """The alert thread key of a connector, or of one of its sources."""
    return f"health:{connector}" + (f":{source}" if source else "")


def raise_health_alert(
    session: Session,
    connector: str,
    source: str | None,
    reason: str,
    channels: Sequence[str],
    *,
    cause: str,
) -> Alert | None:
    """Open a health alert unless one for the same connector or source is still unresolved.

    ``cause`` ("failing", "silent", "disabled") says what would end it.
    """
    key = source_key(connector, source)
    locks.serialise(session, f"alert:{key}")  # two daemons never raise it twice
    if unresolved(session, key) is not None:
        return None
    LOGGER.warning("health alert: %s", reason)
    return open_alert(
        session,
        kind=AlertKind.HEALTH,
        key=key,
        brand="",
        reason=reason,
        channels=channels,
        details={"cause": cause},
    )


def check_silence(
    session: Session, *, hours: float, channels: Sequence[str], now: datetime | None = None
) -> list[Alert]:
    """One health alert per source with no new mention for ``hours``; returns those opened."""
    now = now or utcnow()
    quiet = session.scalars(
        select(SourceCursor).where(
            SourceCursor.silence_alerted.is_(False),
            SourceCursor.last_item_at < now - timedelta(hours=hours),
        )
    ).all()
    opened = []
    for row in quiet:
        row.silence_alerted = True
        reason = (
            f"source {row.connector}/{row.source_key} has found no new mention "
            f"for {hours:g} hours (last at {row.last_item_at:%Y-%m-%d %H:%M} UTC)"
        )
        alert = raise_health_alert(
            session, row.connector, row.source_key, reason, channels, cause="silent"
        )
        if alert is not None:
            opened.append(alert)
    return opened


def note_recovery(session: Session, row: SourceCursor, *, by: str = "social-crm") -> None:
    """A silent source spoke again: clear its flag and resolve its health alert, once."""
    if not row.silence_alerted:
        return
    row.silence_alerted = False
    alert = unresolved(session, source_key(row.connector, row.source_key))
    if alert is not None:
        resolve(session, alert.id, by=by)
    LOGGER.info("source %s/%s is receiving mentions again", row.connector, row.source_key)


def note_poll_recovery(session: Session, row: SourceCursor, *, by: str = "social-crm") -> None:
    """A failing source was polled again: resolve the alert its failures raised, if any."""
    alert = unresolved(session, source_key(row.connector, row.source_key))
    if alert is not None and (alert.details or {}).get("cause") == "failing":
        resolve(session, alert.id, by=by)
        LOGGER.info(
            "source %s/%s works again: its health alert is resolved", row.connector, row.source_key
        )


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """What `social-crm status` shows for one source."""

    connector: str
    source: str
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    items_last_hour: int
    items_last_day: int
    silent: bool
    skipped: int = 0  # items it served that could not be read or stored (skipped_items)

    @property
    def state(self) -> str:
        """ok, failing or silent."""
        if self.consecutive_failures:
            return "failing"
        return "silent" if self.silent else "ok"


def report(
    session: Session,
    *,
    networks: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> list[SourceHealth]:
    """The health of every source that has been polled, in connector and source order.

    ``networks`` maps connector names to the network their mentions carry: source keys are
    unique within a connector only (Reddit and Mastodon both have ``Brand:search``), so a
    source's items are counted by network and key where the network is known.
    """
    now = now or utcnow()
    networks = networks or {}

    def counts(since: datetime) -> dict[tuple[str, str], int]:
        rows = session.execute(
            select(MentionRecord.network, MentionRecord.source, func.count())
            .where(MentionRecord.ingested_at >= since)
            .group_by(MentionRecord.network, MentionRecord.source)
        ).all()
        return {(network, source): total for network, source, total in rows}

    def items(table: dict[tuple[str, str], int], row: SourceCursor) -> int:
        network = networks.get(row.connector)
        if network is not None:
            return table.get((network, row.source_key), 0)
        return sum(n for (_, source), n in table.items() if source == row.source_key)

    hour, day = counts(now - timedelta(hours=1)), counts(now - timedelta(days=1))
    skipped: dict[tuple[str, str], int] = {
        (connector, source): total
        for connector, source, total in session.execute(
            select(SkippedItem.connector, SkippedItem.source_key, func.count()).group_by(
                SkippedItem.connector, SkippedItem.source_key
            )
        )
    }
    return [
        SourceHealth(
            connector=row.connector,
            source=row.source_key,
            last_success_at=row.last_success_at,
            last_error=row.last_error,
            last_error_at=row.last_error_at,
            consecutive_failures=row.consecutive_failures,
            items_last_hour=items(hour, row),
            items_last_day=items(day, row),
            silent=row.silence_alerted,
            skipped=skipped.get((row.connector, row.source_key), 0),
        )
        for row in session.scalars(
            select(SourceCursor).order_by(SourceCursor.connector, SourceCursor.source_key)
        )
    ]
