"""The daemon meets its database or a network going away for a while: PostgreSQL connections
terminated, the fake Reddit unreachable, the SQLite file locked by another process, the
disk under it full. It says so in one clear line, waits or retries, and loses nothing."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from social_crm.config import load_config
from social_crm.daemon import Daemon
from social_crm.db import watermarks
from social_crm.db.watermarks import Watermark

from ..daemons import wait_for
from .harness import FaultWorld, Report, fresh_schema, table, terminate_connections

# What a log must not show after an outage: a traceback, a job's crash, a key written twice.
TROUBLE = re.compile(r"Traceback|IntegrityError|UniqueViolation|duplicate key|deadlock")


def settle(world: FaultWorld) -> Report:
    """Drain, check, print the row; the report, checked to be clean."""
    world.drain()
    report = world.report()
    print(f"\n{table([report])}")
    assert report.published > 0 and report.alerts > 0, report
    assert not report.problems, "\n".join(report.problems)
    return report


# -- SQLite: two writers in one daemon, another process holding the file --------------------


def test_the_daemons_threads_write_to_sqlite_one_after_the_other(
    write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """The heartbeat (main thread) and a job (worker) both write: a transaction that read
    first still writes after the other committed, instead of failing "database is locked"."""
    config = write_config(database={"url": f"sqlite:///{tmp_path / 'crm.sqlite'}"})
    db = Daemon(load_config(config)).db
    db.upgrade()
    now = datetime.now(UTC)
    job_read, failures = threading.Event(), []

    def job() -> None:
        try:
            with db.transaction() as session:
                session.scalars(select(Watermark)).all()
                job_read.set()
                time.sleep(0.5)  # the heartbeat comes now
                watermarks.put(session, "job", now)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    def heartbeat() -> None:
        job_read.wait()
        try:
            with db.transaction() as session:
                watermarks.put(session, "beat", now)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=job), threading.Thread(target=heartbeat)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures
    with db.transaction() as session:
        assert {"job", "beat"} <= {row.name for row in session.scalars(select(Watermark))}
    db.close()


HOLD_LOCK = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
"""


def test_a_sqlite_file_locked_by_another_process_makes_the_daemon_wait(tmp_path: Path) -> None:
    database = tmp_path / "crm.sqlite"
    with FaultWorld(tmp_path, f"sqlite:///{database}", name="sqlite locked 6 s") as world:
        world.start()
        time.sleep(2)
        holder = subprocess.Popen(
            [sys.executable, "-c", HOLD_LOCK, str(database), "6"], stdout=subprocess.PIPE
        )
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        holder.wait(timeout=30)
        time.sleep(2)
        settle(world)
        log = world.logs()
    waits = re.findall(r"WARNING .*waited (\d+\.\d) s for the write lock of (\S+): .*", log)
    assert len(waits) == 1 and float(waits[0][0]) >= 4 and waits[0][1] == str(database), waits
    assert not TROUBLE.search(log), log


# -- the disk under the SQLite file fills up ------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs mounted for the test; skipped where mounting is not permitted."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` to the last byte; the file that fills it."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(descriptor, b"\0" * size)
    finally:
        os.close(descriptor)
    return filler


def test_a_full_disk_stops_storing_with_one_error_and_storing_resumes_once_freed(
    small_disk: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{small_disk / 'crm.sqlite'}"
    with FaultWorld(tmp_path, url, name="sqlite disk full 8 s") as world:
        world.start()
        time.sleep(2)
        filler = fill(small_disk)
        full_at = len(world.publisher.items())
        time.sleep(8)
        filler.unlink()
        settle(world)
        log = world.logs()
    assert full_at < len(world.publisher.items())  # published while the disk was full
    errors = [line for line in log.splitlines() if " ERROR " in line]
    assert len(errors) == 1 and "database or disk is full" in errors[0], errors
    assert re.search(r"INFO .*the database works again", log), log
    assert not TROUBLE.search(log), log


# -- PostgreSQL connections terminated, a network unreachable ---------------------------------


@pytest.mark.postgres
def test_postgresql_connections_terminated_mid_run_are_reconnected(
    tmp_path: Path, pg_server: str
) -> None:
    with (
        fresh_schema(pg_server) as url,
        FaultWorld(tmp_path, url, processes=2, name="pg_terminate_backend x3") as world,
    ):
        world.start()
        ended = []
        for _ in range(3):
            time.sleep(2.5)
            ended.append(terminate_connections(url))
        settle(world)
        log = world.logs()
    print(f"connections terminated: {ended}")
    assert all(ended), ended
    # A connection ended while idle is replaced unseen; one ended in a transaction fails
    # that job once, in one line, until the next heartbeat writes again.
    failures = re.findall(r"ERROR .*the database failed.*", log)
    recoveries = re.findall(r"INFO .*the database works again", log)
    assert len(recoveries) == len(failures), (failures, recoveries)


def test_reddit_unreachable_for_ten_seconds_backs_off_and_resumes(tmp_path: Path) -> None:
    with FaultWorld(
        tmp_path, f"sqlite:///{tmp_path / 'crm.sqlite'}", name="reddit away 10 s"
    ) as world:
        world.start()
        time.sleep(2)
        door = world.slots[0].door
        door.close()
        away_at = len(world.publisher.items())
        time.sleep(10)
        door.open()
        failed = re.findall(r"ERROR .*source (reddit/\S+) failed \(1 in a row", world.logs())
        wait_for(
            lambda: (
                set(re.findall(r"INFO .*source (reddit/\S+) recovered", world.logs()))
                == set(failed)
            ),
            timeout=60,
            what="every failed Reddit source to recover",
        )
        settle(world)
        log = world.logs()
    assert away_at < len(world.publisher.items())
    # Each source failed with one line, backed off, and said once that it recovered.
    assert len(failed) == len(set(failed)) == 4, failed
    assert re.findall(r"ERROR .*source (reddit/\S+) failed", log) == failed
