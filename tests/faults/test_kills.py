"""Daemons SIGKILLed at random moments of polling, classification, escalation, delivery and
reply sending, and started again: nothing is lost, stored twice, alerted twice, delivered
twice by key, or posted twice; no source is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from social_crm.mentions.models import SourceCursor

from ..daemons import wait_for
from .harness import FaultWorld, Report, aimed, run_kills, table

# The long runs take minutes each on a 2-core machine.
LONG_RUN_SECONDS = 1800


def checked(report: Report, *, kills: int) -> None:
    """Print the run's row; fail on any broken invariant."""
    print(f"\n{table([report])}\nkills that found their stage: {aimed(report)}")
    assert report.kills == kills
    assert report.published > 0 and report.alerts > 0 and report.replies > 0, report
    assert not report.problems, "\n".join(report.problems)


def test_one_daemon_on_sqlite_killed_in_each_stage(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    checked(run_kills(tmp_path, url, processes=1, kills=6, name="sqlite x1"), kills=6)


@pytest.mark.postgres
def test_three_daemons_on_postgresql_killed_in_each_stage(tmp_path: Path, pg_url: str) -> None:
    checked(run_kills(tmp_path, pg_url, processes=3, kills=6, name="postgresql x3"), kills=6)


def test_a_daemon_started_again_after_a_kill_on_sqlite_polls_every_source_at_once(
    tmp_path: Path,
) -> None:
    """The killed daemon's last heartbeat is recent, but the file's lock says it is gone:
    its successor takes every source at once, not a share beside a dead daemon."""
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    with FaultWorld(tmp_path, url, scheduler={"heartbeat_seconds": 30}) as world:
        world.start()
        world.kill("random")
        slot = world.slots[0]
        assert slot.process is not None
        pid = slot.process.pid

        def holders() -> set[str | None]:
            with world.db.transaction() as session:
                return set(session.scalars(select(SourceCursor.lease_owner)))

        wait_for(
            lambda: {owner and owner.split(":")[1] for owner in holders()} == {str(pid)},
            timeout=10,
            what="the new daemon to hold every source",
        )
        log = slot.process.text()
    assert "left to another daemon" not in log, log
    assert "the daemon before this one stopped without saying so" in log, log


@pytest.mark.slow
@pytest.mark.timeout(LONG_RUN_SECONDS)
def test_one_daemon_on_sqlite_killed_fifty_times(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    report = run_kills(tmp_path, url, processes=1, kills=50, seed=50, name="sqlite x1, 50 kills")
    checked(report, kills=50)


@pytest.mark.slow
@pytest.mark.postgres
@pytest.mark.timeout(LONG_RUN_SECONDS)
def test_three_daemons_on_postgresql_killed_fifty_times(tmp_path: Path, pg_url: str) -> None:
    report = run_kills(
        tmp_path, pg_url, processes=3, kills=50, seed=53, name="postgresql x3, 50 kills"
    )
    checked(report, kills=50)
