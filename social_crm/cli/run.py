"""``social-crm run`` and ``social-crm demo``: the daemon, for real or against fake networks."""

from __future__ import annotations

import logging
import signal
from typing import Annotated

import typer

from social_crm.cli import render
from social_crm.cli.common import ConfigOption, settings
from social_crm.cli.web import HostOption, PortOption
from social_crm.errors import ConfigError

LOGGER = logging.getLogger(__name__)
# What the demo's local servers need beyond the runtime: the optional "demo" extra.
DEMO_LIBRARIES = ("werkzeug", "aiosmtpd")


def run(
    config: ConfigOption = None,
    web: Annotated[
        bool, typer.Option("--web", help="Serve the web dashboard from the daemon's process too.")
    ] = False,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
) -> None:
    """Run the daemon until SIGINT or SIGTERM (with --web, the web dashboard beside it)."""
    # Until the daemon installs its own handlers (importing it and the model libraries
    # takes a moment), a signal simply ends the command, with status 0.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _exit_quietly)
    if hasattr(signal, "SIGHUP"):
        signal.signal(signal.SIGHUP, signal.SIG_IGN)  # the rules are read at start-up anyway
    from social_crm.config import default_config_path
    from social_crm.daemon import Daemon

    configured = settings(config)
    server = None
    if web:
        from social_crm.web.app import WebServer, create_app

        server = WebServer(create_app(configured), host=host, port=port).start()
    try:
        Daemon(configured, config_path=config or default_config_path()).run()
    finally:
        if server is not None:
            server.stop()


def _exit_quietly(signum: int, _frame: object) -> None:
    LOGGER.info("received %s before start-up: nothing to finish", signal.Signals(signum).name)
    raise SystemExit(0)


def demo(
    seconds: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Serve the dashboard this many seconds after the printout (0: exit at once) "
            "[default: until Ctrl-C].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """The whole bot against local fake networks, then its web dashboard.

    Fake Reddit and Mastodon servers publish a scripted stream of posts; the printout shows
    the alerts, the ambassador ranking and an approved reply, then the dashboard is served
    on the demo's database.
    """
    try:
        from social_crm.demo import run_demo
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in DEMO_LIBRARIES:
            raise
        raise ConfigError(
            f"the demo needs the 'demo' extra ({missing} is not installed): "
            "pip install 'social-crm[demo]'"
        ) from exc
    run_demo(console=render.console, serve_seconds=seconds)
