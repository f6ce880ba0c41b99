"""Truthful operations: failing sources, the daemon's heartbeat, signals, logs, blocked jobs."""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES
from apscheduler.schedulers.background import BackgroundScheduler

from connectors.errors import TransientConnectorError
from social_crm.alerts import service
from social_crm.daemon import BlockedJobs, Daemon
from social_crm.jobs import poll
from social_crm.mentions.ingest import load_cursor

from .clock import Clock
from .scripted_connector import ScriptedConnector, ScriptedSettings

ISO_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) \S+: "
)


def test_a_failing_source_is_logged_at_a_steady_pace_and_raises_one_alert(
    make_settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(health={"failing_alert_minutes": 60, "failing_log_minutes": 15})
    connector = ScriptedConnector(
        ScriptedSettings(network="scripted"), watches=[b.watch() for b in settings.brands]
    )
    connector.failures = [TransientConnectorError("HTTP 503")] * 10_000
    clock = Clock()
    daemon = Daemon(settings, connectors={"c0": connector}, notifiers={"team": _Null()}, now=clock)
    daemon.start()
    with caplog.at_level(logging.DEBUG, logger="social_crm"):
        for _ in range(180):  # three hours of the poll job, every 60 s as the daemon runs it
            poll(daemon.context, "c0")
            clock.now += 60
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    # Logged when it starts failing and then about every 15 minutes, not on every attempt.
    attempts = 10_000 - len(connector.failures)
    assert 7 <= len(errors) <= 13 and len(errors) < attempts - 5, errors
    assert "retrying in 60 s" in errors[0]  # a 5 s backoff waits for the next 60 s run
    delays = [float(m) for e in errors for m in re.findall(r"retrying in (\d+) s", e)]
    assert all(delay % 60 == 0 for delay in delays), delays
    with daemon.db.transaction() as session:
        health_alerts = service.list_alerts(session, kind="health")
    assert len(health_alerts) == 1
    # Raised by the first failed attempt past the hour (attempts are ~15 min apart by then).
    failed_for = re.search(r"has failed for (\d+) minutes", health_alerts[0].reason)
    assert failed_for and 60 <= int(failed_for.group(1)) <= 80, health_alerts[0].reason

    # A restarted daemon says at once that the source is still failing (after taking it
    # over: the first daemon, never stopped, left its lease to run out).
    caplog.clear()
    again = Daemon(settings, connectors={"c0": connector}, notifiers={"team": _Null()}, now=clock)
    again.start()
    # Its first attempt comes when the backoff ends (900 s, jittered) and the lease is free.
    with again.db.transaction() as session:
        retry_at = load_cursor(session, "c0", "Brewly:all").retry_at
    clock.now = max(clock.now + 900, (retry_at - clock.start).total_seconds() + 1)
    with caplog.at_level(logging.DEBUG, logger="social_crm"):
        poll(again.context, "c0")
    logged = [r.getMessage() for r in caplog.records if "c0/" in r.getMessage()]
    assert "taken over" in logged[0]
    assert [r.levelno for r in caplog.records if "c0/" in r.getMessage()][1:] == [logging.ERROR]

    # Once it works again, the alert its failures raised is resolved: no one chases a fixed source.
    connector.failures = []
    clock.now += 3600
    poll(again.context, "c0")
    with again.db.transaction() as session:
        (alert,) = service.list_alerts(session, kind="health")
    assert alert.status == "resolved"
    daemon.close()
    again.close()


class _Null:
    name = "team"

    def send(self, message: object) -> None:
        """Accept everything."""


def test_a_blocked_job_is_reported_once_not_per_skipped_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    blocked = BlockedJobs()
    logging.getLogger("apscheduler.scheduler").addFilter(blocked)
    scheduler = BackgroundScheduler()
    scheduler.add_listener(
        blocked.on_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
    )
    release = threading.Event()
    scheduler.add_job(release.wait, "interval", args=[1.5], id="slow", seconds=0.05)
    try:
        with caplog.at_level(logging.INFO):
            scheduler.start()
            time.sleep(2.5)
            scheduler.shutdown(wait=True)
    finally:
        logging.getLogger("apscheduler.scheduler").removeFilter(blocked)
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "maximum number of running instances" in m]
    # One line per blocked stretch (each 1.5 s run), however many runs it skipped.
    blocked_lines = [m for m in messages if "job slow is still running" in m]
    skipped = [int(n) for m in messages for n in re.findall(r"finished; (\d+) run", m)]
    assert 1 <= len(blocked_lines) <= 2 and len(skipped) >= len(blocked_lines) - 1
    assert sum(skipped) >= 10 * len(blocked_lines), messages


def _daemon(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "social_crm.cli", *args, "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
    )


def _wait_for(process: subprocess.Popen[str], text: str, seen: list[str]) -> None:
    assert process.stderr is not None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"{text!r} never logged: {''.join(seen)}")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_start_up_exits_0(write_config, db_url: str, signum: int) -> None:
    # The real default model: loading it is the longest part of start-up.
    config = write_config(database={"url": db_url}, sentiment={}, connectors={})
    process = _daemon(config, "run")
    seen: list[str] = []
    _wait_for(process, "database ", seen)  # migrating, then loading the model
    process.send_signal(signum)
    _, rest = process.communicate(timeout=120)
    log = "".join(seen) + rest
    assert process.returncode == 0, log
    assert "stopped during start-up" in log and "Traceback" not in log


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_status_says_whether_a_daemon_runs_and_logs_to_a_pipe_are_plain_lines(
    write_config, db_url: str
) -> None:
    config = write_config(
        database={"url": db_url}, connectors={}, scheduler={"heartbeat_seconds": 1}
    )

    def status() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "social_crm.cli", "status", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "COLUMNS": "80"},
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "no daemon seen yet" in status()
    process = _daemon(config, "run")
    seen: list[str] = []
    _wait_for(process, "daemon running", seen)
    time.sleep(1.5)
    shown = status()
    assert re.search(rf"daemon running since .*\(pid {process.pid}, .+, version \S+\)", shown)
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "no daemon seen since" in status()
    lines = [line for line in ("".join(seen) + rest).splitlines() if line]
    # Piped: plain lines with ISO-8601 timestamps, no warning in a healthy run.
    assert all(ISO_LINE.match(line) for line in lines), lines
    assert not [line for line in lines if " WARNING " in line or " ERROR " in line], lines
