"""``social-crm status``: the health of every source and alert channel."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from social_crm.cli import render
from social_crm.cli.common import ConfigOption, database, settings
from social_crm.cli.render import ago, cell, when

if TYPE_CHECKING:
    from social_crm.alerts.health import SourceHealth
    from social_crm.config import Settings
    from social_crm.db import heartbeats
    from social_crm.delivery.outbox import ChannelHealth
    from social_crm.mentions.exclusions import ExclusionCount

LOGGER = logging.getLogger(__name__)


def status(config: ConfigOption = None) -> None:
    """The health of every source and alert channel: successes, errors, backlog."""
    from social_crm.alerts import health
    from social_crm.db import heartbeats
    from social_crm.delivery.outbox import channel_report
    from social_crm.mentions.exclusions import exclusion_report

    # The sources' state is in the database: the connectors' credentials are not needed.
    current = settings(config, connector_secrets=False)
    with database(config).transaction() as session:
        daemons = heartbeats.daemons(session)
        sources = health.report(session, networks=_connector_networks(current))
        channels = {row.channel: row for row in channel_report(session)}
        exclusions = exclusion_report(session)
    _print_daemons(daemons)
    table = render.table(
        "source", "state", "last success", "items 1h/24h", title="Sources", flexible="source"
    )
    errors = []
    for row in sources:
        table.add_row(
            # The source's name starts the cell, its connector below it: neither is cut.
            f"{cell(row.source)}\n{cell(row.connector)}",
            _state(row),
            ago(row.last_success_at),
            f"{row.items_last_hour}/{row.items_last_day}",
        )
        if row.last_error:
            errors.append(
                f"{row.connector} {row.source}: {ago(row.last_error_at)}: {row.last_error}"
            )
    render.console.print(table if sources else "no source has been polled yet")
    render.print_errors(errors)
    _print_exclusions(exclusions)
    _print_channels(channels, configured=[channel.name for channel in current.alerts.channels])


def _state(row: SourceHealth) -> str:
    """ok, failing (with how many polls in a row) or silent, and items skipped as unstorable."""
    parts = [row.state]
    if row.consecutive_failures:
        parts.append(f"{row.consecutive_failures} failures")
    if row.skipped:
        parts.append(f"{row.skipped} skipped")
    return ", ".join(parts)


def _print_exclusions(rows: list[ExclusionCount]) -> None:
    """Items each listening rule left out of each source (not stored, no alert)."""
    if not rows:
        return
    table = render.table(
        "source", "rule", "items", "last", title="Left out by listening rules", flexible="source"
    )
    for row in rows:
        table.add_row(
            f"{cell(row.source_key)}\n{cell(row.connector)}",
            cell(row.rule),
            str(row.count),
            ago(row.last_at),
        )
    render.console.print(table)


def _print_daemons(state: heartbeats.DaemonState) -> None:
    """One line per running daemon, or when one was last seen."""
    for row in state.running:
        render.console.print(
            f"daemon running since {when(row.started_at)} "
            f"(pid {row.pid}, {cell(row.host)}, version {cell(row.version)})",
            highlight=False,
        )
    if not state.running:
        seen = f"since {when(state.last_seen)}" if state.last_seen else "yet"
        render.console.print(f"no daemon seen {seen}: start one with social-crm run")


def _connector_networks(current: Settings) -> dict[str, str]:
    """The network each configured connector's mentions carry, where its class names it."""
    from connectors.registry import connector_class

    networks: dict[str, str] = {}
    for key, entry in current.connectors.items():
        network = getattr(connector_class(entry.type or key), "network", None)
        if isinstance(network, str):
            networks[key] = network
    return networks


def _print_channels(report: dict[str, ChannelHealth], *, configured: list[str]) -> None:
    """The Channels table: deliveries per channel and the last error."""
    table = render.table(
        "channel",
        "state",
        "sent",
        "pending",
        "failed",
        "last sent",
        title="Channels",
        flexible="channel",
    )
    errors = []
    for name in [*configured, *sorted(set(report) - set(configured))]:
        row = report.get(name)
        if row is None:
            table.add_row(cell(name), "unused", "0", "0", "0", "never")
            continue
        failing = row.last_error_at is not None and (
            row.last_sent_at is None or row.last_error_at > row.last_sent_at
        )
        state = "failing" if failing else "ok"
        if name not in configured:
            state = "not configured"
        if row.last_error:
            errors.append(f"{name}: {ago(row.last_error_at)}: {row.last_error}")
        table.add_row(
            cell(name),
            state,
            str(row.sent),
            str(row.pending),
            str(row.failed),
            ago(row.last_sent_at),
        )
    render.console.print(table if table.row_count else "no alert channel is configured")
    render.print_errors(errors)
