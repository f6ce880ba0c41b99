"""``social-crm db``: database maintenance."""

from __future__ import annotations

import logging

import typer

from social_crm.cli import render
from social_crm.cli.common import ConfigOption, database

LOGGER = logging.getLogger(__name__)

app = typer.Typer(help="Database maintenance.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(config: ConfigOption = None) -> None:
    """Apply database migrations."""
    db = database(config)
    render.console.print(f"database at {db.describe()} is up to date")
