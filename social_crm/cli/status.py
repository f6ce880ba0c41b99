"""``social-crm status``: the health of every source and alert channel."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from rich.table import Table

from social_crm.cli import render
from social_crm.cli.common import ConfigOption, database, settings
from social_crm.cli.render import ago, cell, short_text, when

if TYPE_CHECKING:
    from social_crm.config import Settings
    from social_crm.db import heartbeats
    from social_crm.delivery.outbox import ChannelHealth

LOGGER = logging.getLogger(__name__)


def status(config: ConfigOption = None) -> None:
    """The health of every source and alert channel: successes, errors, backlog."""
    from social_crm.alerts import health
    from social_crm.db import heartbeats
    from social_crm.delivery.outbox import channel_report

    current = settings(config)
    with database(config).transaction() as session:
        daemons = heartbeats.daemons(session)
        sources = health.report(session, networks=_connector_networks(current))
        channels = {row.channel: row for row in channel_report(session)}
    _print_daemons(daemons)
    table = Table(
        "connector",
        "source",
        "state",
        "last success",
        "failures",
        "last error",
        "items/h",
        "items/24h",
        title="Sources",
    )
    for row in sources:
        error = f"{ago(row.last_error_at)}: {row.last_error}" if row.last_error else ""
        table.add_row(
            row.connector,
            row.source,
            f"{row.state}, {row.skipped} skipped" if row.skipped else row.state,
            ago(row.last_success_at),
            str(row.consecutive_failures),
            short_text(error, 60),
            str(row.items_last_hour),
            str(row.items_last_day),
        )
    render.console.print(table if sources else "no source has been polled yet")
    _print_channels(channels, configured=[channel.name for channel in current.alerts.channels])


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
    table = Table(
        "channel", "state", "sent", "pending", "failed", "last sent", "last error", title="Channels"
    )
    for name in [*configured, *sorted(set(report) - set(configured))]:
        row = report.get(name)
        if row is None:
            table.add_row(cell(name), "unused", "0", "0", "0", "never", "")
            continue
        failing = row.last_error_at is not None and (
            row.last_sent_at is None or row.last_error_at > row.last_sent_at
        )
        state = "failing" if failing else "ok"
        if name not in configured:
            state = "not configured"
        error = f"{ago(row.last_error_at)}: {row.last_error}" if row.last_error else ""
        table.add_row(
            cell(name),
            state,
            str(row.sent),
            str(row.pending),
            str(row.failed),
            ago(row.last_sent_at),
            cell(error, 90),
        )
    render.console.print(table if table.row_count else "no alert channel is configured")
