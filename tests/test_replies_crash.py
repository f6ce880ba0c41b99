"""A daemon killed after the network made its post and before the reply was recorded: after a
restart each reply is on its network exactly once, and recorded as sent with that post."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from social_crm.customers.importer import import_customers
from social_crm.daemon import Daemon
from social_crm.db import Database
from social_crm.demo.servers.local import PostHold
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.demo.servers.reddit import FakeReddit
from social_crm.engagement import lifecycle, service
from social_crm.engagement.models import Reply

from .reply_world import REDDIT_ACCOUNT, REDDIT_PASSWORD, World, make_world, mention_id

ANGRY = "Terrible, awful service. Broken after two weeks and nobody answers."
# A send not recorded after this long is looked up again by the next claim: short, so a
# restarted daemon takes over at once (a post is made, held and killed within it).
LEASE_SECONDS = 1.0


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[FakeReddit, FakeMastodon]]:
    with (
        FakeReddit(users={REDDIT_ACCOUNT: REDDIT_PASSWORD}) as reddit,
        FakeMastodon(owner="brewly") as mastodon,
    ):
        yield reddit, mastodon


@pytest.fixture
def world(
    fakes: tuple[FakeReddit, FakeMastodon],
    write_config: Callable[..., Path],
    tmp_path: Path,
    db_url: str,
) -> World:
    return make_world(
        *fakes, write_config, tmp_path, db_url=db_url, engagement={"lease_seconds": LEASE_SECONDS}
    )


def approved_replies(world: World, *native_ids: str) -> list[int]:
    """Listen once (the rule proposes an apology to each customer's post); maria approves
    each, to resolve its alert when sent. The replies' ids."""
    daemon = Daemon(world.settings())
    try:
        daemon.start()
        with daemon.db.transaction() as session:
            import_customers(session, world.customers)
        daemon.run_cycle()
        replies = []
        for native_id in native_ids:
            mention = mention_id(daemon.db, native_id)
            with daemon.db.transaction() as session:
                reply = session.scalars(select(Reply).where(Reply.mention_id == mention)).one()
                lifecycle.approve(
                    session,
                    reply.id,
                    by="maria",
                    config=daemon.settings.engagement,
                    resolve_alert=True,
                )
                replies.append(reply.id)
        return replies
    finally:
        daemon.close()


class Daemons:
    """``social-crm run`` processes on the world's configuration, one at a time."""

    def __init__(self, world: World, log: Path) -> None:
        self.world, self.log = world, log
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "social_crm.cli", "run", "--config", str(self.world.config)],
            stdout=self.log.open("a"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "COLUMNS": "200"},
        )

    def kill_when_made(self, holds: list[PostHold]) -> PostHold:
        """SIGKILL the daemon once one of ``holds`` is made (its answer not sent yet)."""
        wait_for(lambda: any(h.made.is_set() for h in holds), what="a post held")
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1
        return next(h for h in holds if h.made.is_set())

    def stop(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        assert self.process.wait(timeout=30) == 0, self.log.read_text()

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@pytest.fixture
def daemons(world: World, tmp_path: Path) -> Iterator[Daemons]:
    started = Daemons(world, tmp_path / "daemon.log")
    yield started
    started.close()


def wait_for(condition: Callable[[], bool], *, what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def statuses(db: Database, reply_ids: list[int]) -> list[str]:
    with db.transaction() as session:
        return [lifecycle.get(session, reply_id).status for reply_id in reply_ids]


def settled(db: Database, reply_ids: list[int]) -> bool:
    """Whether every reply is sent, skipped or failed: nothing more will happen to it."""
    return set(statuses(db, reply_ids)) <= {"sent", "skipped", "failed"}


def post_requests(world: World) -> tuple[int, int]:
    """(Reddit, Mastodon) posts the fakes were asked to make: a retry would show here."""
    mastodon = [r for r in world.mastodon.api_requests("/api/v1/statuses") if r.method == "POST"]
    return len(world.reddit.api_requests("/api/comment")), len(mastodon)


def recorded_once(db: Database, reply_id: int, posted_id: str) -> service.ReplyDetail:
    """The reply, checked to be sent with ``posted_id``, found after the crash, and its alert
    resolved."""
    with db.transaction() as session:
        reply = service.get_reply(session, reply_id)
    assert (reply.summary.status, reply.summary.posted_id) == ("sent", posted_id)
    actions = [step.action for step in reply.history]
    assert actions[-2:] == ["recorded", "alert resolved"], actions
    assert actions.count("sending") == 2  # the killed attempt, and the one that found it
    (found,) = [step for step in reply.history if step.action == "recorded"]
    assert found.note == f"found already posted: {reply.summary.posted_url}"
    return reply


def test_a_daemon_killed_between_posting_and_recording_leaves_one_reply_on_each_network(
    world: World, daemons: Daemons, db_url: str
) -> None:
    started = time.monotonic()
    gus = world.reddit.submit("brewly", author="Grumpy_Gus", title="Brewly broke", selftext=ANGRY)
    anna = world.mastodon.post("anna@mastodon.nl", f"My #Brewly grinder: {ANGRY}")
    replies = approved_replies(world, gus, anna)
    db = Database(db_url)
    holds = [world.reddit.hold_next_post(), world.mastodon.hold_next_post()]

    # Each network makes its post, then the daemon dies before it hears back.
    daemons.start()
    first = daemons.kill_when_made(holds)
    first.release()
    daemons.start()  # finds the first post, records it, posts the second and dies again
    daemons.kill_when_made([hold for hold in holds if hold is not first]).release()
    daemons.start()  # finds the second
    wait_for(lambda: settled(db, replies), what="both replies settled")
    daemons.stop()
    assert statuses(db, replies) == ["sent", "sent"]

    (on_reddit,) = world.reddit.comments_by(REDDIT_ACCOUNT)
    (on_mastodon,) = world.mastodon.posted
    recorded_once(db, replies[0], on_reddit)
    recorded_once(db, replies[1], world.mastodon.status_json(on_mastodon)["uri"])
    assert post_requests(world) == (1, 1)  # found by inspecting the threads, never re-posted
    log = daemons.log.read_text()
    assert log.count("was left sending (lease ran out): looking for its post first") >= 2
    assert log.count("was already posted") == 2
    print(
        f"\nkills: {daemons.kills}; posts on Reddit: {len(world.reddit.comments_by(REDDIT_ACCOUNT))}, "
        f"on Mastodon: {len(world.mastodon.posted)}; replies recorded as sent: "
        f"{statuses(db, replies).count('sent')} of {len(replies)}; "
        f"{time.monotonic() - started:.1f} s"
    )
    db.close()


def test_an_expired_idempotency_key_still_posts_once_on_mastodon(
    world: World, daemons: Daemons, db_url: str
) -> None:
    """Mastodon forgets an Idempotency-Key after a while (an hour): a daemon down longer
    than that finds its post by reading the thread, not by the key."""
    started = time.monotonic()
    world.mastodon.idempotency_seconds = 0.5
    anna = world.mastodon.post("anna@mastodon.nl", f"My #Brewly grinder: {ANGRY}")
    (reply_id,) = approved_replies(world, anna)
    db = Database(db_url)
    hold = world.mastodon.hold_next_post()

    daemons.start()
    daemons.kill_when_made([hold])
    made_at = time.monotonic()
    hold.release()
    time.sleep(max(0.0, made_at + 0.6 - time.monotonic()))  # the key has expired
    restarted_after = time.monotonic() - made_at
    daemons.start()
    wait_for(lambda: settled(db, [reply_id]), what="the reply settled")
    daemons.stop()
    assert statuses(db, [reply_id]) == ["sent"]

    (on_mastodon,) = world.mastodon.posted
    recorded_once(db, reply_id, world.mastodon.status_json(on_mastodon)["uri"])
    assert post_requests(world) == (0, 1)
    print(
        f"\nkills: {daemons.kills}; posts on Mastodon: {len(world.mastodon.posted)} (key kept "
        f"0.5 s, restarted after {restarted_after:.1f} s); replies recorded as sent: "
        f"{statuses(db, [reply_id]).count('sent')} of 1; {time.monotonic() - started:.1f} s"
    )
    db.close()
