"""What the commands share: the options they take, the settings and the database they open."""

from __future__ import annotations

import getpass
import logging
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from social_crm.config import Settings, default_config_path, load_config

if TYPE_CHECKING:
    from social_crm.db import Database

LOGGER = logging.getLogger(__name__)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Configuration file [default: $SOCIAL_CRM_CONFIG or ./social_crm.yaml]",
    ),
]
ByOption = Annotated[
    str | None, typer.Option("--by", help="Who decides [default: your user name].")
]


def settings(
    config: Path | None,
    *,
    sections: Collection[str] | None = None,
    connector_secrets: bool = True,
) -> Settings:
    """The configuration from ``config`` or the default place: ``sections`` of it, or all
    (``connector_secrets=False``: the connectors' own settings unread, see load_config)."""
    return load_config(
        config or default_config_path(), sections=sections, connector_secrets=connector_secrets
    )


def database(config: Path | None) -> Database:
    """The configured database, reachable and migrated to the latest schema."""
    from social_crm.db import Database

    db = Database(settings(config, sections=()).database_url)
    db.ping()
    db.upgrade()
    return db


def whoami() -> str:
    """The user name of whoever runs the command, for ``--by`` left out."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "cli"
