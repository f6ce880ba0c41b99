"""Data for the dashboard's tests: a complaint thread raising an alert, happy authors with
ambassador scores, CRM customers, one linked author and one link suggestion, and replies
in every state."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from connectors.errors import AuthenticationError
from social_crm.ambassadors import scoring
from social_crm.config import EngagementConfig
from social_crm.customers.importer import import_customers
from social_crm.customers.linking import link_authors
from social_crm.db import Database
from social_crm.db.base import utcnow
from social_crm.engagement import lifecycle
from social_crm.engagement.sending import send_due
from social_crm.mentions.models import AuthorRecord, MentionRecord

from ..escalation import ingest_and_escalate
from ..factories import ENGAGEMENT, HAPPY, POST_T0, mention, post, store
from ..scripted_replies import ScriptedReplies

# The engagement section of the dashboard's reply tests: Brewly's templates and footer.
REPLIES = EngagementConfig.model_validate(ENGAGEMENT)

CRM = """id,name,email,tier,status,website,reddit,mastodon
C-1,Greta Grumble,greta@example.com,gold,active,,grumpy_greta,
C-2,Gus Grant,gus@example.com,vip,active,https://grant-roasters.com,,
"""


def complaint(db: Database, thread: str = "t1", *, author: str = "grumpy_greta") -> int:
    """A complaint and two replies in one thread: one alert; its id."""
    ids = ingest_and_escalate(
        db,
        post(thread, author=author, text="Brewly broke my grinder. Awful, terrible support."),
        post(f"{thread}-r1", author="helpful_hal", thread=thread, text="Same here, awful."),
        post(f"{thread}-r2", author="brewly_team", thread=thread, text="Sorry! DM us please."),
    )
    return ids[0]


def fans(db: Database) -> None:
    """Three authors who praise the brand, scored as ambassadors."""
    items = []
    for index, name in enumerate(("happy_hanna", "joyful_jo", "cheery_chris")):
        for count in range(3 - index):
            items.append((mention(f"fan-{name}-{count}", author=name, text="Love Brewly!"), HAPPY))
    store(db, *items)
    with db.transaction() as session:
        session.execute(
            update(AuthorRecord)
            .where(AuthorRecord.handle == "happy_hanna")
            .values(url="https://www.reddit.com/user/happy_hanna")
        )
        scoring.recompute(session, full=True)


def customers(db: Database, folder: Path) -> None:
    """Two CRM customers; Greta's reddit author is linked, and an author whose profile names
    Gus's website waits as a link suggestion."""
    path = folder / "crm.csv"
    path.write_text(CRM, encoding="utf-8")
    store(db, (mention("roaster-1", author="roasting_rick", text="Brewly beans are fine"), HAPPY))
    with db.transaction() as session:
        session.execute(
            update(AuthorRecord)
            .where(AuthorRecord.handle == "roasting_rick")
            .values(profile={"note": "I roast coffee at grant-roasters.com", "fields": []})
        )
        import_customers(session, path)
        link_authors(session)


def _complaint_mention(db: Database, thread: str, author: str) -> int:
    """A complaint that raises its own alert; the mention's id."""
    ingest_and_escalate(
        db, post(thread, author=author, text="My Brewly grinder broke. Awful, terrible support.")
    )
    with db.transaction() as session:
        found = session.scalar(select(MentionRecord.id).where(MentionRecord.native_id == thread))
        assert found is not None
        return found


def _approve_and_send(
    db: Database,
    mention_id: int,
    *,
    by: str,
    network: ScriptedReplies | None = None,
    at: datetime | None = None,
) -> int:
    """Draft from the apology template, approve as ``by`` and run one send pass; the id."""
    now = at or utcnow()
    with db.transaction() as session:
        reply = lifecycle.draft(session, mention_id, by=by, config=REPLIES, situation="apology")
        lifecycle.approve(session, reply.id, by=by, config=REPLIES, now=now)
        reply_id = reply.id
    send_due(db, {"reddit": network or ScriptedReplies()}, REPLIES, now=now)
    return reply_id


def replies(db: Database) -> dict[str, int]:
    """Replies in every state, by name, each answering its own complaint and alert.

    ``draft`` (a template's) and ``own`` (own text) wait for approval; ``recovered`` was
    sent weeks ago and its author spoke well of the brand two days later; ``sent`` went
    out just now (its author is still watched); ``held`` is approved but the per-author
    limit holds it after ``sent``; ``skipped``'s author is not to be contacted; ``failed``
    met refused credentials.
    """
    ids: dict[str, int] = {}
    first = _complaint_mention(db, "rp-draft", "dora_draft")
    own = _complaint_mention(db, "rp-own", "otto_own")
    with db.transaction() as session:
        ids["draft"] = lifecycle.draft(
            session, first, by="rule:sorry", config=REPLIES, template="apology-en"
        ).id
        ids["own"] = lifecycle.draft(
            session, own, by="ada", config=REPLIES, text="We are on it, Otto: check your DMs."
        ).id
    past = POST_T0 + timedelta(hours=1)
    recovers = _complaint_mention(db, "rp-rec", "rita_recovers")
    ids["recovered"] = _approve_and_send(db, recovers, by="cora", at=past)
    later = post(
        "rp-rec-2",
        author="rita_recovers",
        text="Brewly fixed it!",
        created_at=past + timedelta(days=2),
    )
    store(db, (later, HAPPY))
    held = _complaint_mention(db, "rp-held", "hugo_held")
    ids["sent"] = _approve_and_send(db, held, by="cora")
    ids["held"] = _approve_and_send(db, held, by="cora")
    skipped = _complaint_mention(db, "rp-skip", "sam_skipped")
    with db.transaction() as session:
        session.execute(
            update(AuthorRecord)
            .where(AuthorRecord.handle == "sam_skipped")
            .values(do_not_contact_at=POST_T0)
        )
    ids["skipped"] = _approve_and_send(db, skipped, by="cora")
    ids["failed"] = _approve_and_send(
        db,
        _complaint_mention(db, "rp-fail", "fay_failed"),
        by="cora",
        network=ScriptedReplies(failures=[AuthenticationError("401 invalid_grant")]),
    )
    return ids
