"""Local receivers for alert deliveries: an SMTP server and a webhook endpoint."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message
from typing import Any, Self

from aiosmtpd.controller import Controller
from werkzeug.wrappers import Request, Response

from social_crm.demo.servers.local import LocalServer

# aiosmtpd logs every SMTP command and connection at INFO; the demo's reader wants alerts.
SMTP_LOGGERS = ("mail.log", "aiosmtpd")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpSink:
    """An SMTP server on 127.0.0.1 that keeps every message it receives."""

    def __init__(self, *, port: int | None = None) -> None:
        """``port``: the one to listen on (default: a free one)."""
        for name in SMTP_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
        self.messages: list[Message] = []
        self.peers: list[tuple[str, int]] = []  # the client's address of each message's session
        self._lock = threading.Lock()
        self.port = port or free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        """aiosmtpd's hook: keep the message."""
        with self._lock:
            self.messages.append(message_from_bytes(envelope.content))
            self.peers.append(tuple(session.peer[:2]))
        return "250 Message accepted for delivery"

    def start(self) -> Self:
        """Start listening."""
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self._controller.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One POST as the webhook endpoint saw it."""

    headers: dict[str, str]
    body: bytes
    received_at: float  # time.time() when the body had arrived

    def header(self, name: str) -> str | None:
        """A header's value, by case-insensitive name."""
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)


class WebhookSink:
    """An HTTP endpoint on 127.0.0.1 that keeps every JSON body POSTed to it.

    ``status`` is the answer to give; ``delay`` seconds pass between reading a request
    and answering it (a slow receiver). ``requests`` keeps headers and raw bodies too.
    """

    def __init__(self, *, status: int = 200, delay: float = 0.0) -> None:
        self.payloads: list[dict[str, Any]] = []
        self.requests: list[ReceivedRequest] = []
        self.status = status
        self.delay = delay
        self._lock = threading.Lock()
        self._server = LocalServer(self._app)

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"{self._server.url}/hooks/alerts"

    @Request.application
    def _app(self, request: Request) -> Response:
        if request.method != "POST" or request.path != "/hooks/alerts":
            return Response(status=404)
        body = request.get_data()
        received = ReceivedRequest(dict(request.headers.items()), body, time.time())
        if self.status >= 400:
            with self._lock:
                self.requests.append(received)
            return Response(status=self.status)
        with self._lock:
            self.requests.append(received)
            self.payloads.append(json.loads(body))
        if self.delay:
            time.sleep(self.delay)
        return Response(status=self.status)

    def start(self) -> Self:
        """Start listening."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self._server.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
