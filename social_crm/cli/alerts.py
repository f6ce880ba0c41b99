"""``social-crm alerts``: list, show and act on alerts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from social_crm.alerts import lifecycle, service
from social_crm.alerts.enums import AlertKind, AlertStatus
from social_crm.cli import render
from social_crm.cli.common import ByOption, ConfigOption, database, whoami
from social_crm.cli.render import cell, when
from social_crm.severity import Severity

if TYPE_CHECKING:
    from social_crm.engagement.service import ReplySummary

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
    table = render.table(
        "id", "severity", "status", "conversation", title="Alerts", flexible="conversation"
    )
    for alert in alerts:
        mention = alert.first_mention
        who = f"{mention.network}:{mention.handle}" if mention else f"{alert.brand} {alert.kind}"
        counted = f"{alert.mention_count} mention" + ("s" if alert.mention_count != 1 else "")
        table.add_row(
            str(alert.id),
            f"{alert.severity}\n{counted}",
            f"{alert.status}\n{cell(alert.assignee)}",
            # The handle starts the cell's first line, so only a text that is too long is cut.
            f"{cell(who)}\n{cell(mention.text if mention else alert.reason)}",
        )
    render.console.print(table if alerts else _nothing_listed(status, severity, kind))


def _nothing_listed(
    status: AlertStatus | None, severity: Severity | None, kind: AlertKind | None
) -> str:
    """What an empty list means: no alerts at all, or none that match the filters."""
    filters = [
        f"{name}={value.value}"
        for name, value in (("status", status), ("severity", severity), ("kind", kind))
        if value is not None
    ]
    return f"no alerts match {' '.join(filters)}" if filters else "no alerts yet"


@app.command("show")
def alerts_show(alert_id: AlertId, config: ConfigOption = None) -> None:
    """Everything about one alert: its rule, lifecycle, mentions and deliveries."""
    from social_crm.engagement.service import alert_replies

    with database(config).transaction() as session:
        detail = service.get_alert(session, alert_id)
        replies = alert_replies(session, alert_id)
    alert = detail.summary
    lines = [
        f"[bold]alert {alert.id}[/]: {alert.kind}, {alert.severity}, {alert.status}",
        f"reason:       {cell(alert.reason)}",
        f"brand:        {cell(alert.brand)}",
        f"rule:         {cell(detail.rule)}",
        f"opened:       {when(alert.opened_at)}",
        f"level:        {alert.level} (since {when(detail.escalated_at)})",
        f"next level:   {when(detail.sla_due_at)} unless acknowledged"
        if detail.sla_due_at
        else "next level:   none",
        f"assignee:     {cell(alert.assignee)} {when(detail.assigned_at)}",
        f"acknowledged: {when(detail.acknowledged_at)} {cell(detail.acknowledged_by)}",
        f"resolved:     {when(detail.resolved_at)} {cell(detail.resolved_by)}",
    ]
    if detail.resolution:
        lines.append(f"              {cell(detail.resolution)}")
    if detail.reopens:
        lines.append(
            f"reopens:      alert {detail.reopens.alert_id}, resolved "
            f"{when(detail.reopens.resolved_at)} {cell(detail.reopens.resolved_by)}"
        )
    lines += _mention_lines(detail)
    lines += _reply_lines(replies)
    for post in detail.top_posts:
        lines.append(f"top post:     {cell(post.author)} (reach {post.reach})")
        lines.append(f"              {cell(post.url)}")
    for line in lines:
        render.console.print(line, highlight=False, soft_wrap=True)
    _print_deliveries(alert.deliveries)


def _mention_lines(detail: service.AlertDetail) -> list[str]:
    """The alert's count, then each mention of its conversation in four short lines."""
    alert = detail.summary
    listed = detail.mentions
    if not listed:
        return [f"mentions:     {alert.mention_count}"]
    count = f"mentions:     {alert.mention_count}"
    if len(listed) != alert.mention_count:
        count += f" counted by the alert, {len(listed)} in its conversation"
    lines = [count]
    first = alert.first_mention.id if alert.first_mention else None
    latest = detail.last_mention.id if detail.last_mention else None
    width = max(render.console.width - 14, 20)
    for mention in listed:
        label = {first: "first:", latest: "latest:"}.get(mention.id, "mention:")
        customer = mention.customer
        facts = [when(mention.created_at), mention.label or "unclassified"]
        if mention.visibility != "public":
            facts.append(mention.visibility)  # who may see it: not quoted into shared channels
        if mention.change:
            facts.append(f"{mention.change} since the alert")
        elif mention.deleted:
            facts.append("deleted")
        lines.append(
            f"{label:<13} {cell(mention.network)}:{cell(mention.handle)}"
            + (f" = {cell(customer.name)} ({cell(customer.tier)})" if customer else "")
        )
        lines.append(f"              {', '.join(facts)}")
        lines.append(f"              {cell(mention.url)}")
        lines.append(f"              {cell(mention.text, width)}")
    return lines


def _reply_lines(replies: tuple[ReplySummary, ...]) -> list[str]:
    """Each reply to the alert in three short lines: who, what became of it, its text."""
    lines = []
    width = max(render.console.width - 14, 20)
    for reply in replies:
        done = f"sent {when(reply.sent_at)}" if reply.sent_at else reply.status
        lines.append(
            f"{'reply:':<13} {reply.id} {done}, approved by {cell(reply.approved_by or '-')}"
        )
        if reply.posted_url:
            lines.append(f"              {cell(reply.posted_url)}")
        lines.append(f"              {cell(reply.text, width)}")
    return lines


def _print_deliveries(deliveries: tuple[service.AlertDelivery, ...]) -> None:
    """The Deliveries table, then each delivery's last error on a line of its own."""
    table = render.table("channel and key", "level", "status", "sent", title="Deliveries")
    ordered = sorted(deliveries, key=lambda d: (d.level, d.channel))
    for delivery in ordered:
        attempts = f"{delivery.attempts} attempt{'s' if delivery.attempts != 1 else ''}"
        table.add_row(
            # The key below its channel: both whole at 80 columns.
            f"{cell(delivery.channel)}\n{cell(delivery.idempotency_key)}",
            str(delivery.level),
            f"{delivery.status}, {attempts}",
            when(delivery.sent_at),
        )
    render.console.print(table if deliveries else "no deliveries for this alert")
    render.print_errors(
        [
            f"{delivery.channel} level {delivery.level}: {delivery.last_error}"
            for delivery in ordered
            if delivery.last_error
        ]
    )


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


@app.command("resend")
def alerts_resend(alert_id: AlertId, config: ConfigOption = None) -> None:
    """Send an alert again: its sent and given-up deliveries go back to the outbox."""
    from social_crm.alerts.resend import resend

    with database(config).transaction() as session:
        result = resend(session, alert_id)
    for item in result.queued:
        key = "new key" if item.was == "sent" else "same key"
        render.console.print(
            f"alert {alert_id}: {cell(item.channel)} queued again "
            f"(was {item.was}, {key} {cell(item.idempotency_key)})",
            highlight=False,
        )
    if result.in_flight:
        render.console.print(
            f"alert {alert_id}: already on its way to {cell(', '.join(result.in_flight))}",
            highlight=False,
        )
    if not result.queued and not result.in_flight:
        render.console.print(f"alert {alert_id} has no delivery: no channel was configured")
    elif result.queued:
        render.console.print("the running daemon sends them at its next delivery pass")
