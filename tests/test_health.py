"""Source health: failures logged once, auth failures disable one connector, silences alert once."""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.base import Source
from connectors.errors import AuthenticationError, RateLimitedError, TransientConnectorError
from connectors.registry import known_connectors
from social_crm.alerts import health, service
from social_crm.config import Settings, load_config
from social_crm.daemon import Daemon
from social_crm.db.base import utcnow
from social_crm.jobs import check_health, classify, deliver, escalate, link, poll, refresh
from social_crm.mentions.models import MentionRecord, SourceCursor
from social_crm.mentions.sources import BACKOFF_BASE_SECONDS, BACKOFF_MAX_SECONDS

from .clock import Clock
from .factories import BRAND
from .scripted_connector import ScriptedConnector, ScriptedSettings


class Collect:
    """A notifier that keeps what it was asked to send."""

    name = "collect"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, message) -> None:  # type: ignore[no-untyped-def]
        self.sent.append(message.subject)


def daemon_with(settings: Settings, *connectors: ScriptedConnector) -> tuple[Daemon, Collect]:
    notifier = Collect()
    daemon = Daemon(
        settings,
        connectors={f"c{i}": c for i, c in enumerate(connectors)},
        notifiers={"collect": notifier},
    )
    daemon.start()
    return daemon, notifier


def scripted(settings: Settings, network: str = "scripted") -> ScriptedConnector:
    return ScriptedConnector(
        ScriptedSettings(network=network), watches=[brand.watch() for brand in settings.brands]
    )


def test_a_failing_source_is_logged_once_backs_off_and_recovers_once(make_settings, caplog) -> None:
    settings = make_settings()
    connector = scripted(settings)
    daemon, _ = daemon_with(settings, connector)
    connector.failures = [TransientConnectorError("HTTP 503")]
    connector.post("anna", "hello")
    with caplog.at_level(logging.DEBUG, logger="social_crm.jobs"):
        assert poll(daemon.context, "c0") == 0
        for _ in range(5):
            poll(daemon.context, "c0")  # backing off: no request is made
        assert connector.fetches == 1
        with daemon.db.transaction() as session:  # the backoff has passed
            session.scalars(select(SourceCursor)).one().retry_at = None
        assert poll(daemon.context, "c0") == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    recovered = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert len(errors) == 1 and "HTTP 503" in errors[0].getMessage()
    assert len(recovered) == 1
    with daemon.db.transaction() as session:
        (row,) = health.report(session)
    assert (
        row.consecutive_failures == 0 and row.last_error == "HTTP 503" and row.items_last_hour == 1
    )
    daemon.close()


def test_refused_credentials_disable_one_connector_with_one_alert(make_settings, caplog) -> None:
    settings = make_settings()
    broken, working = scripted(settings, "broken"), scripted(settings, "working")
    daemon, notifier = daemon_with(settings, broken, working)
    broken.failures = [AuthenticationError("401 invalid_token")] * 3
    working.post("erik", "Nice machine")
    with caplog.at_level(logging.ERROR, logger="social_crm.jobs"):
        for _ in range(3):
            daemon.run_cycle()
        working.post("erik", "Still nice")
        daemon.run_cycle()
    assert broken.fetches == 1  # disabled after the first refusal
    assert working.fetches == 4  # the other connector goes on
    assert len([r for r in caplog.records if "disabled" in r.getMessage()]) == 1
    assert notifier.sent == [
        "[social-crm] health: connector c0 disabled: 401 invalid_token (fix its credentials and restart)"
    ]
    with daemon.db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(MentionRecord)) == 2
    daemon.close()


def test_credentials_refused_to_the_refresh_job_disable_the_connector_once(
    make_settings, caplog
) -> None:
    settings = make_settings()
    connector = scripted(settings)
    daemon, notifier = daemon_with(settings, connector)
    connector.post("anna", "hello")
    daemon.run_cycle()

    def refused(native_ids: object, *, locators: object = None) -> None:
        raise AuthenticationError("401 token revoked")

    connector.refresh = refused  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="social_crm.jobs"):
        assert refresh(daemon.context, "c0") == 0
        assert refresh(daemon.context, "c0") == 0
        daemon.run_cycle()
    assert connector.fetches == 1  # polling stopped too
    reason = "connector c0 disabled: 401 token revoked (fix its credentials and restart)"
    assert [r.getMessage() for r in caplog.records if r.name.startswith("social_crm.jobs")] == [
        reason
    ]
    assert notifier.sent == [f"[social-crm] health: {reason}"]
    daemon.close()


def test_a_long_refresh_pass_goes_in_turns_and_reads_each_mention_once(
    make_settings, monkeypatch
) -> None:
    job = importlib.import_module("social_crm.jobs.refresh")
    monkeypatch.setattr(job, "REFRESH_CHUNK", 2)
    monkeypatch.setattr(job, "TURN_SECONDS", 0.5)
    settings = make_settings()
    connector = scripted(settings)
    daemon, _ = daemon_with(settings, connector)
    posted = [connector.post("anna", f"post {number}") for number in range(12)]
    daemon.run_cycle()
    connector.edits[posted[-1]] = "post 11, edited"
    asked: list[list[str]] = []
    reread = connector.refresh

    def slow(native_ids, *, locators=None):  # type: ignore[no-untyped-def]
        asked.append(list(native_ids))
        time.sleep(0.2)  # a request per chunk, as to a real network
        return reread(native_ids, locators=locators)

    connector.refresh = slow  # type: ignore[method-assign]
    changed, runs = 0, 0
    while True:
        changed += refresh(daemon.context, "c0")
        runs += 1
        if "refresh:c0" not in daemon.context.run_again:
            break
        daemon.context.run_again.discard("refresh:c0")  # as the daemon does, running it again
        assert runs < 10
    # Six chunks at 0.2 s in turns of 0.5 s: several runs, none re-reading a mention.
    assert runs >= 2
    assert sorted(i for chunk in asked for i in chunk) == sorted(posted)
    assert changed == 1
    assert refresh(daemon.context, "c0") == 0  # a new pass starts from the window again
    assert len(asked) > 6
    daemon.close()


def test_items_are_counted_per_connector_when_two_share_a_source_key(make_settings) -> None:
    settings = make_settings()
    reddit, mastodon = scripted(settings, "reddit"), scripted(settings, "mastodon")
    daemon, _ = daemon_with(settings, reddit, mastodon)
    reddit.post("anna", "one")
    for text in ("two", "three"):
        mastodon.post("erik", text)
    daemon.run_cycle()
    with daemon.db.transaction() as session:
        rows = health.report(session, networks={"c0": "reddit", "c1": "mastodon"})
        assert [(r.connector, r.source, r.items_last_hour) for r in rows] == [
            ("c0", "Brewly:all", 1),
            ("c1", "Brewly:all", 2),
        ]
        unknown = health.report(session)  # without the map: the key's items, every network
        assert [r.items_last_day for r in unknown] == [3, 3]
    daemon.close()


def test_a_silent_source_raises_one_alert_and_recovery_resolves_it(make_settings, caplog) -> None:
    settings = make_settings(health={"silence_alert_hours": 6})
    connector = scripted(settings)
    daemon, notifier = daemon_with(settings, connector)
    poll(daemon.context, "c0")  # first poll: silence is measured from here
    assert check_health(daemon.context) == 0
    with daemon.db.transaction() as session:
        session.scalars(select(SourceCursor)).one().last_item_at = utcnow() - timedelta(hours=7)
    assert check_health(daemon.context) == 1
    assert check_health(daemon.context) == 0  # once, not every check
    deliver(daemon.context)
    assert len(notifier.sent) == 1 and "no new mention for 6 hours" in notifier.sent[0]
    with caplog.at_level(logging.INFO, logger="social_crm.alerts.health"):
        for text in ("back again", "and again"):
            connector.post("anna", text)
            poll(daemon.context, "c0", paced=False)
    recovered = [r for r in caplog.records if "receiving mentions again" in r.getMessage()]
    assert len(recovered) == 1  # logged once, not on every poll that finds something
    with daemon.db.transaction() as session:
        (alert,) = service.list_alerts(session)
        assert alert.kind == "health" and alert.status == "resolved"
        assert health.report(session)[0].state == "ok"
    daemon.close()


def test_edits_and_deletions_reach_the_stored_mentions(make_settings) -> None:
    settings = make_settings()
    connector = scripted(settings)
    daemon, _ = daemon_with(settings, connector)
    kept, edited, gone = (
        connector.post("anna", t) for t in ("I love it", "It is fine", "Awful, I hate it")
    )
    daemon.run_cycle()
    connector.edits[edited] = "Actually it is terrible, I hate it"
    connector.deleted.add(gone)
    assert refresh(daemon.context, "c0") == 2
    assert refresh(daemon.context, "c0") == 0  # nothing changes twice
    for step in (classify, link, escalate):
        step(daemon.context)
    with daemon.db.transaction() as session:
        rows = {m.native_id: m for m in session.scalars(select(MentionRecord))}
        assert rows[gone].text == "" and rows[gone].deleted_at is not None
        assert rows[edited].text.startswith("Actually") and rows[edited].edited_at is not None
        assert rows[edited].sentiment is not None and rows[edited].sentiment.label == "negative"
        assert rows[kept].edited_at is None
    daemon.close()


def test_status_prints_every_source(make_settings, write_config) -> None:
    settings = make_settings()
    connector = scripted(settings)
    daemon, _ = daemon_with(settings, connector)
    connector.post("anna", "hello")
    poll(daemon.context, "c0")
    daemon.close()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "social_crm.cli",
            "status",
            "--config",
            str(write_config(database={"url": settings.database_url})),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if "Brewly:all" in line)
    assert "ok" in line and "s ago" in line


def test_a_third_party_connector_installs_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_config
) -> None:
    dist = tmp_path / "social_crm_scripted-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: social-crm-scripted\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text(
        textwrap.dedent("""
        [social_crm.connectors]
        scripted = tests.scripted_connector:ScriptedConnector
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "scripted" in known_connectors()
    settings = load_config(
        write_config(
            brands=[BRAND],
            connectors={"mine": {"type": "scripted", "network": "plugin"}},
            database={"url": f"sqlite:///{tmp_path / 'db.sqlite'}"},
        )
    )
    daemon = Daemon(settings)
    daemon.start()
    assert isinstance(daemon.context.connectors["mine"], ScriptedConnector)
    assert daemon.context.connectors["mine"].network == "plugin"
    daemon.close()


class PagedConnector(ScriptedConnector):
    """Pages of 10 items: pacing has a page to fill."""

    def sources(self) -> list[Source]:
        return [Source(key=f"{self.brand}:all", brand=self.brand, page_size=10)]


def test_quiet_sources_are_polled_less_often_and_busy_ones_at_the_configured_pace(
    make_settings,
) -> None:
    settings = make_settings(connectors={})
    connector = PagedConnector(
        ScriptedSettings(), watches=[brand.watch() for brand in settings.brands]
    )
    clock = Clock()
    daemon = Daemon(settings, connectors={"c0": connector}, notifiers={}, now=clock)
    daemon.start()
    for _ in range(600):  # ten virtual minutes, the poll job every second... of a 60 s floor
        poll(daemon.context, "c0")
        clock.now += 1
    quiet = connector.fetches
    assert 2 <= quiet <= 5  # intervals grew from 60 s towards the 600 s ceiling
    for second in range(1200):  # now 20 new items a minute: a page of 10 fills in 30 s
        if second == 600:
            connector.fetches = 0  # the pace has settled: count the last ten minutes
        if clock.now % 3 == 0:
            connector.post("anna", "busy")
        poll(daemon.context, "c0")
        clock.now += 1
    assert 9 <= connector.fetches <= 11  # back to the 60 s floor, never faster
    daemon.close()


def test_failures_back_off_exponentially_with_jitter_to_a_cap_and_429s_wait_their_time(
    make_settings,
) -> None:
    settings = make_settings()
    connector = scripted(settings)
    clock = Clock()
    daemon = Daemon(settings, connectors={"c0": connector}, notifiers={}, now=clock)
    daemon.start()
    connector.failures = [TransientConnectorError("HTTP 503")] * 11
    connector.failures.append(RateLimitedError("HTTP 429", retry_after=120.0))
    attempts: list[float] = []
    while len(attempts) < 13:  # the poll job, every simulated second
        before = connector.fetches
        poll(daemon.context, "c0")
        if connector.fetches > before:
            attempts.append(clock.now)
        clock.now += 1
    gaps = [later - earlier for earlier, later in zip(attempts, attempts[1:], strict=False)]
    for failures, gap in enumerate(gaps[:11], start=1):
        delay = min(BACKOFF_BASE_SECONDS * 2 ** (failures - 1), BACKOFF_MAX_SECONDS)
        assert delay * 0.8 <= gap <= delay * 1.2 + 1, (failures, gaps)
    assert len({gap for gap in gaps[8:11]}) > 1  # jittered, not in lockstep
    assert gaps[11] == 120  # the 429's own time, not the backoff
    assert not connector.failures  # the thirteenth poll succeeded
    daemon.close()


def test_a_second_process_picks_a_source_up_where_the_first_left_it(make_settings) -> None:
    settings = make_settings()
    first_connector, second_connector = scripted(settings), scripted(settings)
    first, _ = daemon_with(settings, first_connector)
    second, _ = daemon_with(settings, second_connector)
    first_connector.failures = [TransientConnectorError("HTTP 503")]
    poll(first.context, "c0")
    first.close()  # the source's lease goes with it: the second takes the source over
    assert poll(second.context, "c0") == 0  # backing off, as the first process left it
    assert second_connector.fetches == 0
    with second.db.transaction() as session:
        row = session.scalars(select(SourceCursor)).one()
        assert row.consecutive_failures == 1 and row.retry_at is not None
        row.retry_at = None  # the backoff has passed
    second_connector.post("anna", "hello")
    assert poll(second.context, "c0") == 1
    second.close()
    restarted, _ = daemon_with(settings, first_connector)
    first_connector.post("anna", "hello again")
    assert poll(restarted.context, "c0") == 0  # paced by the second process's poll
    assert first_connector.fetches == 1
    with restarted.db.transaction() as session:
        row = session.scalars(select(SourceCursor)).one()
        assert row.retry_at is None and row.poll_interval_seconds == 60.0
        assert row.next_poll_at is not None and row.next_poll_at > utcnow()
    restarted.close()


def test_a_restart_enables_a_connector_disabled_for_refused_credentials(
    make_settings, caplog
) -> None:
    settings = make_settings()
    connector = scripted(settings)
    daemon, notifier = daemon_with(settings, connector)
    connector.failures = [AuthenticationError("401 invalid_token")]
    poll(daemon.context, "c0")
    with daemon.db.transaction() as session:
        (row,) = session.scalars(select(SourceCursor))
        assert row.disabled_at is not None and "fix its credentials" in row.disabled_reason
    daemon.close()
    connector.post("anna", "hello")
    with caplog.at_level(logging.INFO, logger="social_crm.daemon"):
        restarted, _ = daemon_with(settings, connector)  # credentials fixed, daemon restarted
    assert "connector c0 enabled again at start-up" in caplog.messages
    assert poll(restarted.context, "c0", paced=False) == 1
    with restarted.db.transaction() as session:
        (row,) = session.scalars(select(SourceCursor))
        assert row.disabled_at is None and row.disabled_reason is None
    restarted.close()
