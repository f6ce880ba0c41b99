"""Several daemons on one database: which jobs a daemon runs, and what it lets go of.

Jobs that claim their rows (``FOR UPDATE SKIP LOCKED``: classify, link, escalate,
deliver) and the poll job (a lease per source, :mod:`social_crm.mentions.source_leases`)
run in every daemon. A once-per-cluster job runs only in the daemon holding its named
lease (:mod:`social_crm.db.leases`). The lease lasts one interval of the job plus
``scheduler.lease_seconds``: its holder renews it at each run and keeps the job; the
others skip it, and take it over once a holder has stopped renewing.
"""

from __future__ import annotations

import logging

from social_crm.db import leases
from social_crm.jobs import ConnectorJob, Job
from social_crm.jobs.context import JobContext
from social_crm.mentions import source_leases

LOGGER = logging.getLogger(__name__)


def run_job(ctx: JobContext, job: Job) -> None:
    """Run a job's steps in order (each reads what the last stored), if this daemon may."""
    if job.once_per_cluster and not hold(ctx, job.name, job.interval(ctx.settings)):
        return
    for step in job.steps:
        if ctx.stop.is_set():
            return
        step(ctx)


def run_connector_job(ctx: JobContext, job: ConnectorJob, connector: str) -> int:
    """Run a per-connector job for ``connector``, if this daemon may; returns its count."""
    if job.once_per_cluster and not hold(
        ctx, f"{job.name}:{connector}", job.interval(ctx.settings, connector)
    ):
        return 0
    return job.run(ctx, connector)


def hold(ctx: JobContext, name: str, interval: float) -> bool:
    """Take or renew the named lease of a job run every ``interval`` seconds."""
    with ctx.db.transaction() as session:
        return leases.acquire(
            session,
            name,
            holder=ctx.holder,
            seconds=interval + ctx.settings.scheduler.lease_seconds,
            now=ctx.now(),
        )


def let_go(ctx: JobContext) -> None:
    """Release every lease this daemon holds, so the others take its work at once."""
    try:
        sources = source_leases.release_all(ctx.db, holder=ctx.holder)
        with ctx.db.transaction() as session:
            jobs = leases.release_all(session, holder=ctx.holder)
    except Exception as exc:  # noqa: BLE001 - stopping goes on: the leases run out instead
        LOGGER.warning("could not release this daemon's leases (they run out instead): %s", exc)
        return
    if sources or jobs:
        LOGGER.info("released %d source lease(s) and %d job lease(s)", sources, jobs)
