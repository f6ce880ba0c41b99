"""What every job works with: settings, database, model, connectors, channels and a clock."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from connectors.base import Connector
from sentiment import Classifier
from social_crm.alerts.escalation import Routing
from social_crm.config import Settings
from social_crm.db import Database
from social_crm.db.base import utcnow
from social_crm.db.leases import new_holder
from social_crm.delivery.channels import Notifier
from social_crm.jobs.metrics import Metrics
from social_crm.listening import RuleSet

# A job with much to do (a backlog, a long refresh) works in turns of about this long:
# the pipeline shares its thread, and classifies and escalates between turns.
TURN_SECONDS = 2.0


@dataclass(slots=True)
class JobContext:
    """One process's parts, built once at start-up and handed to each job run."""

    settings: Settings
    db: Database
    routing: Routing
    classifier: Classifier | None = None
    connectors: dict[str, Connector] = field(default_factory=dict)
    notifiers: dict[str, Notifier] = field(default_factory=dict)
    # Each brand's listening rules; replaced whole when the configuration is reloaded.
    # A brand without an entry keeps every fetched item.
    rules: dict[str, RuleSet] = field(default_factory=dict)
    now: Callable[[], datetime] = utcnow  # wall-clock UTC; tests inject a virtual one
    stop: threading.Event = field(default_factory=threading.Event)  # set: finish and return
    # When this process last logged each failing source ("connector/source"): a failure is
    # logged at its start, at this process's start and then every health.failing_log_minutes.
    failure_logged_at: dict[str, datetime] = field(default_factory=dict)
    # Who holds this process's leases (sources, once-per-cluster jobs): "host:pid:random".
    holder: str = field(default_factory=new_holder)
    # Per connector, the sources whose leases this process held at its last poll run: one
    # it no longer holds is released on its connector (connectors.base.Releasable).
    held_sources: dict[str, set[str]] = field(default_factory=dict)
    # Jobs (by scheduler id, "poll:reddit") whose last run ended its turn with work left:
    # the daemon runs each again at once, after the jobs queued in its lane meanwhile.
    run_again: set[str] = field(default_factory=set)
    # Per connector, the mentions (native id, locator) its refresh pass has still to re-read.
    refreshing: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    metrics: Metrics = field(default_factory=Metrics)
