"""Daemons SIGKILLed at random moments of polling, classification, escalation, delivery and
reply sending, and started again: nothing is lost, stored twice, alerted twice, delivered
twice by key, or posted twice; no source is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import STAGES, FaultWorld, table


def run_kills(root: Path, db_url: str, *, processes: int, kills: int, name: str) -> None:
    with FaultWorld(root, db_url, processes=processes, seed=kills, name=name) as world:
        world.start()
        for stage in STAGES[: min(kills, len(STAGES))]:  # each stage once, then at random
            world.kill(stage)
        world.kill_all(max(0, kills - len(STAGES)))
        world.drain()
        report = world.report()
    print(f"\n{table([report])}\nstages: {dict(report.stages)}")
    assert report.kills == kills
    assert report.published > 0 and report.alerts > 0 and report.replies > 0, report
    assert not report.problems, "\n".join(report.problems)


def test_one_daemon_on_sqlite_killed_in_each_stage(tmp_path: Path) -> None:
    run_kills(
        tmp_path, f"sqlite:///{tmp_path / 'crm.sqlite'}", processes=1, kills=6, name="sqlite x1"
    )


@pytest.mark.postgres
def test_three_daemons_on_postgresql_killed_in_each_stage(tmp_path: Path, pg_url: str) -> None:
    run_kills(tmp_path, pg_url, processes=3, kills=6, name="postgresql x3")
