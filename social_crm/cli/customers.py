"""``social-crm customers``: import, export and show customers from the CRM."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from social_crm.cli import render
from social_crm.cli.common import ByOption, ConfigOption, database, settings, whoami
from social_crm.cli.render import short_text

LOGGER = logging.getLogger(__name__)

app = typer.Typer(help="Customers from the CRM.", no_args_is_help=True)


@app.command("import")
def customers_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV (columns id,name,email,tier,status,website,reddit,mastodon) or JSON "
            "(a list of objects with those keys)"
        ),
    ],
    prune: Annotated[
        bool,
        typer.Option(
            "--prune", help="Delete the customers the file does not list, and their links."
        ),
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Import or update customers (CSV or JSON, by extension); a file with any bad record
    imports nothing."""
    from social_crm.customers.importer import import_customers

    linking = settings(config, sections=("linking",)).linking
    with database(config).transaction() as session:
        result = import_customers(session, file, linking=linking, prune=prune)
    pruned = f", {result.pruned} pruned" if prune else ""
    render.console.print(
        f"{result.created} created, {result.updated} updated, {result.unchanged} unchanged"
        f"{pruned}; {result.authors_linked} author(s) linked"
    )


@app.command("export")
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
    with database(config).transaction() as session:
        if output is None:
            export_customers(session, sys.stdout, fmt=output_format)
            return
        with output.open("w", encoding="utf-8", newline="") as stream:
            count = export_customers(session, stream, fmt=output_format)
    render.err_console.print(f"{count} customer(s) written to {output}")


@app.command("show")
def customers_show(
    customer_id: Annotated[str, typer.Argument(metavar="ID", help="The CRM id (or #N).")],
    weeks: Annotated[int, typer.Option(help="Weeks of sentiment trend.", min=1)] = 8,
    limit: Annotated[int, typer.Option(help="Show at most this many entries.", min=1)] = 50,
    config: ConfigOption = None,
) -> None:
    """A customer's identities, mentions, alerts and replies across networks, newest first."""
    from social_crm.engagement.service import customer_timeline

    with database(config).transaction() as session:
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
    render.console.print("  ".join(facts))
    if customer.opted_out_at:
        render.console.print(
            f"opted out of ambassador outreach on {customer.opted_out_at:%Y-%m-%d}"
        )
    if customer.do_not_contact_at:
        render.console.print(f"not to be contacted since {customer.do_not_contact_at:%Y-%m-%d}")
    who = Table("network", "handle", "source", "linked", "evidence", title="Identities")
    for identity in customer.identities:
        who.add_row(identity.network, identity.handle, f"CRM ({identity.source})", "", "")
    for author in timeline.authors:
        who.add_row(
            author.network,
            author.handle,
            f"author, by {author.linked_by}",
            author.linked_at.strftime("%Y-%m-%d %H:%M") if author.linked_at else "",
            ", ".join(author.evidence),
        )
    render.console.print(who)
    trend = "  ".join(
        f"{week.start:%m-%d} +{week.positive}/-{week.negative}" for week in timeline.weeks
    )
    render.console.print(f"sentiment, last {weeks} weeks: {timeline.sparkline}   {trend}")
    table = Table("when", "what", "network", "sentiment / status", "text", title="Timeline")
    for entry in timeline.entries[:limit]:
        table.add_row(
            entry.at.strftime("%Y-%m-%d %H:%M"),
            entry.kind,
            entry.network,
            entry.title,
            escape(short_text(entry.text, 80))
            + (f"\n{escape(entry.url)}" if entry.kind == "reply" and entry.url else ""),
        )
    render.console.print(table if timeline.entries else "nothing said yet")
    if len(timeline.entries) > limit:
        render.console.print(f"... {len(timeline.entries) - limit} older entries (--limit)")


@app.command("do-not-contact")
def customers_do_not_contact(
    customer_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="The CRM id (or #N).")
    ] = None,
    author: Annotated[
        str | None,
        typer.Option("--author", help="An author instead of a customer (reddit:name, @u@host)."),
    ] = None,
    network: Annotated[
        str | None, typer.Option("--network", "-n", help="The author's network, if ambiguous.")
    ] = None,
    off: Annotated[bool, typer.Option("--off", help="They may be contacted again.")] = False,
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Mark a customer (every account of theirs) or an author as not to be contacted: no
    reply is sent to them."""
    from social_crm.customers import contact

    if (customer_id is None) == (author is None):
        raise typer.BadParameter("name a customer ID or an --author, not both", param_hint="ID")
    who = by or whoami()
    with database(config).transaction() as session:
        if author is not None:
            flag = contact.set_author(
                session, author, do_not_contact=not off, by=who, network=network
            )
        else:
            assert customer_id is not None
            flag = contact.set_customer(session, customer_id, do_not_contact=not off, by=who)
    state = "not to be contacted" if flag.do_not_contact else "may be contacted again"
    render.console.print(escape(f"{flag.who}: {state}"), highlight=False)
