"""How urgent something is: the one scale that rules, alerts, digests and quiet hours share."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    """How urgent an alert is, least urgent first."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        """The position on the scale: low 0 ... critical 3."""
        return list(Severity).index(self)
