"""``social-crm replies``: draft, edit, approve, reject and send replies, and what they achieved."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.padding import Padding

from social_crm.cli import render
from social_crm.cli.common import ByOption, ConfigOption, database, settings, whoami
from social_crm.cli.render import cell, when
from social_crm.config import Situation
from social_crm.db.base import utcnow
from social_crm.engagement.enums import ReplyStatus

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from connectors.base import Replyable
    from social_crm.config import Settings
    from social_crm.engagement.recovery import RecoveryRow
    from social_crm.engagement.service import ReplyDetail, ReplySummary

LOGGER = logging.getLogger(__name__)

app = typer.Typer(help="Replies to mentions: drafts, approval and sending.", no_args_is_help=True)
ReplyId = Annotated[int, typer.Argument(metavar="ID")]
# What the reply commands read of the configuration: the templates, limits and footers.
SECTIONS = ("engagement",)
# Where the label column of `show` ends.
INDENT = " " * 12


def _engagement(config: Path | None) -> Settings:
    return settings(config, sections=SECTIONS)


@app.command("list")
def replies_list(
    status: Annotated[ReplyStatus | None, typer.Option(case_sensitive=False)] = None,
    brand: Annotated[str | None, typer.Option(help="Only this brand's replies.")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50,
    config: ConfigOption = None,
) -> None:
    """List replies, newest first, with what holds those waiting."""
    from social_crm.engagement import service

    with database(config).transaction() as session:
        replies = service.list_replies(session, status=status, brand=brand, limit=limit)
    table = render.table("id", "status", "reply", title="Replies", flexible="reply")
    for reply in replies:
        # The handle starts the cell's first line, so only text that is too long is cut.
        lines = [f"{cell(reply.network)}:{cell(reply.handle)} (mention {reply.mention_id})"]
        lines.append(cell(reply.text))
        if reply.reason:
            lines.append(cell(reply.reason))
        table.add_row(str(reply.id), _status(reply), "\n".join(lines))
    if replies:
        render.console.print(table)
    elif status or brand:
        filters = " ".join(
            f"{name}={value}" for name, value in (("status", status), ("brand", brand)) if value
        )
        render.console.print(f"no replies match {escape(filters)}")
    else:
        render.console.print("no replies yet")


def _status(reply: ReplySummary) -> str:
    """The status, and when a waiting reply can go or when a sent one went."""
    if _waits(reply):
        return f"{reply.status}\nnot before\n{when(reply.next_attempt_at)}"
    if reply.status == ReplyStatus.SENT:
        return f"{reply.status}\n{when(reply.sent_at)}"
    return reply.status


def _waits(reply: ReplySummary) -> bool:
    """Whether an approved reply may not go before a time still to come."""
    return (
        reply.status == ReplyStatus.APPROVED
        and reply.next_attempt_at is not None
        and reply.next_attempt_at > utcnow()
    )


@app.command("show")
def replies_show(reply_id: ReplyId, config: ConfigOption = None) -> None:
    """Everything about one reply: its mention, decisions, sending and history."""
    from social_crm.engagement import service

    with database(config).transaction() as session:
        detail = service.get_reply(session, reply_id)
    for line in _detail_lines(detail):
        render.console.print(line, highlight=False, soft_wrap=True)
    _print_text(detail.outgoing_text or detail.summary.text)
    table = render.table("when", "who", "what", title="History", flexible="what")
    for step in detail.history:
        table.add_row(
            when(step.at),
            cell(step.by),
            cell(step.action) + (f"\n{cell(step.note)}" if step.note else ""),
        )
    render.console.print(table)


def _detail_lines(detail: ReplyDetail) -> list[str]:
    """The facts of one reply, a label and a value per line."""
    reply = detail.summary
    template = f"template {cell(reply.template)}" if reply.template else "own text"
    customer = f" = {cell(reply.customer)}" if reply.customer else ""
    links = f"mention {reply.mention_id}" + (f", alert {reply.alert_id}" if reply.alert_id else "")
    width = max(render.console.width - len(INDENT), 20)
    lines = [
        f"[bold]reply {reply.id}[/]: {reply.status}, {reply.situation} ({reply.language}), "
        f"{template}",
        f"to:         {cell(reply.network)}:{cell(reply.handle)}{customer} ({links})",
        f"mention:    {when(reply.mention_at)}, {cell(detail.mention_label or 'unclassified')}",
        f"{INDENT}{cell(reply.mention_url)}",
        f"{INDENT}{cell(reply.mention_text, width)}",
        f"visibility: {cell(detail.visibility)}",
    ]
    if detail.subject:
        lines.append(f"subject:    {cell(detail.subject)}")
    lines.append(f"drafted:    {when(reply.created_at)} by {cell(reply.created_by)}")
    if detail.edited_at:
        lines.append(f"edited:     {when(detail.edited_at)} by {cell(detail.edited_by)}")
    if reply.approved_at:
        also = f", resolves alert {reply.alert_id} when sent" if detail.resolve_alert else ""
        lines.append(f"approved:   {when(reply.approved_at)} by {cell(reply.approved_by)}{also}")
    if detail.rejected_at:
        lines.append(f"rejected:   {when(detail.rejected_at)} by {cell(detail.rejected_by)}")
    if _waits(reply):
        lines.append(f"next try:   not before {when(reply.next_attempt_at)}")
    if reply.reason:
        lines.append(f"reason:     {cell(reply.reason)}")
    if reply.sent_at:
        lines.append(f"sent:       {when(reply.sent_at)} as {cell(reply.account)}")
        lines.append(f"{INDENT}{cell(reply.posted_url)} ({cell(reply.posted_id)})")
    lines.append(f"attempts:   {detail.attempts}, key {cell(detail.idempotency_key)}")
    return lines


def _print_text(text: str) -> None:
    """A reply's text below its facts, indented, wrapped between words."""
    render.console.print("text:")
    for line in text.splitlines():
        if not line.strip():
            render.console.print()  # the blank line before a footer, say
            continue
        render.console.print(Padding(escape(line), (0, 0, 0, 2), expand=False), highlight=False)


@app.command("draft")
def replies_draft(
    mention_id: Annotated[
        int | None, typer.Argument(metavar="[MENTION]", help="The mention to answer.")
    ] = None,
    alert: Annotated[
        int | None, typer.Option("--alert", help="Answer this alert's first mention.")
    ] = None,
    template: Annotated[str | None, typer.Option(help="A template, by name.")] = None,
    situation: Annotated[
        Situation | None,
        typer.Option(case_sensitive=False, help="The brand's template for this situation."),
    ] = None,
    language: Annotated[
        str | None, typer.Option(help="The template's language [default: the post's].")
    ] = None,
    text: Annotated[str | None, typer.Option(help="Your own text instead of a template.")] = None,
    private: Annotated[
        bool | None,
        typer.Option(
            "--private/--public",
            help="A private message to the author [default: as the template says].",
        ),
    ] = None,
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Start a draft reply to a mention (or an alert's), from a template or your own text."""
    from social_crm.engagement import lifecycle, service

    if (mention_id is None) == (alert is None):
        raise typer.BadParameter("name a mention or an --alert, not both", param_hint="MENTION")
    engagement = _engagement(config).engagement
    who = by or whoami()
    with database(config).transaction() as session:
        target = mention_id if mention_id is not None else lifecycle.alert_mention(session, alert)
        reply = lifecycle.draft(
            session,
            target,
            by=who,
            config=engagement,
            template=template,
            situation=situation,
            language=language,
            text=text,
            private=private,
        )
        drafted = service.summary(reply)
    render.console.print(
        f"reply {drafted.id} drafted by {escape(who)}: {drafted.situation} "
        f"({drafted.language}) to {cell(drafted.network)}:{cell(drafted.handle)}",
        highlight=False,
    )
    _print_text(drafted.text)


@app.command("edit")
def replies_edit(
    reply_id: ReplyId,
    text: Annotated[str, typer.Option(help="The reply's new text.")],
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Change a reply's text; an approved reply becomes a draft to approve again."""
    from social_crm.engagement import lifecycle

    who = by or whoami()
    with database(config).transaction() as session:
        was = lifecycle.get(session, reply_id).status
        lifecycle.edit(session, reply_id, text=text, by=who)
    again = "; it is a draft again, to be approved again" if was == ReplyStatus.APPROVED else ""
    render.console.print(f"reply {reply_id} edited by {escape(who)}{again}", highlight=False)


@app.command("approve")
def replies_approve(
    reply_id: ReplyId,
    resolve_alert: Annotated[
        bool | None,
        typer.Option(
            "--resolve-alert/--keep-alert",
            help="Resolve the reply's alert once it is sent [default: engagement.resolve_alert].",
        ),
    ] = None,
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Approve a draft: the running daemon sends it when its limits allow."""
    from social_crm.engagement import lifecycle

    engagement = _engagement(config).engagement
    who = by or whoami()
    with database(config).transaction() as session:
        reply = lifecycle.approve(
            session, reply_id, by=who, config=engagement, resolve_alert=resolve_alert
        )
        resolves = reply.alert_id if reply.resolve_alert else None
    then = f"sends it and resolves alert {resolves}" if resolves else "sends it at its next pass"
    render.console.print(
        f"reply {reply_id} approved by {escape(who)}; the daemon {then}", highlight=False
    )


@app.command("reject")
def replies_reject(
    reply_id: ReplyId,
    note: Annotated[str | None, typer.Option("--note", help="Why, for the history.")] = None,
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Reject a draft, or withdraw an approved reply before it is sent."""
    from social_crm.engagement import lifecycle

    who = by or whoami()
    with database(config).transaction() as session:
        lifecycle.reject(session, reply_id, by=who, note=note)
    render.console.print(f"reply {reply_id} rejected by {escape(who)}", highlight=False)


@app.command("send")
def replies_send(
    reply_id: ReplyId,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Show what would be posted, where and as whom; post nothing."
        ),
    ] = False,
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Queue an approved (or failed) reply for the daemon's next pass, or show it with --dry-run."""
    from social_crm.engagement import lifecycle

    if dry_run:
        _dry_run(reply_id, config)
        return
    who = by or whoami()
    with database(config).transaction() as session:
        lifecycle.queue(session, reply_id, by=who)
    render.console.print(
        f"reply {reply_id} queued; the running daemon sends it at its next pass", highlight=False
    )


def _dry_run(reply_id: int, config: Path | None) -> None:
    """Print exactly what sending the reply would post, where and as whom."""
    from connectors.errors import ConnectorError
    from social_crm.engagement.sending import preview

    current = settings(config, sections=(*SECTIONS, "connectors"))
    db = database(config)
    with db.transaction() as session:
        network = _network_of(session, reply_id)
    connector = _reply_connector(current, network)
    try:
        account = connector.reply_account() if connector is not None else None
        with db.transaction() as session:
            plan = preview(session, reply_id, current.engagement, account=account)
        state = None
        if connector is not None:
            try:
                state = connector.inspect(plan.outgoing.target)
            except ConnectorError as exc:
                state = exc
    finally:
        if connector is not None:
            connector.close()  # type: ignore[attr-defined]
    as_whom = (
        f"{cell(account)} on {cell(network)}"
        if account
        else f"nobody: no configured connector replies on {cell(network)}"
    )
    lines = [
        f"[bold]reply {plan.reply_id}[/] ({plan.status}), dry run: nothing is posted",
        f"as:         {as_whom}",
        f"where:      {cell(plan.target_url)}",
        f"visibility: {cell(plan.visibility)}",
    ]
    if plan.outgoing.subject:
        lines.append(f"subject:    {cell(plan.outgoing.subject)}")
    if isinstance(state, ConnectorError):
        lines.append(f"target:     could not be read: {cell(str(state))}")
    elif state is not None:
        answered = len(state.account_replies)
        lines.append(
            f"target:     {cell(state.status)}, {answered} repl"
            f"{'y' if answered == 1 else 'ies'} from the account there"
        )
    lines.append(f"would go:   {'no: ' + cell(plan.holds) if plan.holds else 'yes'}")
    lines.append(f"key:        {cell(plan.outgoing.idempotency_key)}")
    for line in lines:
        render.console.print(line, highlight=False, soft_wrap=True)
    _print_text(plan.outgoing.text)


def _network_of(session: Session, reply_id: int) -> str:
    """The network of reply ``reply_id``; NotFound when there is none."""
    from social_crm.engagement import lifecycle

    return lifecycle.get(session, reply_id).network


def _reply_connector(current: Settings, network: str) -> Replyable | None:
    """A connector of the configuration that replies on ``network``, built, or None."""
    from connectors.base import Replyable
    from connectors.registry import connector_class

    watches = [brand.watch() for brand in current.brands]
    for key, entry in current.connectors.items():
        if not entry.enabled:
            continue
        cls = connector_class(entry.type or key)
        connector = cls(current.connector_settings[key], watches=watches)  # type: ignore[call-arg]
        if connector.network == network and isinstance(connector, Replyable):
            return connector
        connector.close()
    return None


@app.command("report")
def replies_report(
    brand: Annotated[str | None, typer.Option(help="Only this brand's replies.")] = None,
    window_days: Annotated[
        float | None,
        typer.Option(help="Days an author is watched [default: engagement.recovery_window_days]."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Did replying help? The recovery rate of answered negative conversations."""
    from social_crm.engagement.recovery import recovery_report

    window = window_days or _engagement(config).engagement.recovery_window_days
    with database(config).transaction() as session:
        report = recovery_report(session, window_days=window, brand=brand)
    total = report.total
    render.console.print(
        f"{report.answered} conversation(s) answered, {total.answered} of them negative; "
        f"each author watched for {window:g} days after the first reply",
        highlight=False,
    )
    render.console.print(
        f"recovery rate: {_rate(total)} ({total.recovered} recovered, "
        f"{total.not_recovered} not recovered; {total.pending} pending, window still open)",
        highlight=False,
    )
    for title, rows in (
        ("By brand", report.by_brand),
        ("By template", report.by_template),
        ("By responder", report.by_responder),
    ):
        table = render.table(
            "group",
            "negative",
            "recovered",
            "unrecovered",
            "pending",
            "rate",
            title=title,
            flexible="group",
        )
        for row in rows:
            table.add_row(
                cell(row.group),
                str(row.answered),
                str(row.recovered),
                str(row.not_recovered),
                str(row.pending),
                _rate(row),
            )
        if rows:
            render.console.print(table)


def _rate(row: RecoveryRow) -> str:
    """The rate as a percentage, or a dash while no outcome is known."""
    return "—" if row.rate is None else f"{row.rate:.0%}"
