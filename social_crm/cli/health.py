"""``social-crm health``: exit 0 when the daemons and sources are healthy, 1 when not."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from social_crm.cli import render
from social_crm.cli.common import ConfigOption, settings

LOGGER = logging.getLogger(__name__)


def health(
    config: ConfigOption = None,
    max_age: Annotated[
        float | None,
        typer.Option(
            "--max-age",
            min=1,
            help="Seconds since a daemon's last heartbeat before it counts as gone "
            "[default: three heartbeat intervals].",
        ),
    ] = None,
) -> None:
    """Check the daemons' heartbeats and the sources; one line per problem, exit 1 if any.

    For service managers and container probes: reads the database, changes nothing, and
    needs none of the connectors' secrets.
    """
    from sqlalchemy.exc import DBAPIError

    from social_crm.alerts.probe import probe
    from social_crm.db import Database
    from social_crm.errors import DatabaseUnavailable

    # Which connectors are enabled, not their credentials: a probe runs without them.
    current = settings(config, sections=("health", "connectors"), connector_secrets=False)
    enabled = [name for name, entry in current.connectors.items() if entry.enabled]
    db = Database(current.database_url)
    try:
        db.ping()
        with db.transaction() as session:
            found = probe(
                session, health=current.health, connectors=enabled, heartbeat_max_age=max_age
            )
    except DatabaseUnavailable as exc:
        problems = [str(exc)]
    except DBAPIError as exc:
        cause = str(exc.orig).strip().splitlines()[0] if exc.orig else type(exc).__name__
        problems = [f"database {db.describe()} cannot be read: {cause}"]
    else:
        problems = found.problems
        summary = f"healthy: {found.daemons} daemon(s) running, {found.sources} source(s)"
    finally:
        db.close()
    for problem in problems:
        render.console.print(f"unhealthy: {problem}", highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(code=1)
    render.console.print(summary, highlight=False)
