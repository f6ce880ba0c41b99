"""Every mistake a person can make, and every dependency that is missing, is one line."""

from __future__ import annotations

import logging
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from social_crm.config import load_config
from social_crm.daemon import Daemon
from social_crm.db import Database, heartbeats
from social_crm.db.base import utcnow
from social_crm.mentions.ingest import load_cursor

from .commands import one_error_line, social_crm
from .factories import BRAND

SECRET_CONNECTORS = {
    "reddit": {
        "client_id": "${H5_REDDIT_ID}",
        "client_secret": "${H5_REDDIT_SECRET}",
        "user_agent": "test",
    },
    "mastodon": {"api_base_url": "https://m.example", "access_token": "${H5_MASTODON_TOKEN}"},
}


@pytest.fixture
def sqlite_config(write_config, tmp_path: Path) -> Path:
    return write_config(database={"url": f"sqlite:///{tmp_path / 'crm.sqlite'}"})


def test_a_config_that_is_a_folder_or_not_utf8_is_one_line(tmp_path: Path) -> None:
    line = one_error_line(social_crm("alerts", "list", "--config", str(tmp_path)))
    assert f"{tmp_path}: is a directory" in line
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"brands:\n  - name: Caf\xe9\n")
    line = one_error_line(social_crm("alerts", "list", "--config", str(latin)))
    assert f"{latin}: not UTF-8 text" in line


def test_config_errors_name_their_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("brands:\n  - name: Brewly\nsentiment: [lexicon\n")
    line = one_error_line(social_crm("run", "--config", str(broken)))
    assert f"{broken}: line 4: not valid YAML" in line
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(
        "brands:\n  - name: Brewly\nsentiment:\n  model: lexicon\nescalation:\n"
        "  negative_threshold: 0.6\n  threshold: 0.5\n"
    )
    line = one_error_line(social_crm("run", "--config", str(wrong)))
    assert line == f"error: {wrong}: escalation.threshold: unknown key (line 7)"


def test_every_unset_environment_variable_is_reported_at_once(write_config) -> None:
    path = write_config(brands=[BRAND], connectors=SECRET_CONNECTORS)
    lines = path.read_text().splitlines()
    line = one_error_line(social_crm("run", "--config", str(path)))
    for name, key in (
        ("H5_REDDIT_ID", "connectors.reddit.client_id"),
        ("H5_REDDIT_SECRET", "connectors.reddit.client_secret"),
        ("H5_MASTODON_TOKEN", "connectors.mastodon.access_token"),
    ):
        number = next(i for i, text in enumerate(lines, 1) if "${" + name + "}" in text)
        assert f"{key}: environment variable {name} is not set (line {number})" in line, line


def test_commands_that_never_reach_the_networks_run_without_their_secrets(
    write_config, tmp_path: Path
) -> None:
    path = write_config(
        brands=[BRAND],
        connectors=SECRET_CONNECTORS,
        database={"url": f"sqlite:///{tmp_path / 'crm.sqlite'}"},
    )
    assert yaml.safe_load(path.read_text())["connectors"]["reddit"]["client_id"].startswith("${")
    for command in (
        ("alerts", "list"),
        ("customers", "export"),
        ("ambassadors", "list"),
        ("classify", "I love it"),
        ("status",),
    ):
        result = social_crm(*command, "--config", str(path))
        assert result.returncode == 0, (command, result.stderr)
        assert "Traceback" not in result.stderr


def test_health_runs_without_the_connectors_secrets_and_run_still_needs_them(
    write_config, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'crm.sqlite'}"
    mastodon = {**SECRET_CONNECTORS["mastodon"], "enabled": False}
    path = write_config(
        brands=[BRAND],
        connectors={**SECRET_CONNECTORS, "mastodon": mastodon},
        database={"url": url},
    )
    db = Database(url)
    db.upgrade()
    now = utcnow()
    with db.transaction() as session:
        heartbeats.start(session, interval_seconds=30, now=now)
        load_cursor(session, "reddit", "Brewly:search").last_success_at = now
        ignored = load_cursor(session, "mastodon", "Brewly:tag:brewly")  # not enabled
        ignored.consecutive_failures, ignored.last_error = 12, "HTTP 503"
        ignored.failing_since = now - timedelta(minutes=75)
    # The reddit secrets are unset; the (disabled) mastodon token is set and never shown.
    env = {"H5_MASTODON_TOKEN": "hunter2-token"}
    healthy = social_crm("health", "--config", str(path), env=env)
    assert (healthy.returncode, healthy.stderr) == (0, "")
    assert healthy.stdout == "healthy: 1 daemon(s) running, 1 source(s)\n"

    with db.transaction() as session:
        failing = load_cursor(session, "reddit", "Brewly:search")
        failing.consecutive_failures, failing.last_error = 12, "HTTP 503"
        failing.failing_since = now - timedelta(minutes=75)
    db.close()
    unhealthy = social_crm("health", "--config", str(path), env=env)
    assert (unhealthy.returncode, unhealthy.stderr) == (1, "")
    assert unhealthy.stdout.splitlines() == [
        "unhealthy: source reddit/Brewly:search has failed for 75 minutes (12 polls in a row): "
        "HTTP 503"
    ]

    refused = social_crm("run", "--config", str(path), env=env)
    line = one_error_line(refused)
    assert "connectors.reddit.client_id: environment variable H5_REDDIT_ID is not set" in line
    assert "connectors.reddit.client_secret: environment variable H5_REDDIT_SECRET" in line
    assert "hunter2" not in refused.stderr + refused.stdout
    assert "hunter2" not in healthy.stdout + unhealthy.stdout


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("bogus://somewhere/db", "unsupported database 'bogus'; use sqlite:/// or postgresql://"),
        ("mysql://crm:hunter2@db.example/crm", "mysql://crm:***@db.example/crm: its driver"),
        ("postgresql://crm:hunter2@127.0.0.1:1/crm", "postgresql://crm:***@127.0.0.1:1/crm"),
        ("not a database", "'not a database' is not a database URL"),
    ],
)
def test_an_unusable_database_is_one_line_with_the_password_masked(
    write_config, url: str, expected: str
) -> None:
    path = write_config(brands=[BRAND], database={"url": url})
    result = social_crm("alerts", "list", "--config", str(path))
    line = one_error_line(result)
    assert expected in line
    assert "hunter2" not in result.stderr


def test_the_daemon_waits_for_a_database_that_is_down(
    write_config, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("social_crm.daemon.DATABASE_RETRY_SECONDS", (0.05, 0.1))
    path = write_config(database={"url": "postgresql://crm:hunter2@127.0.0.1:1/crm"})
    daemon = Daemon(load_config(path))
    caplog.set_level(logging.WARNING, logger="social_crm.daemon")
    runner = threading.Thread(target=daemon.run, kwargs={"handle_signals": False})
    runner.start()
    deadline = time.monotonic() + 30
    while len(caplog.records) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    daemon.stop()
    runner.join(timeout=10)
    assert not runner.is_alive()
    waits = [record.getMessage() for record in caplog.records]
    assert len(waits) >= 3, waits
    for message in waits:
        assert "\n" not in message and "hunter2" not in message
        assert "postgresql://crm:***@127.0.0.1:1/crm unavailable" in message
        assert "retrying in" in message


@pytest.mark.parametrize(
    ("option", "value", "valid"),
    [
        ("--status", "closed", "'open', 'acknowledged', 'resolved'"),
        ("--severity", "urgent", "'low', 'medium', 'high', 'critical'"),
        ("--kind", "spike", "'mention', 'crisis', 'health'"),
    ],
)
def test_an_unknown_filter_value_lists_the_valid_ones(
    sqlite_config: Path, option: str, value: str, valid: str
) -> None:
    result = social_crm("alerts", "list", option, value, "--config", str(sqlite_config))
    line = one_error_line(result, code=2)
    assert f"'{value}' is not one of {valid}" in line


def test_a_model_that_does_not_exist_fails_at_once_offline() -> None:
    started = time.monotonic()
    result = social_crm(
        "classify", "hello", "--model", "nobody/no-such-model", env={"HF_HUB_OFFLINE": "1"}
    )
    line = one_error_line(result)
    assert "cannot load 'nobody/no-such-model'" in line and "offline" in line
    assert time.monotonic() - started < 30


def test_version() -> None:
    result = social_crm("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("social-crm ")


@pytest.mark.postgres
def test_an_over_long_csv_value_is_refused_before_postgresql_sees_it(
    write_config, pg_url: str, tmp_path: Path
) -> None:
    path = write_config(brands=[BRAND], database={"url": pg_url})
    csv = tmp_path / "customers.csv"
    csv.write_text(
        "id,name,email,tier,reddit,mastodon\n"
        "C-1,Anna,,gold,,@anna@mastodon.nl\n"
        f"C-2,Bob,,,,@{'b' * 300}@mastodon.nl\n"
    )
    result = social_crm("customers", "import", str(csv), "--config", str(path))
    assert "Traceback" not in result.stderr and result.returncode == 1
    assert f"{csv}: line 3, column mastodon: longer than 300 characters" in result.stderr
    assert "1 created" not in result.stdout
