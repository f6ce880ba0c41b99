"""The alert domain's vocabularies, stored in the database as these strings."""

from __future__ import annotations

from enum import StrEnum


class AlertStatus(StrEnum):
    """Where an alert is in its lifecycle (see :mod:`social_crm.alerts.lifecycle`)."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertKind(StrEnum):
    """What raised an alert."""

    MENTION = "mention"  # a negative conversation
    CRISIS = "crisis"  # a spike of negative mentions about a brand
    HEALTH = "health"  # a source that fails or falls silent
