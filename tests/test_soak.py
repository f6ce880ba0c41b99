"""Soak: many poll cycles against both fakes with random faults; nothing lost, nothing twice."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from social_crm.config import load_config
from social_crm.daemon import Daemon
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.jobs import poll
from social_crm.mentions.models import MentionRecord

from .clock import Clock


def soak(
    tmp_path: Path,
    *,
    cycles: int,
    fault_rate: float,
    slow: bool,
    seed: int = 1,
    timeout: float = 1.0,
) -> None:
    """Publish at random, poll ``cycles`` times with faults, drain; check every mention once.

    ``slow`` adds answers slower than the clients' ``timeout`` (seconds) to the faults.
    """
    began = time.perf_counter()
    rng = random.Random(seed)
    with FakeReddit() as reddit, FakeMastodon(owner="brewly", rate_limit=10**9) as mastodon:
        config = tmp_path / "soak.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "brands": [
                        {
                            "name": "Brewly",
                            "subreddits": ["brewly", "espresso"],
                            "hashtags": ["brewly", "coffee"],
                            "accounts": {"mastodon": "brewly"},
                        }
                    ],
                    "database": {"url": f"sqlite:///{tmp_path / 'soak.sqlite'}"},
                    "connectors": {
                        "reddit": {
                            "base_url": reddit.url,
                            "client_id": "demo-client",
                            "client_secret": "demo-secret",
                            "timeout_seconds": timeout,
                            "page_size": 25,
                        },
                        "mastodon": {
                            "api_base_url": mastodon.url,
                            "access_token": "demo-token",
                            "timeout_seconds": timeout,
                            "page_size": 10,
                        },
                    },
                }
            )
        )
        mastodon.add_account("fan", remote_domain="example.social")
        kinds = ["429", "500", "slow"] if slow else ["429", "500"]
        late = timeout * 1.5  # a "slow" answer comes after the client gave up on it
        reddit.inject_faults(
            fault_rate, seed=seed, kinds=[*kinds, "broken_json"], slow_seconds=late
        )
        mastodon.inject_faults(fault_rate, seed=seed, kinds=[*kinds, "json"], slow_seconds=late)
        published: dict[str, set[str]] = {"reddit": set(), "mastodon": set()}
        posts: list[str] = []
        clock = Clock()
        daemon = Daemon(load_config(config), notifiers={}, now=clock)
        daemon.start()
        for _ in range(cycles):
            for _ in range(rng.choice([0, 0, 1, 2, 3, 30])):  # now and then a burst: several pages
                roll = rng.random()
                if roll < 0.3 or not posts:
                    posts.append(
                        reddit.submit(
                            rng.choice(["brewly", "espresso"]), author="poster", title="t"
                        )
                    )
                    published["reddit"].add(posts[-1])
                elif roll < 0.6:
                    published["reddit"].add(
                        reddit.comment(rng.choice(posts[-20:]), author="c", body="b")
                    )
                else:
                    status = mastodon.post(
                        "fan@example.social",
                        f"about #{rng.choice(['brewly', 'coffee'])}",
                        mention="brewly" if roll > 0.9 else None,
                    )
                    published["mastodon"].add(mastodon.status_json(status)["uri"])
            for name in daemon.context.connectors:
                poll(daemon.context, name, paced=False)
            clock.now += 30  # backoffs (5 s doubling, capped) run out in simulated time
        reddit.inject_faults(0)
        mastodon.inject_faults(0)
        for _ in range(40):  # drain: whatever a fault held back is fetched now
            clock.now += 1000
            for name in daemon.context.connectors:
                poll(daemon.context, name, paced=False)
        with daemon.db.transaction() as session:
            stored = session.execute(select(MentionRecord.network, MentionRecord.native_id)).all()
        daemon.close()
    # The figures behind the verdict (shown with `pytest -s`).
    print(f"\nsoak: {cycles} poll cycles in {time.perf_counter() - began:.0f} s")
    for network, fake in (("reddit", reddit), ("mastodon", mastodon)):
        mine = [native_id for net, native_id in stored if net == network]
        print(
            f"  {network}: published {len(published[network])}, stored {len(mine)}, "
            f"distinct {len(set(mine))}, requests {len(fake.requests)}, "
            f"faults {dict(sorted(fake.fault_counts.items()))}"
        )
    assert reddit.fault_counts and sum(reddit.fault_counts.values()) > cycles * fault_rate
    assert mastodon.fault_counts
    for network, ids in published.items():
        mine = [native_id for net, native_id in stored if net == network]
        assert len(mine) == len(set(mine))  # once each
        assert set(mine) == ids, (
            f"{network}: lost {len(ids - set(mine))}, extra {len(set(mine) - ids)}"
        )


def test_a_thousand_poll_cycles_with_faults_store_every_mention_once(tmp_path: Path) -> None:
    soak(tmp_path, cycles=1000, fault_rate=0.15, slow=False)


@pytest.mark.slow
@pytest.mark.timeout(3600)  # some 1,300 answers come too late: about 25 minutes
def test_long_soak_with_timeouts(tmp_path: Path) -> None:
    soak(tmp_path, cycles=5000, fault_rate=0.2, slow=True, seed=2, timeout=0.5)
