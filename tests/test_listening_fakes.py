"""The demo's script through the real connectors: its noise is left out, its posts stored."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from sentiment import load_classifier
from social_crm.config import Settings, bundled_config, load_config
from social_crm.daemon import Daemon
from social_crm.demo.script import ACCOUNTS, BOTS, SCRIPT
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.demo.servers.sinks import SmtpSink, WebhookSink
from social_crm.mentions.exclusions import exclusion_report
from social_crm.mentions.models import AuthorRecord, MentionRecord


@pytest.fixture
def demo_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """config/demo.yaml against fakes that published the whole demo script."""
    with (
        FakeReddit() as reddit,
        FakeMastodon(owner="brewly") as mastodon,
        SmtpSink() as smtp,
        WebhookSink() as webhook,
    ):
        for name, (domain, display_name, followers) in ACCOUNTS.items():
            mastodon.add_account(
                name, display_name=display_name, followers=followers, remote_domain=domain
            )
        for name, (domain, display_name, followers) in BOTS.items():
            mastodon.add_account(
                name, display_name=display_name, followers=followers, remote_domain=domain, bot=True
            )
        for variable, value in {
            "SOCIAL_CRM_DEMO_DATA_DIR": str(tmp_path),
            "SOCIAL_CRM_DEMO_REDDIT_URL": reddit.url,
            "SOCIAL_CRM_DEMO_MASTODON_URL": mastodon.url,
            "SOCIAL_CRM_DEMO_SMTP_PORT": str(smtp.port),
            "SOCIAL_CRM_DEMO_WEBHOOK_URL": webhook.url,
        }.items():
            monkeypatch.setenv(variable, value)
        ids: dict[str, str] = {}
        for step in SCRIPT:
            step.publish(reddit, mastodon, ids)
        yield load_config(bundled_config("demo.yaml"))


def test_the_demo_rules_leave_out_the_noise_the_fakes_publish(demo_settings: Settings) -> None:
    noise = [step for step in SCRIPT if step.noise]
    assert len(noise) == 6
    daemon = Daemon(demo_settings, classifier=load_classifier("lexicon"))
    daemon.run_cycle()
    with daemon.db.transaction() as session:
        stored = session.execute(select(MentionRecord, AuthorRecord).join(AuthorRecord)).all()
        left_out = {(row.rule, row.source_key): row.count for row in exclusion_report(session)}
    texts = [mention.text for mention, _ in stored]

    def found(step_text: str) -> bool:
        return any(step_text in text for text in texts)

    assert len(stored) == len(SCRIPT) - len(noise)
    assert all(found(step.text) for step in SCRIPT if not step.noise)
    assert not any(found(step.text) for step in noise)
    assert left_out == {
        ("exclude_subreddits r/beer", "Brewly:search"): 1,  # a beer named Brewly
        ("exclude_bots", "Brewly:r/brewly+espresso:comments"): 1,  # AutoModerator
        ("exclude_bots", "Brewly:tag:brewly"): 1,  # an account its instance flags as a bot
        ("scope", "Brewly:r/brewly+espresso:new"): 1,  # r/espresso, not about Brewly
        ("languages", "Brewly:tag:brewly"): 1,  # German
        ("exclude hiring", "Brewly:tag:brewly"): 1,  # a job ad
    }
    # What the rules read is stored with each mention, so a replay sees it too.
    communities = {mention.community for mention, _ in stored if mention.network == "reddit"}
    assert communities == {"brewly", "espresso"}
    assert not any(author.bot for _, author in stored)
    daemon.close()
