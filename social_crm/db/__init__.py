"""Engines, sessions and migrations: SQLite (WAL) by default, PostgreSQL by URL."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, Insert, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from social_crm.db import locks
from social_crm.errors import ConfigError, DatabaseUnavailable

LOGGER = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# How long a SQLite transaction waits for another's write lock before it fails.
SQLITE_BUSY_SECONDS = 30.0
# A wait for the write lock this long is logged (once a minute at most): another process
# holds the file.
SQLITE_WAIT_LOGGED_SECONDS = 1.0


def create_db_engine(url: str, *, immediate: bool = False) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys and a busy timeout.

    ``immediate``: each SQLite transaction takes the write lock as it begins (``BEGIN
    IMMEDIATE``, waiting up to the busy timeout), for a process that writes from several
    threads while other processes write too (the daemon). A transaction begun plainly reads
    from a snapshot and cannot write once another connection has written since: SQLite
    refuses at once ("database is locked"), without waiting.

    A URL that is not one, names an unknown database or lacks its driver is a ConfigError.
    """
    try:
        return _create_engine(url, immediate=immediate)
    except NoSuchModuleError:
        raise ConfigError(
            f"database URL {masked(url)}: unsupported database "
            f"{make_url(url).drivername!r}; use sqlite:/// or postgresql://"
        ) from None
    except ArgumentError:
        raise ConfigError(f"database URL {masked(url)!r} is not a database URL") from None
    except ImportError as exc:
        raise ConfigError(
            f"database URL {masked(url)}: its driver is not installed ({exc})"
        ) from None
    except OSError as exc:
        raise DatabaseUnavailable(f"database {masked(url)}: {exc.strerror}") from None


def masked(url: str) -> str:
    """``url`` with any password replaced by ***, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("@")[-1] if "@" in url else url


def _create_engine(url: str, *, immediate: bool) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _SqliteImmediateBegin() if immediate else _sqlite_begin)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.get_driver_name() in ("", "psycopg2"):
        # psycopg 3 is the driver we install; plain postgresql:// URLs use it too.
        parsed = parsed.set(drivername="postgresql+psycopg")
        url = str(parsed.render_as_string(False))
    connect_args: dict[str, Any] = {}
    if parsed.get_driver_name() == "psycopg":
        # No server-side prepared statements: PostgreSQL would keep a statement's generic
        # plan, made while the tables were empty (a fresh install, or a schema just
        # migrated), for the connection's lifetime, until an ANALYZE happens to replace it.
        # A work-queue claim planned for empty tables reads every stored row per batch
        # (measured: 1.4 s a batch at 6,000 mentions). Planned each time, it follows the
        # tables as they grow.
        connect_args["prepare_threshold"] = None
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    """Set the pragmas, then leave transactions to SQLAlchemy (``_sqlite_begin``).

    pysqlite on its own begins a transaction only before INSERT/UPDATE/DELETE, so DDL ran
    outside any transaction: a migration killed half-way left half a schema behind. With
    its own BEGIN off, every transaction (migrations and SAVEPOINTs included) is atomic.
    """
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # outside a transaction, where it takes effect
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
    dbapi_connection.isolation_level = None


def _sqlite_begin(connection: Connection) -> None:
    """Open the transaction SQLAlchemy begins, as PostgreSQL would, DDL included."""
    connection.exec_driver_sql("BEGIN")


class _SqliteImmediateBegin:
    """Open each transaction holding the write lock; a long wait for it is logged."""

    def __init__(self) -> None:
        self._logged_at = float("-inf")

    def __call__(self, connection: Connection) -> None:
        began = time.monotonic()
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        waited = time.monotonic() - began
        if waited >= SQLITE_WAIT_LOGGED_SECONDS and began - self._logged_at >= 60:
            self._logged_at = began
            LOGGER.warning(
                "waited %.1f s for the write lock of %s: another process held it",
                waited,
                connection.engine.url.database,
            )


def failure(exc: DBAPIError) -> str:
    """The driver's first line of a database error ("connection refused", "database or disk
    is full"): no SQL, no parameters, fit for one log line."""
    lines = str(exc.orig).strip().splitlines() if exc.orig is not None else []
    return lines[0] if lines else type(exc).__name__


def insert_ignoring_duplicates(session: Session, table: type[DeclarativeBase]) -> Insert:
    """An INSERT into ``table`` that skips rows whose unique key is taken (ON CONFLICT DO
    NOTHING on PostgreSQL, INSERT OR IGNORE on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


class Database:
    """The engine and a session factory; ``transaction()`` commits or rolls back as one."""

    def __init__(self, url: str, *, immediate: bool = False) -> None:
        """``immediate``: see :func:`create_db_engine`."""
        self.url = url
        self.engine = create_db_engine(url, immediate=immediate)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite takes one writer at a time. This process's threads queue for it here and
        # are handed it as soon as it is free; SQLite's own wait, for other processes,
        # polls for the lock with sleeps of up to 100 ms.
        self._writer: AbstractContextManager[Any] = (
            threading.RLock()
            if immediate and self.engine.dialect.name == "sqlite"
            else nullcontext()
        )

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work is committed together at the end, or not at all."""
        with self._writer, self._sessions.begin() as session:
            yield session

    def ping(self) -> None:
        """Connect once; raise DatabaseUnavailable, naming the cause, if that fails."""
        try:
            with self.engine.connect():
                pass
        except DBAPIError as exc:
            raise DatabaseUnavailable(
                f"database {self.describe()} unavailable: {failure(exc)}"
            ) from None

    def upgrade(self) -> None:
        """Apply every migration not yet applied.

        On PostgreSQL under an advisory lock, so daemons starting together migrate once:
        the others wait, then find the schema at its head.
        """
        with self.engine.begin() as connection:
            locks.serialise(connection, locks.MIGRATIONS)
            config = AlembicConfig()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def describe(self) -> str:
        """The URL with any password hidden, for logs."""
        return masked(self.url)
