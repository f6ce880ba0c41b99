"""API requests per 100 new mentions: 20 watched subreddits and 5 hashtags, in steady state.

Runs the daemon's real polling (real praw and Mastodon.py clients against the local fakes)
over simulated time: an injected clock lets an hour of traffic run in seconds. Prints the
figure for adaptive pacing (the daemon's behaviour) and for fixed-interval polling.

    .venv/bin/python benchmarks/connector_requests.py [--hours 2] [--per-minute 50]
"""

from __future__ import annotations

import argparse
import random
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import yaml
from sqlalchemy import func, select

from social_crm.config import load_config
from social_crm.daemon import Daemon
from social_crm.db.base import utcnow
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.jobs import poll
from social_crm.mentions.models import MentionRecord

SUBREDDITS = [f"brewly{n}" for n in range(20)]
HASHTAGS = ["brewly", "brewlyone", "brewlycoffee", "brewlygrinder", "brewlysupport"]


class Clock:
    """Simulated wall-clock time for the daemon's pacing: ``now`` seconds after it was made."""

    def __init__(self) -> None:
        self.start = utcnow()
        self.now = 0.0

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=self.now)


def run(
    *, hours: float, per_minute: int, adaptive: bool, poll_seconds: float, seed: int
) -> dict[str, float]:
    """Publish ``per_minute`` Reddit items (1 post : 4 comments) and a fifth as many toots."""
    rng = random.Random(seed)
    folder = Path(tempfile.mkdtemp(prefix="connector-requests-"))
    # Real-time rate limits would trip on simulated time: the fakes get generous budgets.
    with FakeReddit() as reddit, FakeMastodon(owner="brewly", rate_limit=10**9) as mastodon:
        config = folder / "bench.yaml"
        ceiling = poll_seconds * 10 if adaptive else poll_seconds
        config.write_text(
            yaml.safe_dump(
                {
                    "brands": [{"name": "Brewly", "subreddits": SUBREDDITS, "hashtags": HASHTAGS}],
                    "database": {"url": f"sqlite:///{folder / 'bench.sqlite'}"},
                    "connectors": {
                        "reddit": {
                            "base_url": reddit.url,
                            "client_id": "demo-client",
                            "client_secret": "demo-secret",
                            "poll_interval_seconds": poll_seconds,
                            "max_poll_interval_seconds": ceiling,
                        },
                        "mastodon": {
                            "api_base_url": mastodon.url,
                            "access_token": "demo-token",
                            "poll_interval_seconds": poll_seconds,
                            "max_poll_interval_seconds": ceiling,
                        },
                    },
                }
            )
        )
        clock = Clock()
        daemon = Daemon(load_config(config), notifiers={}, now=clock)
        daemon.start()
        posts: list[str] = []
        warm_up = hours * 1800  # the first half lets the pacing settle; the second is measured
        counted = {"reddit": [0, 0], "mastodon": [0, 0]}  # requests, mentions at warm-up end
        for second in range(int(hours * 3600)):
            clock.now = second
            if second == warm_up:
                counted = _snapshot(daemon, reddit, mastodon)
            for _ in range(_arrivals(rng, per_minute / 60)):
                if not posts or rng.random() < 0.2:
                    posts.append(
                        reddit.submit(rng.choice(SUBREDDITS), author="poster", title="Brewly post")
                    )
                else:
                    reddit.comment(
                        rng.choice(posts[-50:]), author="commenter", body="Brewly comment"
                    )
            for _ in range(_arrivals(rng, per_minute / 300)):
                mastodon.post("brewly", f"a toot about #{rng.choice(HASHTAGS)}")
            if second % poll_seconds == 0 or adaptive:
                for name in daemon.context.connectors:
                    poll(daemon.context, name)
        final = _snapshot(daemon, reddit, mastodon)
        daemon.close()
    return {
        network: 100
        * (final[network][0] - counted[network][0])
        / max(1, final[network][1] - counted[network][1])
        for network in final
    } | {f"{n} mentions": final[n][1] - counted[n][1] for n in final}


def _arrivals(rng: random.Random, rate: float) -> int:
    """A Poisson draw: how many items arrive in one second at ``rate`` per second."""
    count, threshold, product = 0, pow(2.718281828459045, -rate), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def _snapshot(daemon: Daemon, reddit: FakeReddit, mastodon: FakeMastodon) -> dict[str, list[int]]:
    with daemon.db.transaction() as session:
        stored = dict(
            session.execute(
                select(MentionRecord.network, func.count()).group_by(MentionRecord.network)
            ).all()
        )
    return {
        "reddit": [len(reddit.requests), stored.get("reddit", 0)],
        "mastodon": [
            len([r for r in mastodon.requests if "instance" not in r.path]),
            stored.get("mastodon", 0),
        ],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=float, default=2.0, help="simulated hours (half warm-up)")
    parser.add_argument("--per-minute", type=int, default=50, help="new Reddit items a minute")
    parser.add_argument("--poll-seconds", type=int, default=60, help="configured poll interval")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print(
        f"{len(SUBREDDITS)} subreddits, {len(HASHTAGS)} hashtags, "
        f"{args.per_minute} Reddit items/min, "
        f"{args.per_minute / 5:g} toots/min, poll interval {args.poll_seconds} s, "
        f"{args.hours / 2:g} h measured after {args.hours / 2:g} h warm-up"
    )
    print(
        f"{'polling':<10} {'network':<9} {'new mentions':>13} {'requests / 100 new mentions':>28}"
    )
    for label, adaptive in (("adaptive", True), ("fixed", False)):
        figures = run(
            hours=args.hours,
            per_minute=args.per_minute,
            adaptive=adaptive,
            poll_seconds=args.poll_seconds,
            seed=args.seed,
        )
        for network in ("reddit", "mastodon"):
            mentions = figures[f"{network} mentions"]
            print(f"{label:<10} {network:<9} {mentions:>13.0f} {figures[network]:>28.2f}")


if __name__ == "__main__":
    main()
