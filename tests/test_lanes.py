"""A channel that does not answer holds up only the sending of alerts: the daemon's lanes."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from social_crm.alerts.models import Alert
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.mentions.models import MentionRecord

from .daemons import start_daemon, wait_for
from .factories import BRAND

# How long the alert channel waits for an answer that never comes.
CHANNEL_TIMEOUT = 40.0


class SilentServer:
    """A TCP server that takes every connection and what is sent on it, and never answers
    (a hung proxy, a server out of threads)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        self._held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._held.append(connection)
            self.connections += 1

    def close(self) -> None:
        self._listener.close()
        for connection in self._held:
            connection.close()


@pytest.fixture
def silent() -> Iterator[SilentServer]:
    server = SilentServer()
    yield server
    server.close()


def test_a_channel_that_never_answers_holds_up_neither_listening_nor_escalation(
    tmp_path: Path, write_config: Callable[..., Path], silent: SilentServer
) -> None:
    database = tmp_path / "crm.sqlite"
    with FakeReddit() as reddit:
        config = write_config(
            brands=[BRAND],
            database={"url": f"sqlite:///{database}"},
            connectors={
                "reddit": {
                    "base_url": reddit.url,
                    "client_id": "demo-client",
                    "client_secret": "demo-secret",
                    "poll_interval_seconds": 1,
                    "max_poll_interval_seconds": 1,
                }
            },
            alerts={
                "channels": [
                    {
                        "type": "webhook",
                        "name": "chat",
                        "url": f"http://127.0.0.1:{silent.port}/hook",
                        "timeout_seconds": CHANNEL_TIMEOUT,
                    }
                ]
            },
            scheduler={
                "process_interval_seconds": 0.5,
                "deliver_interval_seconds": 0.5,
                "jitter_seconds": 0,
            },
        )
        reddit.submit(
            "brewly",
            author="grumpy_gus",
            title="Brewly broke again",
            selftext="Broken after two weeks. Terrible, awful service, never again.",
        )
        engine = create_engine(f"sqlite:///{database}")
        daemon = start_daemon(config, tmp_path / "daemon.log")
        try:
            daemon.wait_running()
            # The first alert goes out to a channel that takes it and never answers.
            wait_for(lambda: silent.connections > 0, timeout=30, what="the alert's delivery")
            reddit.submit(
                "espresso",
                author="sad_sam",
                title="My Brewly leaks",
                selftext="Leaking everywhere, horrible and disappointing. Worst machine ever.",
            )
            # Its delivery still hangs: the new post is fetched, stored, classified and
            # opens its own alert all the same, well within the channel's timeout.
            waited = wait_for(
                lambda: _alerts(engine) == 2,
                timeout=CHANNEL_TIMEOUT / 2,
                what="the second post's alert while the first alert's delivery hangs",
            )
            assert waited < CHANNEL_TIMEOUT / 2
            assert _mentions(engine) == 2
            assert daemon.process.poll() is None, daemon.text()
        finally:
            daemon.kill()
            engine.dispose()


def _alerts(engine) -> int:  # noqa: ANN001 - a SQLAlchemy engine
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Alert)) or 0


def _mentions(engine) -> int:  # noqa: ANN001 - a SQLAlchemy engine
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(MentionRecord)) or 0
