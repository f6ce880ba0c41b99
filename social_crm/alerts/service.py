"""Reading alerts: the queries the command line (and tomorrow the web API) show."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from social_crm.alerts.models import Alert
from social_crm.errors import NotFound
from social_crm.mentions.models import MentionRecord

LOGGER = logging.getLogger(__name__)


def _loaded() -> list[Any]:
    """Load options: an alert's first and latest mentions, their authors, its deliveries."""
    return [
        joinedload(Alert.first_mention).joinedload(MentionRecord.author),
        joinedload(Alert.first_mention).joinedload(MentionRecord.sentiment),
        joinedload(Alert.last_mention).joinedload(MentionRecord.author),
        joinedload(Alert.deliveries),
    ]


def list_alerts(
    session: Session,
    *,
    status: str | None = None,
    severity: str | None = None,
    kind: str | None = None,
    limit: int | None = None,
) -> list[Alert]:
    """Alerts, newest first, with their mentions and deliveries loaded."""
    query = select(Alert).options(*_loaded()).order_by(Alert.id.desc())
    if status:
        query = query.where(Alert.status == status)
    if severity:
        query = query.where(Alert.severity == severity)
    if kind:
        query = query.where(Alert.kind == kind)
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query).unique())


def get_alert(session: Session, alert_id: int) -> Alert:
    """One alert with its mentions and deliveries; NotFound when there is none."""
    alert = (
        session.scalars(select(Alert).where(Alert.id == alert_id).options(*_loaded()))
        .unique()
        .first()
    )
    if alert is None:
        raise NotFound(f"no alert with id {alert_id}")
    return alert
