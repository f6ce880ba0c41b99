"""The social-crm command as a user types it."""

from __future__ import annotations

import csv
import io
import os
import pwd
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.base import Batch
from social_crm.customers.models import Customer
from social_crm.db import Database
from social_crm.mentions.ingest import store_batch
from social_crm.mentions.models import SentimentRecord

from .escalation import ingest_and_escalate
from .factories import BRAND, mention


def social_crm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "social_crm.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "80", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def config(write_config, db_url: str) -> Path:
    return write_config(brands=[BRAND], database={"url": db_url})


def customer_count(db_url: str) -> int:
    db = Database(db_url)
    with db.transaction() as session:
        total = session.scalar(select(func.count()).select_from(Customer)) or 0
    db.close()
    return total


def test_customers_import_reports_bad_rows_and_changes_nothing(
    config: Path, db_url: str, tmp_path: Path
) -> None:
    good = tmp_path / "good.csv"
    good.write_text(
        "id,name,email,tier,reddit,mastodon\nC-1,Anna,anna@example.nl,gold,,@anna@mastodon.nl\n"
    )
    result = social_crm("customers", "import", str(good), "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "1 created, 0 updated, 0 unchanged" in result.stdout

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id,name,email,tier,reddit,mastodon\nC-2,Erik,,,espresso_erik,\nC-3,Gus,,,,gus\n"
    )
    result = social_crm("customers", "import", str(bad), "--config", str(config))
    assert result.returncode == 1
    assert f"{bad}: line 3, column mastodon: 'gus' needs its instance" in " ".join(
        result.stderr.split()
    )
    assert customer_count(db_url) == 1  # C-2 on the good line 2 was not imported either


def test_a_wrong_config_key_fails_at_start_up(write_config) -> None:
    path = write_config(brands=[BRAND], escalation={"threshold": 0.5})
    result = social_crm("run", "--config", str(path))
    assert result.returncode == 1
    assert f"{path}: escalation.threshold: unknown key" in " ".join(result.stderr.split())


def test_alerts_can_be_listed_acknowledged_and_resolved(config: Path, db_url: str) -> None:
    db = Database(db_url)
    db.upgrade()
    (alert_id,) = ingest_and_escalate(db, mention("t3_a", text="Awful, terrible, I hate this."))
    db.close()
    listed = social_crm("alerts", "list", "--config", str(config))
    assert listed.returncode == 0, listed.stderr
    assert "reddit:erik" in listed.stdout and "open" in listed.stdout
    assert (
        social_crm(
            "alerts", "ack", str(alert_id), "--by", "maria", "--config", str(config)
        ).returncode
        == 0
    )
    assert (
        "acknowledged"
        in social_crm("alerts", "list", "--status", "acknowledged", "--config", str(config)).stdout
    )
    resolved = social_crm("alerts", "resolve", str(alert_id), "--config", str(config))
    me = pwd.getpwuid(os.getuid()).pw_name  # no --by: the user who typed it
    assert resolved.returncode == 0 and f"alert {alert_id} resolved by {me}" in resolved.stdout
    shown = social_crm("alerts", "show", str(alert_id), "--config", str(config)).stdout
    when = r"\d{4}-\d\d-\d\d \d\d:\d\d"
    assert re.search(rf"acknowledged: {when} maria\n", shown), shown
    assert re.search(rf"resolved: +{when} {re.escape(me)}\n", shown), shown
    again = social_crm("alerts", "resolve", str(alert_id), "--config", str(config))
    assert again.returncode == 1 and "already resolved" in again.stderr
    missing = social_crm("alerts", "ack", "999", "--config", str(config))
    assert missing.returncode == 1 and "no alert with id 999" in missing.stderr


def test_ambassadors_export_as_csv(config: Path, db_url: str) -> None:
    db = Database(db_url)
    db.upgrade()
    with db.transaction() as session:
        store_batch(
            session,
            "reddit",
            "s",
            Batch([mention("t3_a", author="fan"), mention("t3_b", author="fan")], None),
        )
    with db.transaction() as session:
        for record_id in (1, 2):
            session.add(
                SentimentRecord(
                    mention_id=record_id,
                    label="positive",
                    confidence=0.9,
                    negative=0.05,
                    neutral=0.05,
                    positive=0.9,
                    model="test",
                )
            )
    from social_crm.ambassadors import scoring

    with db.transaction() as session:
        scoring.recompute(session, half_life_days=30)
    db.close()
    result = social_crm("ambassadors", "list", "--format", "csv", "--config", str(config))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["rank"], r["author"], r["positive"]) for r in rows] == [("1", "fan", "2")]
    assert float(rows[0]["score"]) > 0
    wrong = social_crm("ambassadors", "list", "--format", "xml", "--config", str(config))
    assert wrong.returncode == 2 and "expected table or csv" in wrong.stderr


def test_demo_without_its_extra_names_the_extra_to_install() -> None:
    # As if werkzeug (the demo servers' library) were not installed.
    script = (
        "import sys; sys.modules['werkzeug'] = None; "
        "sys.argv = ['social-crm', 'demo', '--seconds', '1']; "
        "from social_crm.cli import main; main()"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "pip install 'social-crm[demo]'" in result.stderr
    assert "werkzeug is not installed" in result.stderr
    assert "Traceback" not in result.stderr
