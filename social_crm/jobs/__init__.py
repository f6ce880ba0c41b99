"""The periodic jobs, one module each, runnable in any process, and when each one runs.

A job is a function of a `JobContext` (per-connector jobs also take the connector's name)
that returns how many things it did. `JOBS` lists them in the order one pass runs them;
a job with several steps runs them in order, each in its own transaction.

Each job runs in a lane, a thread that runs that lane's jobs one at a time: the pipeline
(`PIPELINE`: polling, classification to proposals, replies and the checks) and the sending
of alerts (`DELIVERY`). An email server or webhook that is slow to answer holds up only
the sending, not the listening and escalation behind it. The networks share the
pipeline's thread, so each network's client is used by one thread: in the pipeline
benchmark a lane of their own made catching up slower (their clients' Python competes
with the pipeline's for the interpreter while the pipeline holds SQLite's write lock).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from social_crm.config import Settings
from social_crm.jobs.classify import classify
from social_crm.jobs.context import JobContext
from social_crm.jobs.deliver import deliver
from social_crm.jobs.digests import DIGEST_CHECK_SECONDS, build_digests
from social_crm.jobs.escalate import escalate
from social_crm.jobs.health import check_health
from social_crm.jobs.link import link
from social_crm.jobs.poll import poll
from social_crm.jobs.propose_replies import propose_replies
from social_crm.jobs.refresh import refresh
from social_crm.jobs.retention import RETENTION_INTERVAL_SECONDS, retention
from social_crm.jobs.score import score
from social_crm.jobs.send_replies import send_replies
from social_crm.jobs.sla import check_sla
from social_crm.jobs.spikes import check_spikes
from social_crm.mentions.sources import pacing_bounds

__all__ = [
    "CONNECTOR_JOBS",
    "DELIVERY",
    "JOBS",
    "LANES",
    "PIPELINE",
    "ConnectorJob",
    "Job",
    "JobContext",
    "build_digests",
    "check_health",
    "check_sla",
    "check_spikes",
    "classify",
    "deliver",
    "escalate",
    "link",
    "poll",
    "propose_replies",
    "refresh",
    "retention",
    "score",
    "send_replies",
]


# The lanes: the jobs of one lane run one at a time, each lane beside the other.
PIPELINE = "pipeline"
DELIVERY = "delivery"  # alerts to email, chat and webhooks
LANES = (PIPELINE, DELIVERY)


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic job: its steps run in order every ``interval(settings)`` seconds."""

    name: str
    steps: tuple[Callable[[JobContext], int], ...]
    interval: Callable[[Settings], float]
    # Run by one daemon of a cluster at a time, under the named lease `name` (jobs.cluster).
    once_per_cluster: bool = False
    lane: str = PIPELINE


@dataclass(frozen=True, slots=True)
class ConnectorJob:
    """A periodic job run for each connector on its own timer, in the pipeline's lane (so
    each network's client is used by one thread)."""

    name: str
    run: Callable[[JobContext, str], int]
    interval: Callable[[Settings, str], float]
    at_start: bool  # first run as the daemon starts, rather than one interval later
    # Run for a connector by one daemon at a time, under the named lease `name:connector`.
    once_per_cluster: bool = False


CONNECTOR_JOBS: tuple[ConnectorJob, ...] = (
    ConnectorJob("poll", poll, lambda s, name: pacing_bounds(s, name)[0], at_start=True),
    ConnectorJob(
        "refresh",
        refresh,
        lambda s, _name: s.scheduler.refresh_interval_seconds,
        at_start=False,
        once_per_cluster=True,
    ),
)

# In pipeline order: each stage reads what the one before it stored. Jobs that claim
# their rows run in every daemon; the others once per cluster.
JOBS: tuple[Job, ...] = (
    Job(
        "health",
        (check_health,),
        lambda s: s.scheduler.health_interval_seconds,
        once_per_cluster=True,
    ),
    Job("process", (classify, link, escalate), lambda s: s.scheduler.process_interval_seconds),
    Job("propose", (propose_replies,), lambda s: s.engagement.propose_interval_seconds),
    Job(
        "sla",
        (check_sla,),
        lambda s: s.escalation.sla_check_interval_seconds,
        once_per_cluster=True,
    ),
    Job(
        "spikes", (check_spikes,), lambda s: s.spikes.check_interval_seconds, once_per_cluster=True
    ),
    Job("digest", (build_digests,), lambda _s: DIGEST_CHECK_SECONDS, once_per_cluster=True),
    Job("score", (score,), lambda s: s.scheduler.score_interval_seconds, once_per_cluster=True),
    Job("deliver", (deliver,), lambda s: s.scheduler.deliver_interval_seconds, lane=DELIVERY),
    Job("reply", (send_replies,), lambda s: s.engagement.send_interval_seconds),
    Job("retention", (retention,), lambda _s: RETENTION_INTERVAL_SECONDS, once_per_cluster=True),
)
