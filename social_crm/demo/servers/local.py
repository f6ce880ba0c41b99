"""A WSGI app served on 127.0.0.1 from a background thread, on a free port."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any, Self

from werkzeug.serving import BaseWSGIServer, make_server

# The fakes answer thousands of requests in a test run: keep werkzeug's access log quiet.
logging.getLogger("werkzeug").setLevel(logging.WARNING)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class LocalServer:
    """Serves a WSGI app on 127.0.0.1 until stopped (HTTP/1.1, closing each connection)."""

    def __init__(self, app: WSGIApp, *, port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server("127.0.0.1", port, app, threaded=True)
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
