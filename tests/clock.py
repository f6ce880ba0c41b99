"""A virtual wall clock for the daemon's jobs, so hours of pacing run in seconds."""

from __future__ import annotations

from datetime import datetime, timedelta

from social_crm.db.base import utcnow


class Clock:
    """Virtual UTC time: ``now`` seconds after the clock was made; tests move ``now``."""

    def __init__(self) -> None:
        self.start = utcnow()
        self.now = 0.0

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=self.now)
