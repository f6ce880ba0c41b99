"""``social-crm ambassadors``: the ranking, its CSV export, reviews and rescoring."""

from __future__ import annotations

import csv
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from social_crm.ambassadors.report import AMBASSADOR_COLUMNS, AmbassadorRow, ambassador_rows
from social_crm.cli import render
from social_crm.cli.common import ByOption, ConfigOption, database, settings, whoami
from social_crm.cli.render import cell

LOGGER = logging.getLogger(__name__)

app = typer.Typer(help="The ambassador ranking.", no_args_is_help=True)
NetworkOption = Annotated[
    str | None,
    typer.Option("--network", "-n", help="reddit or mastodon, if the handle is on both."),
]
NoteOption = Annotated[str | None, typer.Option("--note", help="Why, for the next reviewer.")]


@app.command("list")
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
    threshold = (
        settings(config, sections=("ambassadors",)).ambassadors.review_threshold
        if pending
        else None
    )
    with database(config).transaction() as session:
        rows = ambassador_rows(session, limit=limit, pending_above=threshold, rising=rising)
    if output == "csv":
        _write_csv(rows)
        return
    title = (
        "Rising ambassadors"
        if rising
        else f"Ambassadors to review (score ≥ {threshold:g})"
        if threshold is not None
        else "Ambassadors"
    )
    # The table keeps to what fits in 80 columns; the CSV export has every figure.
    columns = ["rank", "author", "score", "growth" if rising else "review", "+/-/="]
    table = render.table(*columns, title=title, flexible="author")
    table.caption = "each score's breakdown: --format csv"
    for row in rows:
        customer = f"{row.customer} ({row.tier})" if row.tier else row.customer
        table.add_row(
            str(row.rank),
            # The handle starts the cell, so only the customer's name below it is ever cut.
            cell(f"{row.network}:{row.author}") + (f"\n= {cell(customer)}" if customer else ""),
            f"{row.score:.2f}",
            f"{row.growth:.2f}" if rising else row.review.replace("_", " "),
            f"{row.positive}/{row.negative}/{row.neutral}",
        )
    render.console.print(table if rows else _nothing_ranked(rising=rising, pending=pending))


def _nothing_ranked(*, rising: bool, pending: bool) -> str:
    """What an empty ranking means."""
    if rising:
        return "no unreviewed author's score is rising"
    if pending:
        return "no unreviewed author is above the review threshold"
    return "no author has been scored yet"


def _figure(value: float | None) -> str:
    """A figure of the breakdown, blank where the stored score lacks it."""
    return "" if value is None else str(value)


def _write_csv(rows: list[AmbassadorRow]) -> None:
    """The rows as CSV on standard output, with no cell a spreadsheet runs as a formula."""
    from social_crm.customers.importer import safe_cell

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(AMBASSADOR_COLUMNS)
    for row in rows:
        writer.writerow(
            safe_cell(value) if isinstance(value, str) else value for value in row.export_values()
        )


def _review(
    handle: str, *, network: str | None, status: str, by: str, note: str | None, config: Path | None
) -> None:
    """Record a review decision and say what was decided."""
    from social_crm.ambassadors.review import review

    with database(config).transaction() as session:
        decision = review(session, handle, status=status, by=by, network=network, note=note)
    render.console.print(
        escape(f"{decision.network}:{decision.handle} {decision.status.replace('_', ' ')}")
    )


@app.command("approve")
def ambassadors_approve(
    handle: Annotated[str, typer.Argument()],
    by: Annotated[str, typer.Option("--by", help="Who approves.")],
    network: NetworkOption = None,
    note: NoteOption = None,
    config: ConfigOption = None,
) -> None:
    """Approve an ambassador candidate."""
    _review(handle, network=network, status="approved", by=by, note=note, config=config)


@app.command("reject")
def ambassadors_reject(
    handle: Annotated[str, typer.Argument()],
    by: Annotated[str, typer.Option("--by", help="Who rejects.")],
    network: NetworkOption = None,
    note: NoteOption = None,
    config: ConfigOption = None,
) -> None:
    """Reject an ambassador candidate (they stay ranked, but are not put up for review)."""
    _review(handle, network=network, status="rejected", by=by, note=note, config=config)


@app.command("optout")
def ambassadors_optout(
    handle: Annotated[str, typer.Argument()],
    by: ByOption = None,
    network: NetworkOption = None,
    note: NoteOption = None,
    config: ConfigOption = None,
) -> None:
    """The person asked not to be approached: never list them (any of their accounts) again."""
    _review(
        handle, network=network, status="opted_out", by=by or whoami(), note=note, config=config
    )


@app.command("score")
def ambassadors_score(
    full: Annotated[bool, typer.Option("--full", help="Rescore every author.")] = False,
    config: ConfigOption = None,
) -> None:
    """Recompute scores now: authors with new mentions, or everyone with --full."""
    from social_crm.ambassadors import scoring

    ambassadors = settings(config, sections=("ambassadors",)).ambassadors
    with database(config).transaction() as session:
        ranked = scoring.recompute(session, config=ambassadors, full=full or None)
    render.console.print(f"{ranked} author(s) scored above zero")
