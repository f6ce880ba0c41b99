"""``social-crm links``: review, confirm, reject and undo links between authors and customers."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from social_crm.cli import render
from social_crm.cli.common import ByOption, ConfigOption, database, whoami

LOGGER = logging.getLogger(__name__)

app = typer.Typer(help="Links between authors and customers.", no_args_is_help=True)
SuggestionId = Annotated[int, typer.Argument(metavar="ID")]


@app.command("review")
def links_review(config: ConfigOption = None) -> None:
    """Suggested links waiting for a person, most confident first."""
    from social_crm.customers.linking import pending_suggestions

    with database(config).transaction() as session:
        suggestions = pending_suggestions(session)
    table = Table("id", "author", "customer", "confidence", "evidence", title="Suggested links")
    for item in suggestions:
        table.add_row(
            str(item.id),
            f"{item.network}:{item.handle}",
            f"{escape(item.customer_name)} ({escape(item.customer_external_id)})",
            f"{item.confidence:.2f}",
            escape("; ".join(f"{e.kind} {e.weight}: {e.detail}" for e in item.evidence)),
        )
    render.console.print(table if suggestions else "no suggestions waiting")


@app.command("confirm")
def links_confirm(
    suggestion_id: SuggestionId, by: ByOption = None, config: ConfigOption = None
) -> None:
    """Link the suggestion's author to its customer."""
    from social_crm.customers.linking import confirm

    with database(config).transaction() as session:
        item = confirm(session, suggestion_id, by=by or whoami())
    render.console.print(escape(f"{item.network}:{item.handle} linked to {item.customer_name}"))


@app.command("reject")
def links_reject(
    suggestion_id: SuggestionId, by: ByOption = None, config: ConfigOption = None
) -> None:
    """Reject a suggestion: that author and customer are never suggested again."""
    from social_crm.customers.linking import reject

    with database(config).transaction() as session:
        reject(session, suggestion_id, by=by or whoami())
    render.console.print(f"suggestion {suggestion_id} rejected")


@app.command("unlink")
def links_unlink(
    network: Annotated[str, typer.Argument(help="reddit or mastodon")],
    handle: Annotated[str, typer.Argument()],
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Undo an author's link; the pair is remembered and never linked automatically again."""
    from social_crm.customers.linking import unlink

    with database(config).transaction() as session:
        memory = unlink(session, network, handle, by=by or whoami())
    render.console.print(escape(f"{network}:{memory.handle} unlinked from {memory.customer_name}"))
