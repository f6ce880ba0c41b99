"""The demo's web dashboard: served on the demo's database for a demo user, until Ctrl-C
or for a number of seconds."""

from __future__ import annotations

import logging
import secrets
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

from social_crm.accounts.enums import Role
from social_crm.accounts.service import add_user
from social_crm.config import Settings
from social_crm.db import Database
from social_crm.web.app import WebServer, create_app

LOGGER = logging.getLogger(__name__)

DEMO_USER = "demo"
HOST = "127.0.0.1"
PREFERRED_PORT = 8000


def serve_dashboard(settings: Settings, *, console: Console, seconds: float | None) -> None:
    """Add the ``demo`` admin with a fresh password to the demo's database, serve the
    dashboard on it, print where and how to sign in, and serve until SIGINT or SIGTERM
    (Ctrl-C) or, given ``seconds``, until they have passed."""
    password = secrets.token_urlsafe(12)
    database = Database(settings.database_url)
    try:
        with database.transaction() as session:
            add_user(session, DEMO_USER, password=password, role=Role.ADMIN)
        server = WebServer(create_app(settings, database=database), host=HOST, port=_port())
        server.start()
        try:
            console.print(
                f"Dashboard: {server.url}/  (sign in as {DEMO_USER} / {password})",
                highlight=False,
                soft_wrap=True,
            )
            console.print(
                "Serving until Ctrl-C." if seconds is None else f"Serving for {seconds:g} s.",
                highlight=False,
            )
            with _until_interrupted() as stop:
                _wait(stop, seconds)
        finally:
            server.stop()
    finally:
        database.close()
    console.print("Dashboard stopped.", highlight=False)


def _port() -> int:
    """PREFERRED_PORT when nothing listens there, else a free port the system picks."""
    for port in (PREFERRED_PORT, 0):
        with socket.socket() as probe:
            try:
                probe.bind((HOST, port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise OSError(f"no free port on {HOST}")  # pragma: no cover - port 0 always binds


@contextmanager
def _until_interrupted() -> Iterator[threading.Event]:
    """An event SIGINT and SIGTERM set while the block runs (in the main thread, where
    signals arrive); the former handlers come back after it."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def interrupted(_signum: int, _frame: Any) -> None:
        stop.set()

    former = {
        signum: signal.signal(signum, interrupted) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        yield stop
    finally:
        for signum, handler in former.items():
            signal.signal(signum, handler)


def _wait(stop: threading.Event, seconds: float | None) -> None:
    """Until ``stop`` is set, or ``seconds`` have passed."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while not stop.is_set():
        left = 0.5 if deadline is None else min(0.5, deadline - time.monotonic())
        if left <= 0:
            return
        stop.wait(left)
