"""``social-crm privacy``: erase or export what is stored about a person, apply retention."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape

from social_crm.cli import render
from social_crm.cli.common import ByOption, ConfigOption, database, settings, whoami
from social_crm.errors import InvalidInput

if TYPE_CHECKING:
    from rich.console import Console

    from social_crm.privacy.erasure import PastErasure

LOGGER = logging.getLogger(__name__)

app = typer.Typer(help="Erase or export a person's data; clear old text.", no_args_is_help=True)

NetworkArgument = Annotated[str, typer.Argument(metavar="NETWORK", help="reddit or mastodon.")]
HandleArgument = Annotated[
    str, typer.Argument(metavar="HANDLE", help="Their handle: name, u/Name, @user@host.")
]

# What each count of an erasure means, as the command says it.
ERASURE_LINES = {
    "mentions": "mention(s) kept as counts: no text, author or link",
    "authors": "author profile(s) anonymised",
    "identities": "CRM identity(ies) deleted",
    "link_suggestions": "link suggestion(s) deleted",
    "ambassador_scores": "ambassador score(s) deleted",
    "ambassador_reviews": "ambassador review(s) deleted",
    "replies": "reply(ies) to them deleted",
    "reply_events": "reply history entry(ies) deleted",
    "alerts": "alert(s) naming them: kept, showing them as erased",
    "alerts_resolved": "of those resolved, as they were about them alone",
    "deliveries_skipped": "unsent alert message(s) skipped",
    "skipped_items": "skipped item(s) quoting their handle deleted",
}


@app.command("erase")
def privacy_erase(
    network: NetworkArgument,
    handle: HandleArgument,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    by: ByOption = None,
    config: ConfigOption = None,
) -> None:
    """Erase everything stored about a person, keeping their mentions as counts only."""
    from social_crm.privacy.erasure import erase, preview

    db = database(config)
    with db.transaction() as session:
        planned = preview(session, network, handle)
    who = escape(str(planned.subject))
    if planned.nothing_held:
        _nothing_held(str(planned.subject), planned.previous)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidInput("no terminal to confirm at; pass --yes to erase without asking")
        render.console.print(f"Erasing {who} would change:", highlight=False)
        _counts(planned.counts.as_dict())
        if not typer.confirm("Erase?", default=False):
            render.console.print("nothing was erased")
            raise typer.Exit(1)
    with db.transaction() as session:
        report = erase(session, network, handle, by=by or whoami())
    render.console.print(f"erased {who} (erasure {report.erasure_id}):", highlight=False)
    _counts(report.counts.as_dict())
    for key in report.customers:
        render.console.print(
            f"customer {escape(key)} is kept: the CRM owns it; delete it there,\n"
            "then run: social-crm customers import FILE --prune",
            highlight=False,
        )
    render.console.print(
        "If they post again they are collected as a new author; a brand's\n"
        "rules.exclude_authors keeps them out."
    )


@app.command("export")
def privacy_export(
    network: NetworkArgument,
    handle: HandleArgument,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Write everything stored about a person as one JSON document (keys in the README)."""
    from social_crm.privacy.export import export_person
    from social_crm.privacy.subject import subject

    with database(config).transaction() as session:
        document = export_person(session, network, handle)
    if document is None:
        _nothing_held(str(subject(network, handle)), (), console=render.err_console)
        return
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"{output}: cannot be written ({exc.strerror})") from None
    render.err_console.print(
        f"{len(document['mentions'])} mention(s), {len(document['replies'])} reply(ies) "
        f"written to {escape(str(output))}",
        highlight=False,
    )


@app.command("retention")
def privacy_retention(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be cleared; change nothing.")
    ] = False,
    config: ConfigOption = None,
) -> None:
    """Clear mention text and profiles past each network's retention period (done daily)."""
    from social_crm.privacy import retention

    policy = settings(config, sections=("retention",)).retention
    db = database(config)
    if dry_run:
        with db.transaction() as session:
            report = retention.plan(session, policy)
    else:
        report = retention.apply(db, policy)
    verb = "cleared" if report.applied else "to clear"
    if report.networks:
        table = render.table(
            "network", "kept for", "written before", "mentions", "authors", title=f"Text {verb}"
        )
        for row in report.networks:
            table.add_row(
                render.cell(row.network),
                f"{row.days} days",
                render.when(row.cutoff),
                str(row.mentions),
                str(row.authors),
            )
        render.console.print(table)
        render.console.print(f"crisis alerts whose top posts lose text: {report.alerts}")
    for network in report.kept:
        render.console.print(f"{render.cell(network)}: kept for good (no retention period)")
    if not report.networks and not report.kept:
        render.console.print("nothing stored yet")


def _counts(counts: dict[str, int]) -> None:
    """One line per kind of record with a count."""
    for name, value in counts.items():
        if value:
            render.console.print(f"  {value:>5}  {ERASURE_LINES[name]}", highlight=False)


def _nothing_held(
    who: str, previous: Sequence[PastErasure], *, console: Console | None = None
) -> None:
    """The line saying nothing is stored about ``who``, and when it was erased if it was."""
    erased = "; ".join(
        f"erased {render.when(past.erased_at)} by {past.erased_by}" for past in previous
    )
    line = f"nothing is held about {who}" + (f" ({erased})" if erased else "")
    (console or render.console).print(escape(line), highlight=False, soft_wrap=True)
