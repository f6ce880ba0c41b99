"""``social-crm alerts``: list, show and act on alerts."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from social_crm.alerts import lifecycle, service
from social_crm.alerts.enums import AlertKind, AlertStatus
from social_crm.cli import render
from social_crm.cli.common import ByOption, ConfigOption, database, whoami
from social_crm.cli.render import cell, when
from social_crm.severity import Severity

LOGGER = logging.getLogger(__name__)

app = typer.Typer(help="Alerts about negative conversations.", no_args_is_help=True)
AlertId = Annotated[int, typer.Argument(metavar="ID")]


@app.command("list")
def alerts_list(
    status: Annotated[AlertStatus | None, typer.Option(case_sensitive=False)] = None,
    severity: Annotated[Severity | None, typer.Option(case_sensitive=False)] = None,
    kind: Annotated[AlertKind | None, typer.Option(case_sensitive=False)] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50,
    config: ConfigOption = None,
) -> None:
    """List alerts, newest first."""
    with database(config).transaction() as session:
        alerts = service.list_alerts(
            session, status=status, severity=severity, kind=kind, limit=limit
        )
    table = Table(
        "id",
        "severity",
        "status",
        "brand",
        "author",
        "customer",
        "mentions",
        "level",
        "assignee",
        "opened",
        "text",
        "deliveries",
        title="Alerts",
    )
    for alert in alerts:
        mention = alert.first_mention
        customer = mention.customer if mention else None
        table.add_row(
            str(alert.id),
            alert.severity,
            alert.status,
            cell(alert.brand or alert.kind) + ("" if alert.kind == "mention" else f" {alert.kind}"),
            cell(f"{mention.network}:{mention.handle}") if mention else "",
            cell(f"{customer.name} ({customer.tier})") if customer else "",
            str(alert.mention_count),
            str(alert.level),
            cell(alert.assignee),
            when(alert.opened_at),
            cell(mention.text if mention else alert.reason, 50),
            " ".join(f"{d.channel}:{d.status}" for d in alert.deliveries),
        )
    render.console.print(table if alerts else "no alerts")


@app.command("show")
def alerts_show(alert_id: AlertId, config: ConfigOption = None) -> None:
    """Everything about one alert: its rule, lifecycle, mentions and deliveries."""
    with database(config).transaction() as session:
        detail = service.get_alert(session, alert_id)
    alert = detail.summary
    lines = [
        f"[bold]alert {alert.id}[/]: {alert.kind}, {alert.severity}, {alert.status}",
        f"reason:       {cell(alert.reason)}",
        f"brand:        {cell(alert.brand)}",
        f"rule:         {cell(detail.rule)}",
        f"opened:       {when(alert.opened_at)}",
        f"level:        {alert.level} (since {when(detail.escalated_at)})"
        + (f", next at {when(detail.sla_due_at)} unless acknowledged" if detail.sla_due_at else ""),
        f"assignee:     {cell(alert.assignee)} {when(detail.assigned_at)}",
        f"acknowledged: {when(detail.acknowledged_at)} {cell(detail.acknowledged_by)}",
        f"resolved:     {when(detail.resolved_at)} {cell(detail.resolved_by)}",
        f"mentions:     {alert.mention_count}",
    ]
    if detail.reopens:
        lines.append(
            f"reopens:      alert {detail.reopens.alert_id}, resolved "
            f"{when(detail.reopens.resolved_at)} {cell(detail.reopens.resolved_by)}"
        )
    first = alert.first_mention
    for label, mention in (("first", first), ("latest", detail.last_mention)):
        if mention is None or (label == "latest" and first is not None and mention.id == first.id):
            continue
        customer = mention.customer
        lines.append(
            f"{label + ':':<13} {cell(mention.network)}:{cell(mention.handle)}"
            + (f" = {cell(customer.name)} ({cell(customer.tier)})" if customer else "")
            + f" at {when(mention.created_at)} {cell(mention.url)}"
        )
        lines.append(f"              {cell(mention.text, 300)}")
    for post in detail.top_posts:
        lines.append(f"top post:     {cell(post.author)} (reach {post.reach}) {cell(post.url)}")
    for line in lines:
        render.console.print(line, highlight=False)
    table = Table(
        "channel", "level", "status", "attempts", "sent", "last error", "key", title="Deliveries"
    )
    for delivery in sorted(alert.deliveries, key=lambda d: (d.level, d.channel)):
        table.add_row(
            cell(delivery.channel),
            str(delivery.level),
            delivery.status,
            str(delivery.attempts),
            when(delivery.sent_at),
            cell(delivery.last_error, 60),
            cell(delivery.idempotency_key),
        )
    render.console.print(table)


@app.command("ack")
def alerts_ack(alert_id: AlertId, by: ByOption = None, config: ConfigOption = None) -> None:
    """Acknowledge an open alert: someone is on it, it stops re-escalating."""
    who = by or whoami()
    with database(config).transaction() as session:
        lifecycle.acknowledge(session, alert_id, by=who)
    render.console.print(f"alert {alert_id} acknowledged by {escape(who)}")


@app.command("resolve")
def alerts_resolve(alert_id: AlertId, by: ByOption = None, config: ConfigOption = None) -> None:
    """Resolve an alert; a new negative mention in its conversation opens a new one."""
    who = by or whoami()
    with database(config).transaction() as session:
        lifecycle.resolve(session, alert_id, by=who)
    render.console.print(f"alert {alert_id} resolved by {escape(who)}")


@app.command("assign")
def alerts_assign(
    alert_id: AlertId,
    to: Annotated[str, typer.Option("--to", help="Who owns it from now on.")],
    config: ConfigOption = None,
) -> None:
    """Give an alert to someone (it still needs acknowledging to stop re-escalation)."""
    with database(config).transaction() as session:
        lifecycle.assign(session, alert_id, to=to)
    render.console.print(f"alert {alert_id} assigned to {escape(to)}")
