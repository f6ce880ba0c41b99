"""The health job: one alert per source that has gone silent."""

from __future__ import annotations

from social_crm.alerts import health
from social_crm.jobs.context import JobContext


def check_health(ctx: JobContext) -> int:
    """Raise one health alert per newly silent source; returns how many were raised."""
    with ctx.db.transaction() as session:
        opened = health.check_silence(
            session,
            hours=ctx.settings.health.silence_alert_hours,
            channels=ctx.routing.levels[0],
            now=ctx.now(),
        )
    return len(opened)
