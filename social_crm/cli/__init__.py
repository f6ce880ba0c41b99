"""The ``social-crm`` command."""

from __future__ import annotations

import csv
import io
import logging
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

import social_crm.schema  # noqa: F401 - every table, before any query
from social_crm.alerts import lifecycle, service
from social_crm.alerts.enums import AlertKind
from social_crm.ambassadors.report import (
    AMBASSADOR_EXPORT_COLUMNS,
    ago,
    ambassador_export,
    short_text,
)
from social_crm.config import Settings, default_config_path, load_config
from social_crm.errors import SocialCrmError, exit_code

if TYPE_CHECKING:
    from sentiment import Classifier
    from social_crm.db import Database

LOGGER = logging.getLogger(__name__)

app = typer.Typer(
    help="Listen to Reddit and Mastodon for your brands, and act on what you hear.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
customers_app = typer.Typer(help="Customers from the CRM.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts about negative conversations.", no_args_is_help=True)
ambassadors_app = typer.Typer(help="The ambassador ranking.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(customers_app, name="customers")
app.add_typer(alerts_app, name="alerts")
app.add_typer(ambassadors_app, name="ambassadors")
links_app = typer.Typer(help="Links between authors and customers.", no_args_is_help=True)
app.add_typer(links_app, name="links")

console = Console()
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file [default: $SOCIAL_CRM_CONFIG or ./social_crm.yaml]",
    ),
]


@app.callback()
def _setup(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Log warnings and errors only.")
    ] = False,
) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(name)s: %(message)s",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=True)],
    )
    for noisy in (
        "apscheduler",
        "httpx",
        "urllib3",
        "prawcore",
        "werkzeug",
        "alembic.runtime",
    ):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def _settings(config: Path | None) -> Settings:
    return load_config(config or default_config_path())


def _database(config: Path | None) -> Database:
    from social_crm.db import Database

    db = Database(_settings(config).database_url)
    db.upgrade()
    return db


@app.command()
def run(config: ConfigOption = None) -> None:
    """Run the daemon until SIGINT or SIGTERM."""
    from social_crm.daemon import Daemon

    Daemon(_settings(config)).run()


@app.command()
def demo(
    seconds: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
) -> None:
    """Run against local fake Reddit and Mastodon servers with a scripted stream of posts."""
    from social_crm.demo import run_demo

    run_demo(console=console, seconds=seconds)


@app.command()
def status(config: ConfigOption = None) -> None:
    """The health of every source and alert channel: successes, errors, backlog."""
    from social_crm.alerts import health

    db = _database(config)
    with db.transaction() as session:
        rows = health.report(session, networks=_connector_networks(_settings(config)))
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
    for row in rows:
        error = f"{ago(row.last_error_at)}: {row.last_error}" if row.last_error else ""
        table.add_row(
            row.connector,
            row.source,
            row.state,
            ago(row.last_success_at),
            str(row.consecutive_failures),
            short_text(error, 60),
            str(row.items_last_hour),
            str(row.items_last_day),
        )
    console.print(table if rows else "no source has been polled yet")
    _print_channels(config, db)


def _connector_networks(settings: Settings) -> dict[str, str]:
    """The network each configured connector's mentions carry, where its class names it."""
    from connectors.registry import connector_class

    networks: dict[str, str] = {}
    for key, entry in settings.connectors.items():
        network = getattr(connector_class(entry.type or key), "network", None)
        if isinstance(network, str):
            networks[key] = network
    return networks


def _print_channels(config: Path | None, db: Database) -> None:
    """The Channels table of `status`: deliveries per channel and the last error."""
    from social_crm.delivery.outbox import channel_report

    with db.transaction() as session:
        report = {row.channel: row for row in channel_report(session)}
    configured = [channel.name for channel in _settings(config).alerts.channels]
    table = Table(
        "channel", "state", "sent", "pending", "failed", "last sent", "last error", title="Channels"
    )
    for name in [*configured, *sorted(set(report) - set(configured))]:
        row = report.get(name)
        if row is None:
            table.add_row(_cell(name), "unused", "0", "0", "0", "never", "")
            continue
        failing = row.last_error_at is not None and (
            row.last_sent_at is None or row.last_error_at > row.last_sent_at
        )
        state = "failing" if failing else "ok"
        if name not in configured:
            state = "not configured"
        error = f"{ago(row.last_error_at)}: {row.last_error}" if row.last_error else ""
        table.add_row(
            _cell(name),
            state,
            str(row.sent),
            str(row.pending),
            str(row.failed),
            ago(row.last_sent_at),
            _cell(error, 90),
        )
    console.print(table if table.row_count else "no alert channel is configured")


@db_app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply database migrations."""
    db = _database(config)
    console.print(f"database at {db.describe()} is up to date")


def _whoami() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"


ByOption = Annotated[
    str | None, typer.Option("--by", help="Who decides [default: your user name].")
]


@customers_app.command("import")
def customers_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (columns id,name,email,tier,status,website,reddit,mastodon) or JSON "
            "(a list of objects with those keys)"
        ),
    ],
    config: ConfigOption = None,
) -> None:
    """Import or update customers (CSV or JSON, by extension); a file with any bad record
    imports nothing."""
    from social_crm.customers.importer import import_customers

    settings = _settings(config)
    db = _database(config)
    with db.transaction() as session:
        result = import_customers(session, file, linking=settings.linking)
    console.print(
        f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged; "
        f"{result.authors_linked} author(s) linked"
    )


@customers_app.command("export")
def customers_export(
    output_format: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write every customer as CSV (safe to open in a spreadsheet) or JSON."""
    from social_crm.customers.importer import export_customers

    if output_format not in ("csv", "json"):
        raise typer.BadParameter("expected csv or json", param_hint="--format")
    db = _database(config)
    with db.transaction() as session:
        if output is None:
            export_customers(session, sys.stdout, fmt=output_format)
            return
        with output.open("w", encoding="utf-8", newline="") as stream:
            count = export_customers(session, stream, fmt=output_format)
    Console(stderr=True).print(f"{count} customer(s) written to {output}")


@customers_app.command("show")
def customers_show(
    customer_id: Annotated[str, typer.Argument(metavar="ID", help="The CRM id (or #N).")],
    weeks: Annotated[int, typer.Option(help="Weeks of sentiment trend.", min=1)] = 8,
    limit: Annotated[int, typer.Option(help="Show at most this many entries.", min=1)] = 50,
    config: ConfigOption = None,
) -> None:
    """A customer's identities, mentions and alerts across networks, newest first."""
    from social_crm.customers.timeline import customer_timeline

    db = _database(config)
    with db.transaction() as session:
        timeline = customer_timeline(session, customer_id, weeks=weeks)
        customer = timeline.customer
        facts = [
            f"[bold]{escape(customer.name)}[/] ({escape(customer.external_id)})",
            *(
                f"{label}: {escape(value)}"
                for label, value in (
                    ("email", customer.email),
                    ("tier", customer.tier),
                    ("status", customer.status),
                    ("website", customer.website),
                )
                if value
            ),
        ]
        console.print("  ".join(facts))
        if customer.opted_out_at:
            console.print(f"opted out of ambassador outreach on {customer.opted_out_at:%Y-%m-%d}")
        who = Table("network", "handle", "source", "linked", "evidence", title="Identities")
        for identity in customer.identities:
            who.add_row(identity.network, identity.handle, f"CRM ({identity.source})", "", "")
        for author in timeline.authors:
            evidence = ", ".join(e.get("kind", "") for e in author.link_evidence or [])
            linked = author.linked_at.strftime("%Y-%m-%d %H:%M") if author.linked_at else ""
            who.add_row(
                author.network, author.handle, f"author, by {author.linked_by}", linked, evidence
            )
        console.print(who)
        trend = "  ".join(
            f"{week.start:%m-%d} +{week.positive}/-{week.negative}" for week in timeline.weeks
        )
        console.print(f"sentiment, last {weeks} weeks: {timeline.sparkline}   {trend}")
        table = Table("when", "what", "network", "sentiment / status", "text", title="Timeline")
        for entry in timeline.entries[:limit]:
            table.add_row(
                entry.at.strftime("%Y-%m-%d %H:%M"),
                entry.kind,
                entry.network,
                entry.title,
                escape(short_text(entry.text, 80)),
            )
        console.print(table if timeline.entries else "nothing said yet")
        if len(timeline.entries) > limit:
            console.print(f"... {len(timeline.entries) - limit} older entries (--limit)")


@links_app.command("review")
def links_review(config: ConfigOption = None) -> None:
    """Suggested links waiting for a person, most confident first."""
    from social_crm.customers.linking import pending_suggestions

    db = _database(config)
    with db.transaction() as session:
        suggestions = pending_suggestions(session)
        table = Table("id", "author", "customer", "confidence", "evidence", title="Suggested links")
        for item in suggestions:
            table.add_row(
                str(item.id),
                f"{item.author.network}:{item.author.handle}",
                f"{escape(item.customer.name)} ({escape(item.customer.external_id)})",
                f"{item.confidence:.2f}",
                escape(
                    "; ".join(f"{e['kind']} {e['weight']}: {e['detail']}" for e in item.evidence)
                ),
            )
    console.print(table if suggestions else "no suggestions waiting")


@links_app.command("confirm")
def links_confirm(
    suggestion_id: Annotated[int, typer.Argument(metavar="ID")],
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Link the suggestion's author to its customer."""
    from social_crm.customers.linking import confirm

    db = _database(config)
    with db.transaction() as session:
        item = confirm(session, suggestion_id, by=by or _whoami())
        text = f"{item.author.network}:{item.author.handle} linked to {item.customer.name}"
    console.print(escape(text))


@links_app.command("reject")
def links_reject(
    suggestion_id: Annotated[int, typer.Argument(metavar="ID")],
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Reject a suggestion: that author and customer are never suggested again."""
    from social_crm.customers.linking import reject

    db = _database(config)
    with db.transaction() as session:
        reject(session, suggestion_id, by=by or _whoami())
    console.print(f"suggestion {suggestion_id} rejected")


@links_app.command("unlink")
def links_unlink(
    network: Annotated[str, typer.Argument(help="reddit or mastodon")],
    handle: Annotated[str, typer.Argument()],
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Undo an author's link; the pair is remembered and never linked automatically again."""
    from social_crm.customers.linking import unlink

    db = _database(config)
    with db.transaction() as session:
        memory = unlink(session, network, handle, by=by or _whoami())
        text = f"{network}:{memory.author.handle} unlinked from {memory.customer.name}"
    console.print(escape(text))


def _cell(text: str | None, width: int | None = None) -> str:
    """Untrusted text for a table cell: no control characters, no Rich markup, cut."""
    from social_crm.delivery.safe import clean

    flat = clean(text or "")
    return escape(short_text(flat, width) if width else " ".join(flat.split()))


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


@alerts_app.command("list")
def alerts_list(
    status: Annotated[str | None, typer.Option(help="open, acknowledged or resolved")] = None,
    severity: Annotated[str | None, typer.Option(help="low, medium, high or critical")] = None,
    kind: Annotated[str | None, typer.Option(help="mention, crisis or health")] = None,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50,
    config: ConfigOption = None,
) -> None:
    """List alerts, newest first."""
    db = _database(config)
    with db.transaction() as session:
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
            customer = mention.author.customer if mention else None
            table.add_row(
                str(alert.id),
                alert.severity,
                alert.status,
                _cell(alert.brand or alert.kind)
                + ("" if alert.kind == AlertKind.MENTION else f" {alert.kind}"),
                _cell(f"{mention.network}:{mention.author.handle}") if mention else "",
                _cell(f"{customer.name} ({customer.tier})") if customer else "",
                str(alert.mention_count),
                str(alert.level),
                _cell(alert.assignee),
                _when(alert.opened_at),
                _cell(mention.text if mention else alert.reason, 50),
                " ".join(f"{d.channel}:{d.status}" for d in alert.deliveries),
            )
    console.print(table if alerts else "no alerts")


@alerts_app.command("show")
def alerts_show(
    alert_id: Annotated[int, typer.Argument(metavar="ID")],
    config: ConfigOption = None,
) -> None:
    """Everything about one alert: its rule, lifecycle, mentions and deliveries."""
    db = _database(config)
    with db.transaction() as session:
        alert = service.get_alert(session, alert_id)
        lines = [
            f"[bold]alert {alert.id}[/]: {alert.kind}, {alert.severity}, {alert.status}",
            f"reason:       {_cell(alert.reason)}",
            f"brand:        {_cell(alert.brand)}",
            f"rule:         {_cell(alert.rule)}",
            f"opened:       {_when(alert.opened_at)}",
            f"level:        {alert.level} (since {_when(alert.escalated_at)})"
            + (
                f", next at {_when(alert.sla_due_at)} unless acknowledged"
                if alert.sla_due_at
                else ""
            ),
            f"assignee:     {_cell(alert.assignee)} {_when(alert.assigned_at)}",
            f"acknowledged: {_when(alert.acknowledged_at)} {_cell(alert.acknowledged_by)}",
            f"resolved:     {_when(alert.resolved_at)} {_cell(alert.resolved_by)}",
            f"mentions:     {alert.mention_count}",
        ]
        earlier = (alert.details or {}) if alert.kind == AlertKind.MENTION else {}
        if earlier.get("reopens"):
            at = earlier.get("resolved_at")
            lines.append(
                f"reopens:      alert {earlier['reopens']}, resolved "
                f"{_when(datetime.fromisoformat(at)) if at else ''} "
                f"{_cell(earlier.get('resolved_by'))}"
            )
        for label, mention in (("first", alert.first_mention), ("latest", alert.last_mention)):
            if mention is None or (label == "latest" and mention.id == alert.first_mention_id):
                continue
            customer = mention.author.customer
            lines.append(
                f"{label + ':':<13} {_cell(mention.network)}:{_cell(mention.author.handle)}"
                + (f" = {_cell(customer.name)} ({_cell(customer.tier)})" if customer else "")
                + f" at {_when(mention.created_at)} {_cell(mention.url)}"
            )
            lines.append(f"              {_cell(mention.text, 300)}")
        for post in (alert.details or {}).get("top", []):
            lines.append(
                f"top post:     {_cell(str(post.get('author')))} (reach {post.get('reach')}) "
                f"{_cell(str(post.get('url')))}"
            )
        for line in lines:
            console.print(line, highlight=False)
        table = Table(
            "channel",
            "level",
            "status",
            "attempts",
            "sent",
            "last error",
            "key",
            title="Deliveries",
        )
        for delivery in sorted(alert.deliveries, key=lambda d: (d.level, d.channel)):
            table.add_row(
                _cell(delivery.channel),
                str(delivery.level),
                delivery.status,
                str(delivery.attempts),
                _when(delivery.sent_at),
                _cell(delivery.last_error, 60),
                _cell(delivery.idempotency_key),
            )
        console.print(table)


@alerts_app.command("ack")
def alerts_ack(
    alert_id: Annotated[int, typer.Argument(metavar="ID")],
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Acknowledge an open alert: someone is on it, it stops re-escalating."""
    db = _database(config)
    who = by or _whoami()
    with db.transaction() as session:
        lifecycle.acknowledge(session, alert_id, by=who)
    console.print(f"alert {alert_id} acknowledged by {escape(who)}")


@alerts_app.command("resolve")
def alerts_resolve(
    alert_id: Annotated[int, typer.Argument(metavar="ID")],
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Resolve an alert; a new negative mention in its conversation opens a new one."""
    db = _database(config)
    who = by or _whoami()
    with db.transaction() as session:
        lifecycle.resolve(session, alert_id, by=who)
    console.print(f"alert {alert_id} resolved by {escape(who)}")


@alerts_app.command("assign")
def alerts_assign(
    alert_id: Annotated[int, typer.Argument(metavar="ID")],
    to: Annotated[str, typer.Option("--to", help="Who owns it from now on.")],
    config: ConfigOption = None,
) -> None:
    """Give an alert to someone (it still needs acknowledging to stop re-escalation)."""
    db = _database(config)
    with db.transaction() as session:
        lifecycle.assign(session, alert_id, to=to)
    console.print(f"alert {alert_id} assigned to {escape(to)}")


@ambassadors_app.command("list")
def ambassadors_list(
    output: Annotated[str, typer.Option("--format", help="table or csv")] = "table",
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 20,
    rising: Annotated[
        bool, typer.Option("--rising", help="Unreviewed authors whose score grows fastest.")
    ] = False,
    pending: Annotated[
        bool, typer.Option("--pending", help="Unreviewed candidates above the review threshold.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """The ambassador ranking, best first, with the figures behind each score."""
    if output not in ("table", "csv"):
        raise typer.BadParameter("expected table or csv", param_hint="--format")
    settings = _settings(config)
    db = _database(config)
    threshold = settings.ambassadors.review_threshold if pending else None
    with db.transaction() as session:
        rows = ambassador_export(session, limit=limit, pending_above=threshold, rising=rising)
    if output == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(AMBASSADOR_EXPORT_COLUMNS)
        writer.writerows([_safe(cell) for cell in row] for row in rows)
        return
    title = (
        "Rising ambassadors"
        if rising
        else f"Ambassadors to review (score ≥ {threshold:g})"
        if threshold is not None
        else "Ambassadors"
    )
    table = Table(
        "rank", "author", "customer", "score", "review", "growth", "+/-/=", "breakdown", title=title
    )
    for row in rows:
        cells = dict(zip(AMBASSADOR_EXPORT_COLUMNS, row, strict=True))
        breakdown = (
            f"(recency {cells['from_recency']} + count {cells['from_count']} "
            f"+ share {cells['from_share']} + engagement {cells['from_engagement']} "
            f"- penalty {cells['penalty']}) x reach {cells['reach_factor']} "
            f"x customer {cells['customer_factor']}"
        )
        customer = f"{cells['customer']} ({cells['tier']})" if cells["tier"] else cells["customer"]
        table.add_row(
            str(cells["rank"]),
            f"{cells['network']}:{cells['author']}",
            escape(str(customer)),
            str(cells["score"]),
            str(cells["review"]),
            str(cells["growth"]),
            f"{cells['positive']}/{cells['negative']}/{cells['neutral']}",
            breakdown,
        )
    console.print(table if rows else "no ambassadors yet")


def _safe(cell: object) -> object:
    """A CSV cell no spreadsheet runs as a formula."""
    from social_crm.customers.importer import safe_cell

    return safe_cell(cell) if isinstance(cell, str) else cell


def _review(
    handle: str, network: str | None, status: str, by: str, note: str | None, config: Path | None
) -> None:
    from social_crm.ambassadors.scoring import review

    db = _database(config)
    with db.transaction() as session:
        decision = review(session, handle, status=status, by=by, network=network, note=note)
        text = f"{decision.author.network}:{decision.author.handle} {status.replace('_', ' ')}"
    console.print(escape(text))


NetworkOption = Annotated[
    str | None,
    typer.Option("--network", "-n", help="reddit or mastodon, if the handle is on both."),
]
NoteOption = Annotated[str | None, typer.Option("--note", help="Why, for the next reviewer.")]


@ambassadors_app.command("approve")
def ambassadors_approve(
    handle: Annotated[str, typer.Argument()],
    by: Annotated[str, typer.Option("--by", help="Who approves.")],
    network: NetworkOption = None,
    note: NoteOption = None,
    config: ConfigOption = None,
) -> None:
    """Approve an ambassador candidate."""
    _review(handle, network, "approved", by, note, config)


@ambassadors_app.command("reject")
def ambassadors_reject(
    handle: Annotated[str, typer.Argument()],
    by: Annotated[str, typer.Option("--by", help="Who rejects.")],
    network: NetworkOption = None,
    note: NoteOption = None,
    config: ConfigOption = None,
) -> None:
    """Reject an ambassador candidate (they stay ranked, but are not put up for review)."""
    _review(handle, network, "rejected", by, note, config)


@ambassadors_app.command("optout")
def ambassadors_optout(
    handle: Annotated[str, typer.Argument()],
    by: ByOption = None,
    network: NetworkOption = None,
    note: NoteOption = None,
    config: ConfigOption = None,
) -> None:
    """The person asked not to be approached: never list them (any of their accounts) again."""
    _review(handle, network, "opted_out", by or _whoami(), note, config)


@ambassadors_app.command("score")
def ambassadors_score(
    full: Annotated[bool, typer.Option("--full", help="Rescore every author.")] = False,
    config: ConfigOption = None,
) -> None:
    """Recompute scores now: authors with new mentions, or everyone with --full."""
    from social_crm.ambassadors import scoring

    settings = _settings(config)
    db = _database(config)
    with db.transaction() as session:
        ranked = scoring.recompute(session, config=settings.ambassadors, full=full or None)
    console.print(f"{ranked} author(s) scored above zero")


@app.command()
def classify(
    texts: Annotated[
        list[str] | None, typer.Argument(help="Texts to label.", show_default=False)
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", help="A UTF-8 file with one text a line ('-': standard input)."
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="Instead of sentiment.model: default, lexicon, a folder or hub id."),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Label texts; print one JSON object a line: text, label, scores, language, uncertain."""
    from sentiment import load_classifier
    from social_crm.config import SentimentConfig
    from social_crm.mentions.classify import as_json_line, classify_stream

    if (texts and file) or not (texts or file):
        raise typer.BadParameter("give texts, or --file, not both")
    path = config or default_config_path()
    sentiment = _settings(config).sentiment if config or path.is_file() else SentimentConfig()
    classifier = load_classifier(
        model or sentiment.model,
        batch_size=sentiment.batch_size,
        uncertain_below=sentiment.uncertain_below,
    )
    if texts:
        for text, result in classify_stream(classifier, texts, batch_size=sentiment.batch_size):
            typer.echo(as_json_line(text, result))
        return
    assert file is not None
    _classify_file(classifier, file, batch_size=sentiment.batch_size)


def _classify_file(classifier: Classifier, file: Path, *, batch_size: int) -> None:
    """Stream one JSON line per line of ``file``, with a progress bar on stderr."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from social_crm.mentions.classify import as_json_line, classify_stream

    stdin = str(file) == "-"
    if not stdin and not file.is_file():
        raise typer.BadParameter(f"{file}: no such file", param_hint="--file")
    total = None if stdin else _count_lines(file)
    handle = (
        io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace", newline="\n")
        if stdin
        else file.open(encoding="utf-8", errors="replace", newline="\n")
    )
    lines = (line.removesuffix("\n").removesuffix("\r") for line in handle)
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
    )
    with handle, progress:
        task = progress.add_task("classifying", total=total)
        for text, result in classify_stream(classifier, lines, batch_size=batch_size):
            typer.echo(as_json_line(text, result))
            progress.advance(task)


def _count_lines(file: Path) -> int:
    """The number of lines in ``file`` (a last line without a newline counts)."""
    count = 0
    last = b"\n"
    with file.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def main() -> None:
    """Entry point: run the app, turning expected errors into one clear line and an exit code."""
    try:
        app()
    except SocialCrmError as exc:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(exit_code(exc))


if __name__ == "__main__":
    main()
