"""The whole story: posts on the fake networks become mentions, alerts, links and a ranking."""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import func, select

from social_crm.ambassadors.report import ambassador_rows
from social_crm.config import Settings, load_config
from social_crm.customers.importer import import_customers
from social_crm.daemon import Daemon
from social_crm.demo import run_demo
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.demo.servers.sinks import SmtpSink, WebhookSink
from social_crm.mentions.models import AuthorRecord, MentionRecord, SentimentRecord

from .factories import BRAND

CUSTOMERS = """id,name,email,tier,reddit,mastodon
C-1,Anna de Vries,anna@example.nl,gold,,@anna@mastodon.nl
C-2,Erik Jansen,erik@example.com,silver,espresso_erik,
C-3,Gus Grant,gus@example.com,vip,u/Grumpy_Gus,
"""


@dataclass
class World:
    """Local Reddit, Mastodon, SMTP and webhook servers, and a config pointing at them."""

    reddit: FakeReddit
    mastodon: FakeMastodon
    smtp: SmtpSink
    webhook: WebhookSink
    config: Path
    customers: Path

    def settings(self) -> Settings:
        return load_config(self.config)


@pytest.fixture
def world(tmp_path: Path, write_config: Callable[..., Path], db_url: str) -> Iterator[World]:
    with (
        FakeReddit() as reddit,
        FakeMastodon(owner="brewly") as mastodon,
        SmtpSink() as smtp,
        WebhookSink() as webhook,
    ):
        mastodon.add_account("anna", display_name="Anna", followers=50, remote_domain="mastodon.nl")
        mastodon.add_account("bob", followers=10, remote_domain="fosstodon.org")
        config = write_config(
            brands=[BRAND],
            database={"url": db_url},
            connectors={
                "reddit": {
                    "base_url": reddit.url,
                    "client_id": "demo-client",
                    "client_secret": "demo-secret",
                },
                "mastodon": {"api_base_url": mastodon.url, "access_token": "demo-token"},
            },
            alerts={
                "channels": [
                    {
                        "type": "email",
                        "name": "team",
                        "host": "127.0.0.1",
                        "port": smtp.port,
                        "sender": "bot@brewly.example",
                        "recipients": ["team@brewly.example"],
                    },
                    {"type": "webhook", "name": "chat", "url": webhook.url},
                ]
            },
            web={"base_url": "https://crm.brewly.example/"},
            scheduler={
                "process_interval_seconds": 0.5,
                "deliver_interval_seconds": 0.5,
                "jitter_seconds": 0,
            },
        )
        customers = tmp_path / "customers.csv"
        customers.write_text(CUSTOMERS, encoding="utf-8")
        yield World(reddit, mastodon, smtp, webhook, config, customers)


def publish_first_wave(world: World) -> int:
    r, m = world.reddit, world.mastodon
    one = r.submit(
        "brewly",
        author="espresso_erik",
        title="A year with my Brewly",
        selftext="Perfect espresso every morning. I love it!",
    )
    r.comment(one, author="espresso_erik", body="The descaling tablets are great too, very happy.")
    r.submit(
        "espresso",
        author="espresso_erik",
        title="Brewly tip",
        selftext="Grind finer, wonderful crema. Excellent!",
    )
    broken = r.submit(
        "brewly",
        author="Grumpy_Gus",
        title="Brewly support is a disgrace",
        selftext="Broken after two weeks, ignored for three. Terrible, awful service.",
    )
    r.comment(
        broken, author="latte_lisa", body="Same here, mine leaks. Horrible and disappointing."
    )
    m.post("anna@mastodon.nl", "My #Brewly grinder arrived, nice design.")
    m.post("bob@fosstodon.org", "@brewly does the grinder fit the Brewly One?", mention="brewly")
    world.broken = broken  # type: ignore[attr-defined]
    return 7


def count(daemon: Daemon, query) -> int:
    with daemon.db.transaction() as session:
        return session.scalar(query) or 0


def test_posts_become_classified_linked_mentions_one_alert_and_a_ranking(world: World) -> None:
    published = publish_first_wave(world)
    daemon = Daemon(world.settings())
    daemon.start()
    with daemon.db.transaction() as session:
        import_customers(session, world.customers)
    daemon.run_cycle()
    daemon.run_cycle()  # a second pass finds nothing new and repeats nothing

    assert count(daemon, select(func.count()).select_from(MentionRecord)) == published
    assert count(daemon, select(func.count(func.distinct(MentionRecord.native_id)))) == published
    assert count(daemon, select(func.count()).select_from(SentimentRecord)) == published
    with daemon.db.transaction() as session:
        linked = {
            a.handle: a.customer.external_id
            for a in session.scalars(select(AuthorRecord))
            if a.customer
        }
        ranking = [(row.author, row.positive) for row in ambassador_rows(session)]
    assert linked == {"grumpy_gus": "C-3", "espresso_erik": "C-2", "anna@mastodon.nl": "C-1"}

    assert len(world.smtp.messages) == 1, [m["Subject"] for m in world.smtp.messages]
    assert len(world.webhook.payloads) == 1
    assert "Gus Grant (vip)" in world.smtp.messages[0]["Subject"]
    alert = world.webhook.payloads[0]["alert"]
    # The message names the alert and links to it in the web interface, no commands.
    body = world.smtp.messages[0].get_payload(decode=True).decode("utf-8")
    page = f"https://crm.brewly.example/alerts/{alert['alert_id']}"
    assert f"Alert #{alert['alert_id']}" in body and f"Open: {page}" in body
    assert "social-crm " not in body.replace("[social-crm]", "")
    assert alert["alert_url"] == page
    assert (
        alert["customer"] == "Gus Grant"
        and alert["url"].endswith(
            world.broken.removeprefix("t3_") + "/brewly_support_is_a_disgrace/"
        )
        or alert["url"]
    )  # type: ignore[attr-defined]

    assert ranking[0] == ("espresso_erik", 3)
    daemon.close()


def test_a_restart_resumes_from_the_stored_cursors(world: World) -> None:
    publish_first_wave(world)
    first = Daemon(world.settings())
    first.run_cycle()
    first.close()
    stored = world.reddit.api_requests()

    r, m = world.reddit, world.mastodon
    r.comment(world.broken, author="Grumpy_Gus", body="Still nothing. Awful, never again.")  # type: ignore[attr-defined]
    r.submit("brewly", author="neutral_ned", title="Does the Brewly One work on 110V?")
    m.post("anna@mastodon.nl", "Third week with my #Brewly, every cup is excellent. Love it!")

    second = Daemon(world.settings())
    report = second.run_cycle()
    assert report.fetched == 3
    assert count(second, select(func.count()).select_from(MentionRecord)) == 10
    assert len(world.smtp.messages) == 1 and len(world.webhook.payloads) == 1  # no alert twice
    later = world.reddit.api_requests()[len(stored) :]
    # Resumed from the cursors: one newest page per source found them, no walking back.
    assert len(later) == len(second.context.connectors["reddit"].sources())
    assert all("after" not in request.query for request in later)
    second.close()


def test_the_daemon_process_stops_cleanly_on_sigterm_and_sigint(
    world: World, tmp_path: Path
) -> None:
    publish_first_wave(world)
    for signum in (signal.SIGTERM, signal.SIGINT):
        log = tmp_path / f"daemon-{signum}.log"
        with log.open("w") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "social_crm.cli", "run", "--config", str(world.config)],
                stdout=output,
                stderr=subprocess.STDOUT,
                env={**os.environ, "COLUMNS": "200"},
            )
            try:
                daemon = Daemon(world.settings(), connectors={})
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline and "daemon running" not in log.read_text():
                    time.sleep(0.1)
                while time.monotonic() < deadline and not (
                    count(daemon, select(func.count()).select_from(SentimentRecord)) == 7
                    and world.smtp.messages
                ):
                    time.sleep(0.2)
                time.sleep(1)  # let the second run poll again too: it must find nothing new
                process.send_signal(signum)
                assert process.wait(timeout=30) == 0, log.read_text()
            finally:
                process.kill()
                daemon.close()
        text = log.read_text()
        assert "stopping: finishing the work in hand" in text and "stopped" in text
    assert len(world.smtp.messages) == 1  # two runs, one alert


def test_the_demo_shows_alerts_ambassadors_and_a_reply(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOCIAL_CRM_DEMO_DATA_DIR", str(tmp_path))
    output = io.StringIO()
    started = time.monotonic()
    run_demo(console=Console(file=output, width=200), seconds=90)
    assert time.monotonic() - started < 90, "the demo should finish when its stream is processed"
    text = output.getvalue()
    assert "Alerts for the community team" in text and "Gus Grant (vip)" in text
    assert "email received: [social-crm] Brewly" in text
    assert "Ambassador ranking for marketing" in text
    assert "first alert delivered" in text
    # The VIP's complaint is answered: proposed, approved by a person, posted by the daemon
    # on the fake Reddit, and Gus's answer to it makes the conversation recover.
    reply = text[text.index("A reply, approved by a person and sent by the daemon") :]
    assert "reply 1 to reddit:grumpy_gus = Gus Grant, answering alert 1" in reply
    assert "drafted by rule:apologise-to-vips, approved by Maria (community team)" in reply
    assert "sent by the daemon as u/brewly_official; alert 1 resolved" in reply
    assert re.search(r"where: http://127\.0\.0\.1:\d+/r/brewly/comments/\w+/_/\w+/", reply)
    assert "Sorry about your grinder, Gus Grant. A replacement ships today" in reply
    assert "Brewly support team (sent with social-crm)" in reply
    thread = reply[reply.index("the thread reads:") :].splitlines()
    assert thread[1] == "    Grumpy_Gus: Brewly support is a disgrace"
    ours = next(n for n, line in enumerate(thread) if "brewly_official: " in line)
    assert thread[ours].startswith("      brewly_official: Sorry about your grinder, Gus Grant.")
    assert thread[ours + 1].startswith("        Grumpy_Gus: Thank you, that was quick!")
    assert "recovery rate: 100% (1 recovered, 0 not recovered, 0 pending)" in reply
