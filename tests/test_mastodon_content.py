"""What a community manager reads of a Mastodon status, its conversation and its author:
through the real Mastodon.py client, the connector and FakeMastodon, into the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from connectors.base import Batch, Source
from connectors.mastodon import MastodonConnector, MastodonSettings
from social_crm.config import Brand
from social_crm.customers.importer import import_customers
from social_crm.customers.linking import link_authors
from social_crm.customers.models import LinkSuggestion
from social_crm.db import Database
from social_crm.demo.servers.mastodon import FakeMastodon
from social_crm.mentions.ingest import store_batch
from social_crm.mentions.models import AuthorRecord, MentionRecord

ACME = Brand(name="acme", hashtags=["acme"], accounts={"mastodon": "brand"})

CRM = """id,name,email,tier,status,website,reddit,mastodon
C-1,Anna de Vries,anna@example.nl,gold,active,https://www.bakkerij-anna.nl/,,
C-3,Gus Grant,gus@example.com,vip,active,https://grant-roasters.com,,
"""


@pytest.fixture(scope="module")
def _server() -> Iterator[FakeMastodon]:
    with FakeMastodon(owner="brand") as server:
        yield server


@pytest.fixture
def fake(_server: FakeMastodon) -> FakeMastodon:
    _server.reset()
    _server.add_account("carl", display_name="Carl", followers=3)
    return _server


@pytest.fixture
def connector(fake: FakeMastodon) -> Iterator[MastodonConnector]:
    settings = MastodonSettings.model_validate(
        {"api_base_url": fake.url, "access_token": "demo-token", "streaming": False}
    )
    made = MastodonConnector(settings, watches=[ACME.watch()])
    yield made
    made.close()


def _source(connector: MastodonConnector, key: str) -> Source:
    return next(s for s in connector.sources() if s.key == key)


def test_quote_fallback_dropped_media_poll_language_and_visibility_kept(
    fake: FakeMastodon, connector: MastodonConnector
) -> None:
    quoted = fake.post("brand", "Our new grinder is out")
    fake.post(
        "carl",
        "Worst launch ever #acme",
        quote=quoted,
        media=[("image", "A grinder in pieces on a kitchen floor")],
        poll=["Refund", "Repair"],
        language="nl",
    )
    (mention,) = connector.fetch(_source(connector, "acme:tag:acme"), None).mentions
    assert "RE:" not in mention.text
    assert mention.text == (
        "Worst launch ever #acme\n\n"
        "[image: A grinder in pieces on a kitchen floor]\n\n"
        "Poll: Refund / Repair"
    )
    assert (mention.language, mention.visibility) == ("nl", "public")


def test_reply_to_an_unseen_reply_joins_the_conversation_root_by_uri(
    fake: FakeMastodon, connector: MastodonConnector
) -> None:
    root = fake.post("carl", "is the grinder any good?")
    middle = fake.post("brand", "it is!", in_reply_to=root)
    reply = fake.post("carl", "mine broke #acme", in_reply_to=middle)
    (mention,) = connector.fetch(_source(connector, "acme:tag:acme"), None).mentions
    assert mention.native_id == fake.status_json(reply)["uri"]
    assert mention.parent_id == fake.status_json(middle)["uri"]  # the same form as native ids
    assert mention.thread_id == fake.status_json(root)["uri"]


def test_a_thread_arriving_in_one_batch_is_one_conversation(
    fake: FakeMastodon, connector: MastodonConnector, db: Database
) -> None:
    root = fake.post("carl", "grinder question #acme")
    middle = fake.post("brand", "answer #acme", in_reply_to=root)
    fake.post("carl", "follow-up #acme", in_reply_to=middle)
    batch = connector.fetch(_source(connector, "acme:tag:acme"), None)
    with db.transaction() as session:
        store_batch(session, "mastodon", "acme:tag:acme", batch)
    with db.transaction() as session:
        threads = set(session.scalars(select(MentionRecord.thread_id)))
    assert threads == {fake.status_json(root)["uri"]}


def test_only_mention_notifications_become_mentions_where_the_filter_is_ignored(
    fake: FakeMastodon, connector: MastodonConnector
) -> None:
    fake.ignore_types_filter = True
    own = fake.post("brand", "We roast on Mondays")
    fake.favourite("carl", own)
    fake.follow("carl", "brand")
    fake.post("carl", "@brand my order is late", visibility="direct")
    batch = connector.fetch(_source(connector, "acme:mentions"), None)
    assert [(m.text, m.visibility) for m in batch.mentions] == [
        ("@brand my order is late", "direct")
    ]


def test_a_verified_link_or_an_email_in_a_mastodon_bio_links_the_author(
    fake: FakeMastodon, connector: MastodonConnector, db: Database, tmp_path: Path
) -> None:
    fake.add_account(
        "gus",
        display_name="Roaster G",
        note="Roasting since 2010",
        fields=[("Shop", "https://shop.grant-roasters.com/", True)],
    )
    fake.add_account("av", note="Write to anna@example.nl")
    fake.post("gus", "The beans were stale #acme")
    fake.post("av", "Love the crema #acme")
    crm = tmp_path / "crm.csv"
    crm.write_text(CRM, encoding="utf-8")
    batch = connector.fetch(_source(connector, "acme:tag:acme"), None)
    with db.transaction() as session:
        import_customers(session, crm)
        store_batch(session, "mastodon", "acme:tag:acme", Batch(batch.mentions, batch.cursor))
    with db.transaction() as session:
        link_authors(session)
    with db.transaction() as session:
        gus = session.scalars(select(AuthorRecord).where(AuthorRecord.handle.like("gus@%"))).one()
        assert gus.customer is not None and gus.customer.external_id == "C-3"
        assert [e["kind"] for e in gus.link_evidence or []] == ["verified_link"]
        suggestion = session.scalars(select(LinkSuggestion)).one()
        assert suggestion.author.handle.startswith("av@")
        assert suggestion.customer.external_id == "C-1"
