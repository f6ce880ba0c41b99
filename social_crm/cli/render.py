"""What every command prints through: the console and helpers that make values printable."""

from __future__ import annotations

import logging
from datetime import datetime

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from social_crm.db.base import utcnow
from social_crm.delivery.safe import clean

LOGGER = logging.getLogger(__name__)

# Commands print through this one console, so tests can swap it for a wider one.
console = Console()
# Logs, progress and errors go to standard error, beside output that may be piped.
err_console = Console(stderr=True)


def short_text(text: str, width: int) -> str:
    """The text on one line, cut to ``width`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def ago(when: datetime | None, *, now: datetime | None = None) -> str:
    """How long ago, in the largest whole unit: "never", "42 s ago", "3 min ago", "2 h ago"."""
    if when is None:
        return "never"
    seconds = int(((now or utcnow()) - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{max(seconds, 0)} s ago"


def cell(text: str | None, width: int | None = None) -> str:
    """Untrusted text for a table cell: no control characters, no Rich markup, cut."""
    flat = clean(text or "")
    return escape(short_text(flat, width) if width else " ".join(flat.split()))


def when(moment: datetime | None) -> str:
    """A moment to the minute, or nothing."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment else ""


def table(*columns: str, title: str, flexible: str | None = None) -> Table:
    """A table for the terminal's width: each column as wide as its widest cell, except
    ``flexible``, which takes the width left and cuts each of its lines at the end."""
    grid = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        expand=flexible is not None,
    )
    for name in columns:
        if name == flexible:
            grid.add_column(name, ratio=1, no_wrap=True, overflow="ellipsis")
        else:
            grid.add_column(name, no_wrap=True)
    return grid


def print_errors(errors: list[str]) -> None:
    """The last errors below a table, each on one line of its own, whole."""
    for error in errors:
        # soft_wrap: an error is never cut; a terminal narrower than it wraps it.
        console.print(f"last error of {cell(error)}", highlight=False, soft_wrap=True)
