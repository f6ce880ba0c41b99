"""A WSGI app served on 127.0.0.1 from a background thread, on a free port."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any, Self

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

# The fakes answer thousands of requests in a test run: keep werkzeug's access log quiet.
logging.getLogger("werkzeug").setLevel(logging.WARNING)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class _Handler(WSGIRequestHandler):
    """werkzeug's handler; when its server says so, it closes connections without saying so.

    Some servers answer with keep-alive implied and then drop the connection: the client
    reuses it and its next request gets no answer at all. Here the ``Connection: close``
    header is left out, and a second request on the same connection is read and dropped.
    """

    server: Any

    def setup(self) -> None:
        """A new connection: nothing answered on it yet."""
        super().setup()
        self.answered = 0
        if self.server.close_silently:
            self.rfile = _Undrained(self.rfile)

    def handle_one_request(self) -> None:
        """Answer one request, or drop it unanswered if this connection was used before."""
        if self.server.close_silently and self.answered:
            self.rfile.readline()  # the request line, left unanswered
            self.close_connection = True
            return
        self.answered += 1
        super().handle_one_request()

    def send_header(self, keyword: str, value: str) -> None:
        """Send a header; ``Connection: close`` is left out while closing silently."""
        if self.server.close_silently and keyword.lower() == "connection":
            return
        super().send_header(keyword, value)


class _Undrained:
    """A connection's input without werkzeug's drain after each answer.

    werkzeug reads whatever follows an answer until the connection ends (it closes every
    connection), which would swallow the next request on a kept-alive one.
    """

    DRAIN_SIZE = 10_000_000  # what werkzeug's drain asks for at a time

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        """Read the body; the drain's read gets nothing."""
        return b"" if size >= self.DRAIN_SIZE else bytes(self._stream.read(size))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def drop_connection(environ: dict[str, Any]) -> None:
    """Close the connection of the request being answered, before any answer is sent.

    The client sees the server go away mid-request (as when it crashes after acting on the
    request): it cannot tell whether the request took effect. werkzeug's attempt to write
    the answer afterwards fails quietly (a dropped connection is no server error).
    """
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)


class PostHold:
    """One post a fake makes and then answers only once released: between the two, a client
    that dies has posted without knowing it (the window a crash test aims at).

    ``made`` is set once the post is made; the answer waits for ``release()``, or
    ``timeout`` seconds, whichever comes first.
    """

    def __init__(self, *, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.made = threading.Event()
        self._released = threading.Event()

    def release(self) -> None:
        """Let the held answer go (to a client that may be gone by now)."""
        self._released.set()

    def hold(self) -> None:
        """Called by the fake once the post is made: say so, then wait to be released."""
        self.made.set()
        self._released.wait(self.timeout)


class LocalServer:
    """Serves a WSGI app on 127.0.0.1 until stopped (HTTP/1.1, closing each connection).

    ``close_silently``: close each connection after its answer without announcing it.
    """

    def __init__(self, app: WSGIApp, *, port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", port, app, threaded=True, request_handler=_Handler
        )
        self._server.close_silently = False  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"local-server-{self.port}",
            daemon=True,
        )

    @property
    def port(self) -> int:
        """The bound port."""
        return self._server.server_port

    @property
    def close_silently(self) -> bool:
        """Whether connections are closed after each answer without saying so."""
        return bool(self._server.close_silently)  # type: ignore[attr-defined]

    @close_silently.setter
    def close_silently(self, value: bool) -> None:
        self._server.close_silently = value  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        """The base URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
