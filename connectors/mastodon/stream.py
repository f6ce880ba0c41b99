"""The streaming API: one connection per hashtag or user stream, kept open by a daemon thread
that buffers items per source, so a fetch can drain them instead of polling."""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mastodon import Mastodon, StreamListener
from mastodon.errors import MastodonAPIError, MastodonNetworkError

from connectors.mastodon.client import _status_code
from connectors.mastodon.parse import _item_id

LOGGER = logging.getLogger(__name__)

STREAM_READ_TIMEOUT_SECONDS = 90.0  # servers send a heartbeat comment well within this
STREAM_RETRY_SECONDS = 2.0  # first reconnect delay; doubles up to STREAM_RETRY_MAX_SECONDS
STREAM_RETRY_MAX_SECONDS = 300.0
STREAM_RESYNC_SECONDS = 900.0  # even with a healthy stream, poll this often to be sure
# A stream that never connected gives up after this many attempts (about 30 s): a server
# may advertise a streaming URL it cannot serve (wss:// on plain http, a dead host).
STREAM_MAX_FAILED_CONNECTS = 5
STREAM_BUFFER_LIMIT = 10_000  # items kept per source between fetches; beyond, poll instead
# Reasons a streaming server gives when it will never stream to us (compared lower-cased).
STREAM_REFUSALS = frozenset(
    {"not found", "unauthorized", "forbidden", "method not allowed", "gone", "not implemented"}
)


class _Closed(Exception):
    """Raised inside a stream's callbacks to end it when the connector closes."""


@dataclass(slots=True)
class _Buffer:
    """What one stream holds for one source between fetches."""

    items: deque[tuple[int, Any]] = field(default_factory=deque)  # (sequence, item)
    caught_up: int | None = None  # the connection a poll covered up to its start
    cursor: str | None = None  # the cursor last returned for the source
    polled_at: float = 0.0
    returned: OrderedDict[str, None] = field(default_factory=OrderedDict)  # recent ids

    def note_returned(self, ids: Sequence[str]) -> None:
        """Remember ids handed out, so a buffered copy is not handed out again."""
        for item_id in ids:
            self.returned[item_id] = None
            self.returned.move_to_end(item_id)
        while len(self.returned) > STREAM_BUFFER_LIMIT:
            self.returned.popitem(last=False)


class _Listener(StreamListener):
    """Mastodon.py stream callbacks that feed a _Stream."""

    def __init__(self, stream: _Stream) -> None:
        self._stream = stream

    def handle_stream(self, response: Any) -> None:
        """The connection is open: mark it, read events until it ends, then mark that."""
        self._stream.connected(response)
        try:
            super().handle_stream(response)
        finally:
            self._stream.disconnected()

    def on_update(self, status: Any) -> None:
        """A new status in a hashtag stream."""
        if self._stream.kind == "tag" and isinstance(status, Mapping) and "id" in status:
            self._stream.push(status)

    def on_notification(self, notification: Any) -> None:
        """A notification in the user stream: mentions are kept."""
        if (
            self._stream.kind == "mentions"
            and isinstance(notification, Mapping)
            and notification.get("type") == "mention"
            and "id" in notification
        ):
            self._stream.push(notification)

    def handle_heartbeat(self) -> None:
        """A keep-alive line: a chance to stop when the connector closes."""
        self._stream.beat()

    def on_unknown_event(self, name: str, unknown_event: Any = None) -> None:
        """Events this listener has no use for are ignored."""


class _Stream:
    """One streaming connection, kept open by a daemon thread, buffering items per source.

    A source drains its buffer instead of polling only when the connection that is open now
    was already open when the source's last poll started (so poll + stream leave no gap),
    the cursor the caller passes is the one last returned, and the last poll is recent.
    A refusal (404, 401, a failed health check) ends the stream for good: polling only.
    """

    def __init__(
        self,
        *,
        name: str,
        kind: str,
        client: Mastodon,
        open_stream: Callable[[Mastodon, StreamListener], None],
    ) -> None:
        self.name = name
        self.kind = kind
        self.refused = False
        self._client = client
        self._open_stream = open_stream
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._connected = False
        self._generation = 0
        self._sequence = 0
        self._response: Any = None
        self._received = False
        self._buffers: dict[str, _Buffer] = {}
        self._thread = threading.Thread(
            target=self._run, name=f"mastodon-stream {name}", daemon=True
        )

    @property
    def state(self) -> str:
        """ "connected", "connecting" or "refused"."""
        if self.refused:
            return "refused"
        return "connected" if self._connected else "connecting"

    def start(self) -> None:
        """Start the background thread."""
        self._thread.start()

    def subscribe(self, key: str) -> None:
        """Keep a buffer for source ``key``."""
        with self._lock:
            self._buffers.setdefault(key, _Buffer())

    def unsubscribe(self, key: str) -> bool:
        """Drop source ``key``'s buffer; True when no source is left to buffer for."""
        with self._lock:
            self._buffers.pop(key, None)
            return not self._buffers

    # -- called from fetch ----------------------------------------------------------------

    def drain(self, key: str, cursor: str | None) -> list[Any] | None:
        """The items buffered for ``key`` since the last fetch, or None when it must poll."""
        with self._lock:
            buffer = self._buffers.get(key)
            if (
                buffer is None
                or not self._connected
                or buffer.caught_up != self._generation
                or cursor != buffer.cursor
                or time.monotonic() - buffer.polled_at > STREAM_RESYNC_SECONDS
            ):
                return None
            items = [item for _, item in buffer.items if _item_id(item) not in buffer.returned]
            buffer.items.clear()
            unique: dict[str, Any] = {}
            for item in items:
                unique.setdefault(_item_id(item), item)
            return list(unique.values())

    def invalidate(self, key: str) -> None:
        """The next fetch of ``key`` must poll."""
        with self._lock:
            if key in self._buffers:
                self._buffers[key].caught_up = None

    def delivered(self, key: str, cursor: str | None, ids: Sequence[str]) -> None:
        """A drained batch was returned with ``cursor``."""
        with self._lock:
            buffer = self._buffers.get(key)
            if buffer is None:
                return  # released meanwhile
            buffer.cursor = cursor
            buffer.note_returned(ids)

    def before_poll(self, key: str) -> tuple[int | None, int]:
        """A ticket for a poll starting now: (open connection or None, buffer position)."""
        with self._lock:
            return (self._generation if self._connected else None), self._sequence

    def after_poll(
        self, key: str, ticket: tuple[int | None, int], cursor: str | None, ids: Sequence[str]
    ) -> None:
        """A poll succeeded: what was buffered before it started is covered by it."""
        generation, position = ticket
        with self._lock:
            buffer = self._buffers.get(key)
            if buffer is None:
                return  # released meanwhile
            while buffer.items and buffer.items[0][0] <= position:
                buffer.items.popleft()
            still_open = self._connected and generation == self._generation
            buffer.caught_up = generation if still_open else None
            buffer.cursor = cursor
            buffer.polled_at = time.monotonic()
            buffer.note_returned(ids)

    # -- called from the stream thread ----------------------------------------------------

    def connected(self, response: Any) -> None:
        """A connection is open."""
        with self._lock:
            self._response = response
            self._generation += 1
            self._connected = True
        LOGGER.info("mastodon stream %s: connected", self.name)

    def disconnected(self) -> None:
        """The connection ended."""
        with self._lock:
            self._connected = False
            self._response = None

    def push(self, item: Any) -> None:
        """An item arrived: buffer it for every subscribed source."""
        with self._lock:
            self._received = True
            self._sequence += 1
            for buffer in self._buffers.values():
                if len(buffer.items) >= STREAM_BUFFER_LIMIT:
                    buffer.items.clear()
                    buffer.caught_up = None  # too much to hold: the next fetch polls
                buffer.items.append((self._sequence, item))
        self.beat()

    def beat(self) -> None:
        """Stop reading when the connector closes."""
        if self._closing.is_set():
            raise _Closed

    def _run(self) -> None:
        """Check health once, then stream; reconnect with backoff until closed or refused.

        A stream that never connected is given up after STREAM_MAX_FAILED_CONNECTS tries,
        with one log line; one that did connect once is retried for as long as it takes.
        """
        delay = STREAM_RETRY_SECONDS
        checked = False
        failed = 0
        while not self._closing.is_set():
            self._received = False
            try:
                if not checked:
                    if not self._client.stream_healthy():
                        self._refuse("the streaming health check did not answer OK")
                        return
                    checked = True
                self._open_stream(self._client, _Listener(self))
                reason = "the server ended the stream"
            except _Closed:
                return
            except MastodonNetworkError as exc:
                if self._closing.is_set():
                    return
                refusal = str(exc).rpartition(":")[2].strip().lower()
                if "could not connect to streaming server" in str(exc).lower() and (
                    refusal in STREAM_REFUSALS
                ):
                    self._refuse(str(exc))
                    return
                reason = str(exc)
            except MastodonAPIError as exc:  # from the health check
                status = _status_code(exc)
                if status is not None and 400 <= status < 500 and status != 429:
                    self._refuse(f"HTTP {status} from the streaming health check")
                    return
                reason = f"health check failed: {exc}"
            except Exception as exc:  # a stream thread must not die of a surprise
                if self._closing.is_set():
                    return
                reason = f"{type(exc).__name__}: {exc}"
            if self._received:
                delay = STREAM_RETRY_SECONDS
            if not self._generation:
                failed += 1
                if failed >= STREAM_MAX_FAILED_CONNECTS:
                    self._refuse(f"{failed} attempts to connect failed; the last: {reason}")
                    return
            wait = delay * random.uniform(0.8, 1.2)
            LOGGER.log(
                logging.INFO if self._generation else logging.DEBUG,
                "mastodon stream %s: %s; reconnecting in %.0fs (polling meanwhile)",
                self.name,
                reason,
                wait,
            )
            self._closing.wait(wait)
            delay = min(delay * 2, STREAM_RETRY_MAX_SECONDS)

    def _refuse(self, reason: str) -> None:
        """Give up streaming for good, with one log line."""
        self.refused = True
        LOGGER.warning(
            "mastodon stream %s refused (%s); polling instead from now on", self.name, reason
        )

    def close(self) -> None:
        """Stop the thread: wake it and cut its connection."""
        self._closing.set()
        with self._lock:
            response = self._response
        if response is not None:
            _abort(response)
        self._thread.join(timeout=2)
        self._client.session.close()


def _abort(response: Any) -> None:
    """Cut a streaming response's socket so a blocked read returns at once."""
    try:
        sock = response.raw._fp.fp.raw._sock
        sock.shutdown(socket.SHUT_RDWR)
    except (AttributeError, OSError):
        with contextlib.suppress(Exception):  # a broken connection may fail to close too
            response.close()
