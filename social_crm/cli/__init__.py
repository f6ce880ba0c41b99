"""The ``social-crm`` command: one module per command group, each parsing, calling a service
and rendering its read model."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from rich.logging import RichHandler
from rich.markup import escape

import social_crm.schema  # noqa: F401 - every table, before any query
from social_crm.cli import (
    alerts,
    ambassadors,
    classify,
    customers,
    db,
    health,
    links,
    privacy,
    render,
    replies,
    rules,
    run,
    status,
    users,
    web,
)
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
app.add_typer(replies.app, name="replies")
app.add_typer(users.app, name="users")
app.add_typer(rules.app, name="rules")
app.add_typer(privacy.app, name="privacy")
app.command()(run.run)
app.command()(run.demo)
app.command()(status.status)
app.command()(health.health)
app.command()(classify.classify)
app.command()(web.web)


class IsoFormatter(logging.Formatter):
    """Log lines stamped with ISO-8601 local time and offset, to the millisecond."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802
        """``2026-12-01T10:41:26.512+01:00``."""
        return datetime.fromtimestamp(record.created).astimezone().isoformat("T", "milliseconds")


PLAIN_FORMAT = IsoFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")

# Typer raises its own copy of click's exceptions (vendored in recent versions): they are
# reached through the one it exports.
_CLICK_ERRORS = {cls.__name__: cls for cls in typer.BadParameter.__mro__}
UsageError: type[Exception] = _CLICK_ERRORS["UsageError"]
ClickException: type[Exception] = _CLICK_ERRORS["ClickException"]

# Commands that run for long and log what they do as they go.
DAEMON_COMMANDS = ("run", "demo", "web")

# Libraries whose INFO logs say nothing a user of the command needs.
NOISY_LOGGERS = (
    "apscheduler",
    "httpx",
    "urllib3",
    "prawcore",
    "werkzeug",
    "alembic.runtime",
    "uvicorn.access",
)


def _print_version(value: bool) -> None:
    """Print the installed version and stop, for ``--version``."""
    if value:
        try:
            installed = version("social-crm")
        except PackageNotFoundError:  # run from a checkout that was never installed
            installed = "unknown"
        typer.echo(f"social-crm {installed}")
        raise typer.Exit()


@app.callback()
def _setup(
    ctx: typer.Context,
    _version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug details.")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Log warnings and errors only.")
    ] = False,
) -> None:
    """Send logs to standard error: rich on a terminal, plain lines with ISO-8601 timestamps
    to a file or pipe; channel credentials masked in both."""
    # The daemon tells what it does in its log; any other command prints its result once,
    # on standard output, so its log says only what went wrong.
    talkative = ctx.invoked_subcommand in DAEMON_COMMANDS
    level = (
        logging.DEBUG if verbose else logging.INFO if talkative and not quiet else logging.WARNING
    )
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
        code = app(standalone_mode=False)
    except SocialCrmError as exc:
        _error(str(exc))
        sys.exit(exit_code(exc))
    except UsageError as exc:
        context = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError" and context is not None:
            typer.echo(context.get_help())  # a bare command group prints its help
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        hint = f" (see: {context.command_path} --help)" if context is not None else ""
        # Typer words an invalid choice as pydantic does ("Value error, 'x' is not one of").
        message = exc.format_message().replace("Value error, ", "")  # type: ignore[attr-defined]
        _error(message + hint)
        sys.exit(exc.exit_code)  # type: ignore[attr-defined]
    except ClickException as exc:
        _error(exc.format_message())  # type: ignore[attr-defined]
        sys.exit(exc.exit_code)  # type: ignore[attr-defined]
    except typer.Abort:
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


def _error(message: str) -> None:
    """One red line on standard error."""
    # soft_wrap: one line however narrow the terminal, so it can be grepped and quoted.
    render.err_console.print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True
    )
