"""One daemon per SQLite database: an OS lock on ``<database file>.lock`` while it runs.

SQLite serves one daemon; several share a PostgreSQL database. The lock is ``flock`` on a
file beside the database, held as long as the daemon's process lives (the system drops it
when the process ends, however it ends), and the file says who holds it, so a second
daemon is refused naming the first. Other commands never take it: they run beside the
daemon.
"""

from __future__ import annotations

import fcntl
import logging
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from social_crm.errors import DatabaseInUse

LOGGER = logging.getLogger(__name__)


class SoleDaemon:
    """The held lock of one SQLite database file."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        """Let the next daemon start (the file stays, its contents are stale)."""
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing drops the lock
            self._descriptor = None


def lock_path(url: str) -> Path | None:
    """The lock file of a SQLite database URL; None for other databases or in-memory ones."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    database = Path(parsed.database).expanduser().resolve()
    return database.with_name(database.name + ".lock")


def hold(url: str, *, now: datetime | None = None) -> SoleDaemon | None:
    """Become the one daemon of a SQLite database; None where several may run (PostgreSQL).

    Raises DatabaseInUse, naming the daemon that holds it, if one does.
    """
    path = lock_path(url)
    if path is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(descriptor)
        os.close(descriptor)
        database = path.with_name(path.name.removesuffix(".lock"))
        raise DatabaseInUse(
            f"the database {database} is in use by social-crm run ({holder}); "
            "stop it first or use PostgreSQL for several daemons"
        ) from None
    started = (now or datetime.now(UTC)).astimezone(UTC)
    os.ftruncate(descriptor, 0)
    os.pwrite(
        descriptor,
        f"{os.getpid()} {socket.gethostname()} {started.isoformat(timespec='seconds')}\n".encode(),
        0,
    )
    return SoleDaemon(path, descriptor)


def _holder(descriptor: int) -> str:
    """Who holds the lock, as its file says: "pid 1234 on host, since 2026-12-20 12:00:03 UTC"."""
    try:
        pid, host, started = os.pread(descriptor, 1024, 0).decode().split()
        since = datetime.fromisoformat(started).astimezone(UTC)
    except (OSError, ValueError, UnicodeDecodeError):
        return "a process that is starting"  # locked, not written yet
    return f"pid {pid} on {host}, since {since:%Y-%m-%d %H:%M:%S} UTC"
