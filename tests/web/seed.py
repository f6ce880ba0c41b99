"""Data for the dashboard's tests: a complaint thread raising an alert, happy authors with
ambassador scores, CRM customers, one linked author and one link suggestion."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import update

from social_crm.ambassadors import scoring
from social_crm.customers.importer import import_customers
from social_crm.customers.linking import link_authors
from social_crm.db import Database
from social_crm.mentions.models import AuthorRecord

from ..escalation import ingest_and_escalate
from ..factories import HAPPY, mention, post, store

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
