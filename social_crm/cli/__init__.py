"""The ``social-crm`` command: one module per command group, each parsing, calling a service
and rendering its read model."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.markup import escape

import social_crm.schema  # noqa: F401 - every table, before any query
from social_crm.cli import alerts, ambassadors, classify, customers, db, links, render, run, status
from social_crm.delivery.channels.redact import RedactingFilter
from social_crm.errors import SocialCrmError, exit_code

LOGGER = logging.getLogger(__name__)

app = typer.Typer(
    help="Listen to Reddit and Mastodon for your brands, and act on what you hear.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(db.app, name="db")
app.add_typer(customers.app, name="customers")
app.add_typer(alerts.app, name="alerts")
app.add_typer(ambassadors.app, name="ambassadors")
app.add_typer(links.app, name="links")
app.command()(run.run)
app.command()(run.demo)
app.command()(status.status)
app.command()(classify.classify)


class IsoFormatter(logging.Formatter):
    """Log lines stamped with ISO-8601 local time and offset, to the millisecond."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """``2026-12-01T10:41:26.512+01:00``."""
        return datetime.fromtimestamp(record.created).astimezone().isoformat("T", "milliseconds")


PLAIN_FORMAT = IsoFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
# Libraries whose INFO logs say nothing a user of the command needs.
NOISY_LOGGERS = ("apscheduler", "httpx", "urllib3", "prawcore", "werkzeug", "alembic.runtime")


@app.callback()
def _setup(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Log warnings and errors only.")
    ] = False,
) -> None:
    """Send logs to standard error at the level asked for: rich on a terminal, plain lines
    with ISO-8601 timestamps to a file or pipe; channel credentials masked in both."""
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    handler: logging.Handler
    if render.err_console.is_terminal:
        handler = RichHandler(console=render.err_console, show_path=False, rich_tracebacks=True)
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    else:
        # One line per record, never wrapped, so a log file can be grepped and tailed.
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(PLAIN_FORMAT)
    handler.addFilter(RedactingFilter())
    logging.basicConfig(level=level, handlers=[handler])
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def main() -> None:
    """Entry point: run the app, turning expected errors into one clear line and an exit code."""
    try:
        app()
    except SocialCrmError as exc:
        # soft_wrap: one line however narrow the terminal, so it can be grepped and quoted.
        render.err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        sys.exit(exit_code(exc))
