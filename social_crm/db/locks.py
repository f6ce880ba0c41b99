"""Cluster-wide mutual exclusion on PostgreSQL advisory locks, named by strings.

SQLite needs none of this: one process writes a database file at a time (the daemon
refuses a second one on the same file), and its transactions take the whole file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

# Held around start-up migrations, so daemons starting together migrate once.
MIGRATIONS = "social-crm:migrations"


def lock_key(name: str) -> int:
    """The signed 64-bit advisory lock key of ``name`` (stable across processes)."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def serialise(bind: Session | Connection, *names: str, shared: Iterable[str] = ()) -> None:
    """Hold the advisory locks of ``names`` until the transaction ends (PostgreSQL only).

    Waits while another transaction holds one. The names in ``shared`` (and not in
    ``names``) are held in share mode: any number of transactions hold one together, and
    one holding it in ``names`` waits for them, they for it. The locks are taken in one
    fixed order (by key), so two transactions locking overlapping names never deadlock on
    them.
    """
    dialect = bind.get_bind().dialect if isinstance(bind, Session) else bind.dialect
    if dialect.name != "postgresql":
        return
    alone = {lock_key(name) for name in names}
    for key in sorted(alone | {lock_key(name) for name in shared}):
        function = "pg_advisory_xact_lock" if key in alone else "pg_advisory_xact_lock_shared"
        bind.execute(text(f"SELECT {function}(:key)"), {"key": key})
