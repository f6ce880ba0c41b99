"""``social-crm web``: serve the web dashboard and the JSON API."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from social_crm.cli.common import ConfigOption, database, settings

LOGGER = logging.getLogger(__name__)

HostOption = Annotated[
    str, typer.Option("--host", help="The address to listen on (0.0.0.0: every interface).")
]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535, help="The port to listen on.")]


def web(
    host: HostOption = "127.0.0.1", port: PortOption = 8000, config: ConfigOption = None
) -> None:
    """Serve the web dashboard and the JSON API until interrupted."""
    from social_crm.web.app import serve

    configured = settings(config, sections=("web",))
    serve(configured, host=host, port=port, database=database(config))
