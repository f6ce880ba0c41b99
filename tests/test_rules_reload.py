"""Changing the listening rules needs no restart: the daemon rereads them from its file."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from social_crm.config import load_config
from social_crm.daemon import Daemon
from social_crm.db import Database
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.listening import Item
from social_crm.mentions.exclusions import exclusion_report
from social_crm.mentions.models import MentionRecord

from .factories import BRAND

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # one backend will do

GIVEAWAY = Item(text="Brewly giveaway", network="reddit")
HIRING = Item(text="Brewly is hiring", network="reddit")
BAD_QUERY = {"query": "brewly AND NOT"}


def write(path: Path, rules: dict[str, Any], **sections: Any) -> None:
    content = {"brands": [{**BRAND, "rules": rules}], "sentiment": {"model": "lexicon"}}
    path.write_text(yaml.safe_dump({**content, **sections}, sort_keys=False), encoding="utf-8")


def kept(daemon: Daemon, item: Item) -> bool:
    return daemon.context.rules["Brewly"].decide(item).kept


def test_reloading_uses_the_new_rules_and_a_bad_file_keeps_the_old(
    tmp_path: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "social_crm.yaml"
    database = {"url": db_url}
    write(path, {"exclude": ["giveaway"]}, database=database)
    daemon = Daemon(load_config(path), connectors={}, config_path=path)
    assert not kept(daemon, GIVEAWAY) and kept(daemon, HIRING)

    write(path, {"exclude": ["hiring"]}, database=database)
    with caplog.at_level(logging.INFO, logger="social_crm.daemon"):
        assert daemon.reload_rules()
    assert kept(daemon, GIVEAWAY) and not kept(daemon, HIRING)
    assert caplog.messages == [
        "listening rules reloaded: Brewly: exclude ['giveaway'] -> ['hiring']"
    ]
    assert daemon.settings.brands[0].rules.exclude == ["hiring"]

    caplog.clear()
    write(path, BAD_QUERY, database=database)
    with caplog.at_level(logging.INFO, logger="social_crm.daemon"):
        assert not daemon.reload_rules()
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.ERROR,
            "configuration not reloaded, the current rules stay: "
            f"{path}: brands.0.rules.query: expected a term after NOT at column 15 "
            "(got 'brewly AND NOT') (line 13)",
        )
    ]
    assert kept(daemon, GIVEAWAY) and not kept(daemon, HIRING)

    caplog.clear()
    write(path, {"exclude": ["hiring"]}, database=database, scheduler={"jitter_seconds": 1})
    with caplog.at_level(logging.INFO, logger="social_crm.daemon"):
        assert daemon.reload_rules()
    assert caplog.messages == [
        "configuration reread: listening rules unchanged; other changes take effect after a restart"
    ]
    daemon.close()


def wait_for(condition: Callable[[], bool], what: str, *, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def test_a_running_daemon_rereads_its_file_and_keeps_its_rules_on_sighup_with_a_bad_file(
    tmp_path: Path, db_url: str
) -> None:
    path = tmp_path / "social_crm.yaml"
    log = tmp_path / "daemon.log"
    with FakeReddit() as reddit, log.open("w") as output:
        sections = {
            "database": {"url": db_url},
            "connectors": {
                "reddit": {
                    "base_url": reddit.url,
                    "client_id": "demo-client",
                    "client_secret": "demo-secret",
                    "poll_interval_seconds": 0.3,
                }
            },
            "scheduler": {"jitter_seconds": 0},
        }
        write(path, {"exclude": ["giveaway"]}, **sections)
        process = subprocess.Popen(
            [sys.executable, "-m", "social_crm.cli", "run", "--config", str(path)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )
        db = Database(db_url)

        def left_out() -> dict[str, int]:
            with db.transaction() as session:
                return {row.rule: row.count for row in exclusion_report(session)}

        def stored() -> list[str]:
            with db.transaction() as session:
                return sorted(m.text for m in session.query(MentionRecord))

        try:
            wait_for(lambda: "daemon running" in log.read_text(), "the daemon to start")

            # The file changes: the new rules apply from the next poll on, no signal needed.
            write(path, {"exclude": ["giveaway", "hiring"]}, **sections)
            wait_for(lambda: "listening rules reloaded" in log.read_text(), "the reload")
            reddit.submit("brewly", author="jobs_bot_free", title="Brewly is hiring baristas")
            wait_for(lambda: left_out().get("exclude hiring") == 1, "the job ad to be left out")

            # A bad file that looks unchanged (same size and time) is read on SIGHUP only.
            before = path.stat()
            good = path.read_text(encoding="utf-8")
            bad = yaml.safe_dump({"brands": [{**BRAND, "rules": BAD_QUERY}]}, sort_keys=False)
            path.write_text(bad.ljust(len(good) - 1) + "\n", encoding="utf-8")
            assert path.stat().st_size == before.st_size
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
            time.sleep(3)  # longer than the daemon's look at the file
            assert "configuration not reloaded" not in log.read_text()
            process.send_signal(signal.SIGHUP)
            wait_for(lambda: "configuration not reloaded" in log.read_text(), "the SIGHUP")
            errors = [line for line in log.read_text().splitlines() if " ERROR " in line]
            assert len(errors) == 1 and "expected a term after NOT at column 15" in errors[0]

            # Still running, with the rules it had.
            reddit.submit("brewly", author="anna", title="Brewly hiring again, apply now")
            reddit.submit("brewly", author="anna", title="My Brewly grinder is lovely")
            wait_for(lambda: left_out().get("exclude hiring") == 2, "the old rules to apply")
            wait_for(lambda: stored() == ["My Brewly grinder is lovely"], "the post to be stored")
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, log.read_text()
        finally:
            process.kill()
            db.close()
    text = log.read_text()
    assert (
        "listening rules reloaded: Brewly: exclude ['giveaway'] -> ['giveaway', 'hiring']" in text
    )
