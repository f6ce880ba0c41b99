"""Escalating daemons, the spikes check and an erasure lock mentions and alerts in one
order: in whatever order their transactions meet, none deadlocks another and every
mention is counted once.

Each test holds one alert (as a person acting on it would) so that a daemon stops in the
middle of its batch, lets a second transaction run into it, then lets go.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from social_crm.alerts.enums import AlertStatus
from social_crm.alerts.escalation import Routing, escalate_pending
from social_crm.alerts.models import Alert
from social_crm.alerts.spikes import check_spikes
from social_crm.config import EscalationConfig, SpikesConfig
from social_crm.db import Database
from social_crm.mentions.models import MentionRecord
from social_crm.privacy.erasure import erase

from .escalation import escalate
from .factories import ANGRY, POST_T0, post, store

pytestmark = pytest.mark.postgres

NOW = POST_T0 + timedelta(days=8)
ROUTING = Routing.single(["chat"])


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    """A migrated, empty PostgreSQL database: the only one with concurrent writers."""
    database = Database(pg_url)
    database.upgrade()
    yield database
    database.close()


class Daemon:
    """One transaction run in a thread of its own, as another daemon would run it."""

    def __init__(self, db: Database, work: Callable[[Session], object]) -> None:
        self.pid: int | None = None
        self.error: BaseException | None = None
        self._begun = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(db, work))
        self._thread.start()
        assert self._begun.wait(10)

    def _run(self, db: Database, work: Callable[[Session], object]) -> None:
        try:
            with db.transaction() as session:
                self.pid = session.scalar(text("SELECT pg_backend_pid()"))
                self._begun.set()
                work(session)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            self.error = exc
        finally:
            self._begun.set()

    def waits_or_ends(self, db: Database) -> None:
        """Return once the transaction waits for a lock (or has ended)."""
        deadline = time.monotonic() + 10
        while self._thread.is_alive() and time.monotonic() < deadline:
            with db.engine.connect() as connection:
                waiting = connection.scalar(
                    text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": self.pid},
                )
            if waiting == "Lock":
                return
            time.sleep(0.02)
        assert not self._thread.is_alive(), "the transaction neither waited nor ended"

    def join(self) -> None:
        self._thread.join(30)
        assert not self._thread.is_alive()
        assert self.error is None, f"{type(self.error).__name__}: {self.error}"


def escalating(limit: int) -> Callable[[Session], object]:
    """A daemon's escalation batch of the ``limit`` oldest mentions nobody has taken."""
    return lambda session: escalate_pending(
        session, EscalationConfig(), ROUTING, now=NOW + timedelta(hours=1), limit=limit
    )


@contextmanager
def holding(db: Database, alert: Alert) -> Iterator[None]:
    """Keep ``alert`` locked, as a person changing it does, until the block ends."""
    with db.transaction() as session:
        session.execute(select(Alert.id).where(Alert.id == alert.id).with_for_update())
        yield


def crossing(
    db: Database,
    held: Alert,
    first: Callable[[Session], object],
    second: Callable[[Session], object],
) -> None:
    """``first`` runs until it waits for ``held`` (locked as a person changing it would),
    ``second`` until it waits too (or ends); then ``held`` is let go and both must finish
    without an error: a deadlock between them fails here."""
    with holding(db, held):
        daemons = [Daemon(db, first)]
        daemons[0].waits_or_ends(db)
        daemons.append(Daemon(db, second))
        daemons[1].waits_or_ends(db)
    for daemon in daemons:
        daemon.join()


def alert(db: Database, key: str) -> Alert:
    with db.transaction() as session:
        found = session.scalar(select(Alert).where(Alert.thread_key == key))
        assert found is not None
        return found


def counts(db: Database) -> dict[str, int]:
    with db.transaction() as session:
        return dict(session.execute(select(Alert.thread_key, Alert.mention_count)).all())


def spiking(db: Database, brand: str) -> None:
    """A week of one negative mention a day, then a dozen in the hour before NOW."""
    items = [
        (post(f"{brand}-day{day}", author=f"{brand}-old{day}", brand=brand,
              created_at=NOW - timedelta(days=day, minutes=5)), ANGRY)
        for day in range(1, 8)
    ]  # fmt: skip
    items += [
        (post(f"{brand}-burst{n}", author=f"{brand}-angry{n}", brand=brand,
              created_at=NOW - timedelta(minutes=50 - n)), ANGRY)
        for n in range(12)
    ]  # fmt: skip
    store(db, *items)


def raise_crises(db: Database) -> None:
    with db.transaction() as session:
        assert check_spikes(session, SpikesConfig(), EscalationConfig(), ROUTING, now=NOW)


def later(minutes: int) -> dict[str, object]:
    return {"created_at": NOW + timedelta(minutes=minutes)}


def test_a_mention_counted_by_its_author_and_one_counted_in_the_crisis_do_not_deadlock(
    db: Database,
) -> None:
    spiking(db, "Brewly")
    store(
        db,
        (post("xena-1", author="xena", created_at=NOW - timedelta(minutes=20)), ANGRY),
        (post("dora-1", author="dora", created_at=NOW - timedelta(minutes=15)), ANGRY),
    )
    escalate(db, now=NOW)
    raise_crises(db)
    xena, dora = alert(db, "reddit:xena-1"), alert(db, "reddit:dora-1")
    before = counts(db)
    store(
        db,
        # The first daemon's batch: the crisis, dora's thread, xena's alert by author.
        (post("wes-1", author="wes", **later(1)), ANGRY),
        (post("yan-1", author="yan", thread="dora-1", **later(2)), ANGRY),
        (post("xena-2", author="xena", **later(3)), ANGRY),
        # The second's: xena's alert by its thread, then the crisis.
        (post("zed-1", author="zed", thread="xena-1", **later(4)), ANGRY),
        (post("val-1", author="val", **later(5)), ANGRY),
    )
    crossing(db, dora, escalating(3), escalating(2))
    after = counts(db)
    assert len(after) == len(before)  # every new mention went into an alert that was open
    assert after[xena.thread_key] == before[xena.thread_key] + 2
    assert after[dora.thread_key] == before[dora.thread_key] + 1
    assert after["crisis:Brewly:60m"] == before["crisis:Brewly:60m"] + 2


def test_alerts_found_by_thread_and_by_author_in_crossed_orders_do_not_deadlock(
    db: Database,
) -> None:
    store(
        db,
        (post("xena-1", author="xena", created_at=NOW - timedelta(minutes=20)), ANGRY),
        (post("yuri-1", author="yuri", created_at=NOW - timedelta(minutes=18)), ANGRY),
        (post("dora-1", author="dora", created_at=NOW - timedelta(minutes=15)), ANGRY),
    )
    escalate(db, now=NOW)
    xena, yuri, dora = (alert(db, f"reddit:{name}-1") for name in ("xena", "yuri", "dora"))
    before = counts(db)
    store(
        db,
        # The first daemon's batch: yuri's alert by thread, dora's, xena's by author.
        (post("sam-1", author="sam", thread="yuri-1", **later(1)), ANGRY),
        (post("tim-1", author="tim", thread="dora-1", **later(2)), ANGRY),
        (post("xena-2", author="xena", **later(3)), ANGRY),
        # The second's: xena's alert by thread, yuri's by author.
        (post("uma-1", author="uma", thread="xena-1", **later(4)), ANGRY),
        (post("yuri-2", author="yuri", **later(5)), ANGRY),
    )
    crossing(db, dora, escalating(3), escalating(2))
    after = counts(db)
    assert len(after) == len(before)
    assert after[xena.thread_key] == before[xena.thread_key] + 2
    assert after[yuri.thread_key] == before[yuri.thread_key] + 2
    assert after[dora.thread_key] == before[dora.thread_key] + 1


def test_the_spikes_check_and_escalation_counting_into_two_crises_do_not_deadlock(
    db: Database,
) -> None:
    spiking(db, "Brewly")
    spiking(db, "Fizzly")
    store(db, (post("dora-1", author="dora", created_at=NOW - timedelta(minutes=15)), ANGRY))
    escalate(db, now=NOW)
    raise_crises(db)
    dora = alert(db, "reddit:dora-1")
    before = counts(db)
    # Two batches that reach the brands' crises in opposite orders: whichever order the
    # check updates them in, one batch takes them the other way round.
    store(
        db,
        (post("ann-1", author="ann", brand="Brewly", **later(1)), ANGRY),
        (post("bob-1", author="bob", thread="dora-1", **later(2)), ANGRY),
        (post("cat-1", author="cat", brand="Fizzly", **later(3)), ANGRY),
        (post("dan-1", author="dan", brand="Fizzly", **later(4)), ANGRY),
        (post("eve-1", author="eve", thread="dora-1", **later(5)), ANGRY),
        (post("fay-1", author="fay", brand="Brewly", **later(6)), ANGRY),
    )

    def check(at: int) -> Callable[[Session], object]:
        """The check a minute or two later: the spikes go on, each crisis notes it."""
        return lambda session: check_spikes(
            session, SpikesConfig(), EscalationConfig(), ROUTING, now=NOW + timedelta(minutes=at)
        )

    for at in (1, 2):
        crossing(db, dora, escalating(3), check(at))
    after = counts(db)
    assert len(after) == len(before)
    assert after[dora.thread_key] == before[dora.thread_key] + 2
    for brand in ("Brewly", "Fizzly"):
        crisis = alert(db, f"crisis:{brand}:60m")
        assert crisis.mention_count == before[crisis.thread_key] + 2
        assert crisis.details["last_spike_at"] == (NOW + timedelta(minutes=2)).isoformat()  # type: ignore[index]


def test_an_erasure_and_escalation_of_the_persons_new_post_do_not_deadlock(
    db: Database,
) -> None:
    store(db, (post("xena-1", author="xena", created_at=NOW - timedelta(minutes=20)), ANGRY))
    escalate(db, now=NOW)
    theirs = alert(db, "reddit:xena-1")  # made of xena's mentions only: the erasure closes it
    store(db, (post("xena-2", author="xena", thread="xena-1", **later(1)), ANGRY))

    def erasing(session: Session) -> object:
        return erase(session, "reddit", "xena", by="dpo@brewly.example", now=NOW)

    # The erasure waits for the alert first, escalation (claiming xena's new post) behind
    # it; once the alert is free, each must not then wait for what the other holds.
    crossing(db, theirs, erasing, escalating(1))
    with db.transaction() as session:
        left = session.scalars(
            select(MentionRecord.native_id).where(MentionRecord.erased_at.is_(None))
        ).all()
        closed = session.get(Alert, theirs.id)
    assert left == []  # both of xena's posts erased
    assert closed is not None and closed.status == AlertStatus.RESOLVED
