"""Erasing and exporting a person: every trace goes (or is written out), the counts stay."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.base import Author, Batch, Mention
from sentiment.lexicon import LexiconClassifier
from social_crm.alerts.enums import AlertKind, AlertStatus
from social_crm.alerts.escalation import Routing, escalate_pending
from social_crm.alerts.lifecycle import add_note
from social_crm.alerts.models import Alert, AlertNote
from social_crm.alerts.notifications import alert_message
from social_crm.alerts.service import get_alert
from social_crm.ambassadors.models import AmbassadorReview, AmbassadorScore
from social_crm.config import EngagementConfig, EscalationConfig
from social_crm.customers.enums import SuggestionStatus
from social_crm.customers.models import Customer, Identity, LinkSuggestion
from social_crm.db import Database
from social_crm.delivery.enums import DeliveryStatus
from social_crm.delivery.models import Delivery
from social_crm.engagement import lifecycle
from social_crm.engagement.enums import ReplyAction, ReplyStatus
from social_crm.engagement.models import Reply
from social_crm.errors import Conflict, InvalidInput
from social_crm.insights.overview import overview
from social_crm.insights.search import search_mentions
from social_crm.mentions.classify import classify_pending
from social_crm.mentions.ingest import store_batch
from social_crm.mentions.models import AuthorRecord, MentionRecord, SentimentRecord, SkippedItem
from social_crm.privacy.erasure import erase, past_erasures, preview
from social_crm.privacy.export import SCHEMA, SCHEMA_VERSION, export_person
from social_crm.privacy.models import Erasure
from social_crm.privacy.subject import subject

from .commands import one_error_line, social_crm
from .factories import ANGRY, BRAND, ENGAGEMENT, HAPPY, POST_T0, post, store
from .traces import places_holding

HANDLE = "zephyrine@social.example"
NAME = "zephyrine"  # in their handle, the ids of their posts, their profile
WORD = "quixotically"  # only in what they wrote
OTHER = "bystander@other.example"
ROUTING = Routing(levels=(("chat",),), digest_at_most=None)
LATER = POST_T0 + timedelta(hours=2)


def toot(number: int, *, by: str = HANDLE, text: str, reply_to: str | None = None) -> Mention:
    """A Mastodon status as the connector reads it: its URI names its author."""
    user, _, host = by.partition("@")
    uri = f"https://{host}/users/{user}/statuses/{number}"
    return Mention(
        network="mastodon",
        native_id=uri,
        brand="Brewly",
        source="Brewly:#brewly@social.example",
        url=f"https://{host}/@{user}/{number}",
        author=Author(
            network="mastodon",
            handle=by,
            display_name=user.title() + " Q.",
            followers=40,
            url=f"https://{host}/@{user}",
            profile={"note": f"I am {user}, café lover", "fields": []},
        ),
        text=text,
        created_at=POST_T0,
        kind="status",
        thread_id=reply_to or uri,
        parent_id=reply_to,
        reach=5,
    )


@dataclass(frozen=True)
class Seeded:
    alert_id: int  # their complaint's alert
    crisis_id: int
    other_alert_id: int
    reply_id: int
    note_id: int


@pytest.fixture
def seeded(db: Database) -> Seeded:
    """One of every kind of record about them, and a bystander with an alert of their own."""
    theirs = toot(1, text=f"Brewly broke again, {WORD} awful, café closed")
    praise = toot(2, text=f"ok Brewly is {WORD} nice now")
    store(db, (theirs, ANGRY), (praise, HAPPY), (toot(3, by=OTHER, text="Brewly awful"), ANGRY))
    with db.transaction() as session:
        alerts = escalate_pending(session, EscalationConfig(), ROUTING, now=POST_T0)
        mine = session.scalar(
            select(MentionRecord).where(MentionRecord.native_id == theirs.native_id)
        )
        author = session.get(AuthorRecord, mine.author_id)
        customer = Customer(external_id="C-9", name="Zed Customer", email="zed@example.com")
        other = Customer(external_id="C-10", name="Zephyr Other")
        session.add_all([customer, other])
        session.flush()
        session.add(Identity(customer_id=customer.id, network="mastodon", handle=HANDLE))
        author.customer_id, author.linked_by = customer.id, "crm-handle"
        author.link_evidence = [{"kind": "crm_handle", "detail": HANDLE, "weight": 1.0}]
        author.do_not_contact_at, author.do_not_contact_by = POST_T0, "ann"
        session.add(
            LinkSuggestion(
                author_id=author.id,
                customer_id=other.id,
                confidence=0.5,
                evidence=[{"kind": "display_name", "detail": f"{NAME} ~ Zephyr", "weight": 0.5}],
                status=SuggestionStatus.REJECTED,
                decided_by="ann",
                decided_at=POST_T0,
            )
        )
        session.add(
            AmbassadorScore(
                author_id=author.id, score=2.5, components={"positive": 1}, computed_at=POST_T0
            )
        )
        session.add(
            AmbassadorReview(
                author_id=author.id, status="approved", reviewed_by="ann", note=f"{NAME} is lovely"
            )
        )
        session.add(
            SkippedItem(
                connector="mastodon",
                source_key="Brewly:#brewly",
                native_id="odd",
                error="refused",
                excerpt=f"Mention(author=Author(handle='{HANDLE}'), text='{WORD}')",
            )
        )
        reply = lifecycle.draft(
            session,
            mine.id,
            by="ann",
            config=EngagementConfig.model_validate(ENGAGEMENT),
            text=f"Sorry @{NAME}, we are on it",
            now=POST_T0,
        )
        reply.status, reply.sent_at = ReplyStatus.SENT, LATER
        reply.posted_url = "https://social.example/@brewly/99"
        reply.outgoing_text = f"@{HANDLE} Sorry @{NAME}, we are on it"
        lifecycle.record(reply, ReplyAction.SENT, by="reply job", now=LATER, note=f"to @{NAME}")
        crisis = Alert(
            kind=AlertKind.CRISIS,
            thread_key="crisis:Brewly",
            brand="Brewly",
            status=AlertStatus.OPEN,
            reason="3 negative mentions in the last 60 min",
            details={
                "top": [
                    {
                        "mention_id": mine.id,
                        "author": HANDLE,
                        "reach": 5,
                        "url": theirs.url,
                        "text": theirs.text,
                        "visibility": "public",
                    }
                ]
            },
        )
        session.add(crisis)
        session.flush()
        mine_alert = next(a for a in alerts if a.first_mention_id == mine.id)
        other_alert = next(a for a in alerts if a.first_mention_id != mine.id)
        note = add_note(session, mine_alert.id, by="ann", text="Called the shop about it")
        return Seeded(mine_alert.id, crisis.id, other_alert.id, reply.id, note.id)


def test_before_an_erasure_their_handle_and_words_are_found_across_tables(
    db: Database, seeded: Seeded
) -> None:
    with db.transaction() as session:
        places = " ".join(places_holding(session, NAME) + places_holding(session, WORD))
    for place in (
        "authors.handle",
        "authors.profile",
        "identities.handle",
        "mentions.native_id",
        "mentions.text",
        "mentions.url",
        "link_suggestions.evidence",
        "ambassador_reviews.note",
        "skipped_items.excerpt",
        "alerts.details",
        "replies.text",
        "reply_events.note",
    ):
        assert place in places


def test_an_erasure_leaves_no_trace_of_their_handle_or_words_in_any_table(
    db: Database, seeded: Seeded
) -> None:
    with db.transaction() as session:
        report = erase(session, "mastodon", f"@{HANDLE}", by="dpo")
    with db.transaction() as session:
        assert places_holding(session, NAME) == []
        assert places_holding(session, WORD) == []
    assert report.counts.mentions == 2
    assert report.counts.replies == 1 and report.counts.reply_events == 2
    assert (report.counts.identities, report.counts.link_suggestions) == (1, 1)
    assert (report.counts.ambassador_scores, report.counts.ambassador_reviews) == (1, 1)
    assert (report.counts.alerts, report.counts.alerts_resolved) == (2, 1)
    assert report.counts.deliveries_skipped == 1
    assert report.counts.skipped_items == 1
    assert report.customers == ("C-9",)


def test_the_erasure_is_recorded_with_a_salted_hash_never_the_handle(
    db: Database, seeded: Seeded
) -> None:
    with db.transaction() as session:
        report = erase(session, "mastodon", HANDLE, by="dpo")
    with db.transaction() as session:
        (record,) = session.scalars(select(Erasure)).all()
        assert (record.id, record.network, record.erased_by) == (
            report.erasure_id,
            "mastodon",
            "dpo",
        )
        assert record.counts["mentions"] == 2 and record.counts["replies"] == 1
        assert HANDLE not in record.handle_hash and len(record.handle_hash) == 64
        # Whoever holds the handle can tell it was erased; another handle was not.
        assert [past.id for past in past_erasures(session, subject("mastodon", HANDLE))] == [
            record.id
        ]
        assert past_erasures(session, subject("mastodon", OTHER)) == ()


def test_counts_and_sentiment_stay_while_the_mentions_lose_text_author_and_ids(
    db: Database, seeded: Seeded
) -> None:
    with db.transaction() as session:
        before = overview(session, brands=["Brewly"], now=LATER).brands[0]
        erase(session, "mastodon", HANDLE, by="dpo")
    with db.transaction() as session:
        after = overview(session, brands=["Brewly"], now=LATER).brands[0]
        labels = session.scalars(
            select(SentimentRecord.label).order_by(SentimentRecord.mention_id)
        ).all()
        tombstones = session.scalars(
            select(MentionRecord)
            .where(MentionRecord.erased_at.is_not(None))
            .order_by(MentionRecord.id)
        ).all()
        author = session.get(AuthorRecord, tombstones[0].author_id)
    assert (after.days, after.weeks) == (before.days, before.weeks)
    assert sum(day.total for day in after.days) == 3
    assert labels == ["negative", "positive", "negative"]
    assert [(m.text, m.url, m.native_id, m.parent_id) for m in tombstones] == [
        ("", "", f"erased:{m.id}", None) for m in tombstones
    ]
    assert all(m.deleted_at is not None for m in tombstones)
    assert author.handle == f"(erased {author.id})" and author.erased_at is not None
    assert (author.display_name, author.profile, author.customer_id) == ("", None, None)
    assert author.do_not_contact_at is None


def test_their_own_alert_is_resolved_unsent_while_notes_and_other_alerts_stay(
    db: Database, seeded: Seeded
) -> None:
    with db.transaction() as session:
        erase(session, "mastodon", HANDLE, by="dpo")
    with db.transaction() as session:
        theirs = session.get(Alert, seeded.alert_id)
        assert (theirs.status, theirs.resolved_by) == (AlertStatus.RESOLVED, "dpo")
        assert theirs.resolution == "its author's data was erased"
        assert theirs.thread_key == f"mastodon:erased:{theirs.first_mention_id}"
        statuses = session.scalars(
            select(Delivery.status).where(Delivery.alert_id == theirs.id)
        ).all()
        assert statuses == [DeliveryStatus.SKIPPED]
        assert session.get(AlertNote, seeded.note_id).text == "Called the shop about it"
        (top,) = session.get(Alert, seeded.crisis_id).details["top"]
        assert (top["author"], top["text"], top["url"], top["erased"]) == (
            "(erased)",
            "(erased)",
            "",
            True,
        )
        assert session.get(Alert, seeded.crisis_id).status == AlertStatus.OPEN
        other = session.get(Alert, seeded.other_alert_id)
        assert other.status == AlertStatus.OPEN
        assert (
            session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.alert_id == other.id, Delivery.status == DeliveryStatus.PENDING)
            )
            == 1
        )


def test_other_people_and_the_crm_customer_are_left_as_they_were(
    db: Database, seeded: Seeded
) -> None:
    with db.transaction() as session:
        erase(session, "mastodon", HANDLE, by="dpo")
    with db.transaction() as session:
        bystander = session.scalar(select(AuthorRecord).where(AuthorRecord.handle == OTHER))
        assert bystander is not None and bystander.profile is not None
        (text,) = session.scalars(
            select(MentionRecord.text).where(MentionRecord.author_id == bystander.id)
        )
        assert text == "Brewly awful"
        customer = session.scalar(select(Customer).where(Customer.external_id == "C-9"))
        assert customer is not None and customer.email == "zed@example.com"
        assert customer.identities == []


def test_a_mixed_conversation_keeps_its_alert_showing_their_mention_erased(db: Database) -> None:
    store(
        db,
        (post("t3_a", author="zephyrine", text="awful"), ANGRY),
        (post("t1_b", author="lisa", thread="t3_a", text="awful too"), ANGRY),
    )
    with db.transaction() as session:
        (alert,) = escalate_pending(session, EscalationConfig(), ROUTING, now=POST_T0)
        alert_id = alert.id
        report = erase(session, "reddit", "u/Zephyrine", by="dpo")
    assert (report.counts.alerts, report.counts.alerts_resolved) == (1, 0)
    with db.transaction() as session:
        alert = session.get(Alert, alert_id)
        assert (alert.status, alert.thread_key, alert.mention_count) == (
            AlertStatus.OPEN,
            "reddit:t3_a",
            2,
        )
        assert alert.first_mention.erased_at is not None and alert.first_mention.text == ""
        lisa = session.scalar(select(MentionRecord).where(MentionRecord.native_id == "t1_b"))
        assert (lisa.thread_id, lisa.text) == ("t3_a", "awful too")
        # What people see: the alert page, the message still to be sent, the search.
        detail = get_alert(session, alert_id)
        shown = [(m.handle, m.text, m.deleted) for m in detail.mentions]
        assert shown == [("(erased 1)", "", True), ("lisa", "awful too", False)]
        message = alert_message(alert)
        assert (message.author, message.url) == ("(erased 1)", "")
        assert "awful" not in message.text
        rows = search_mentions(session).rows
        assert [(row.author_handle, row.excerpt) for row in rows] == [
            ("lisa", "awful too"),
            ("(erased 1)", ""),
        ]


def test_an_erased_person_who_posts_again_is_collected_as_a_new_author(db: Database) -> None:
    with db.transaction() as session:
        store_batch(session, "reddit", "src", Batch([post("t3_a", author="zephyrine")], None))
        erase(session, "reddit", "zephyrine", by="dpo")
        store_batch(session, "reddit", "src", Batch([post("t3_b", author="zephyrine")], None))
        classify_pending(session, LexiconClassifier(), limit=10)
    with db.transaction() as session:
        authors = session.scalars(select(AuthorRecord.handle).order_by(AuthorRecord.id)).all()
        labelled = session.scalars(
            select(MentionRecord.native_id).join(SentimentRecord).order_by(MentionRecord.id)
        ).all()
    assert authors == ["(erased 1)", "zephyrine"]
    assert labelled == ["t3_b"]  # the erased one, with no text, is never classified


def test_an_erasure_waits_while_a_reply_to_them_is_being_posted(
    db: Database, seeded: Seeded
) -> None:
    with db.transaction() as session:
        session.get(Reply, seeded.reply_id).status = ReplyStatus.SENDING
    with db.transaction() as session, pytest.raises(Conflict, match="being posted"):
        erase(session, "mastodon", HANDLE, by="dpo")
    with db.transaction() as session:
        assert places_holding(session, WORD)


def test_nothing_held_about_an_unknown_handle_records_nothing(db: Database, seeded: Seeded) -> None:
    with db.transaction() as session:
        report = erase(session, "reddit", "nobody_here", by="dpo")
        assert report.nothing_held and report.erasure_id is None
        assert session.scalar(select(func.count()).select_from(Erasure)) == 0
        with pytest.raises(InvalidInput, match="not a Reddit username"):
            preview(session, "reddit", "no such name!")


def test_the_export_holds_every_kind_of_record_about_them(db: Database, seeded: Seeded) -> None:
    with db.transaction() as session:
        document = export_person(session, "mastodon", HANDLE, now=LATER)
    assert document is not None
    assert (document["schema"], document["schema_version"]) == (SCHEMA, SCHEMA_VERSION)
    assert document["subject"] == {"network": "mastodon", "handle": HANDLE}
    author = document["author"]
    assert (author["handle"], author["customer"], author["do_not_contact"]["by"]) == (
        HANDLE,
        "C-9",
        "ann",
    )
    assert author["profile"]["note"] == "I am zephyrine, café lover"
    assert document["identities"] == [
        {"network": "mastodon", "handle": HANDLE, "source": "crm", "customer": "C-9"}
    ]
    assert [c["id"] for c in document["customers"]] == ["C-9"]
    assert document["customers"][0]["email"] == "zed@example.com"
    texts = [m["text"] for m in document["mentions"]]
    assert texts == [
        f"Brewly broke again, {WORD} awful, café closed",
        f"ok Brewly is {WORD} nice now",
    ]
    assert [m["sentiment"]["label"] for m in document["mentions"]] == ["negative", "positive"]
    assert {a["id"]: a["status"] for a in document["alerts"]} == {
        seeded.alert_id: "open",
        seeded.crisis_id: "open",
    }
    (suggestion,) = document["link_suggestions"]
    assert (suggestion["customer"], suggestion["status"]) == ("C-10", "rejected")
    assert document["ambassador"]["score"] == 2.5
    assert document["ambassador"]["review"]["note"] == "zephyrine is lovely"
    (reply,) = document["replies"]
    assert (reply["status"], reply["posted_url"]) == ("sent", "https://social.example/@brewly/99")
    assert [event["action"] for event in reply["history"]] == ["drafted", "sent"]
    assert document["erasures"] == []


def test_the_export_after_an_erasure_says_only_that_it_happened(
    db: Database, seeded: Seeded
) -> None:
    with db.transaction() as session:
        erase(session, "mastodon", HANDLE, by="dpo")
    with db.transaction() as session:
        document = export_person(session, "mastodon", HANDLE)
        assert export_person(session, "reddit", "never_seen") is None
    assert document is not None
    assert (document["author"], document["mentions"], document["replies"]) == (None, [], [])
    assert [past["erased_by"] for past in document["erasures"]] == ["dpo"]


# -- the command line ---------------------------------------------------------------------


@pytest.fixture
def config(write_config, db_url: str) -> Path:
    return write_config(brands=[BRAND], database={"url": db_url})


def test_export_command_writes_valid_json_with_the_text_as_written(
    config: Path, seeded: Seeded, tmp_path: Path
) -> None:
    target = tmp_path / "them.json"
    done = social_crm(
        "privacy", "export", "mastodon", f"@{HANDLE}", "-o", str(target), "-c", str(config)
    )
    assert done.returncode == 0, done.stderr
    assert "2 mention(s), 1 reply(ies) written to" in done.stderr
    raw = target.read_text(encoding="utf-8")
    assert "café" in raw  # not \u00e9
    assert json.loads(raw)["mentions"][0]["text"].endswith("café closed")


def test_erase_command_asks_first_and_refuses_without_a_terminal(
    config: Path, seeded: Seeded
) -> None:
    refused = social_crm("privacy", "erase", "mastodon", HANDLE, "-c", str(config))
    assert one_error_line(refused, code=refused.returncode).endswith(
        "no terminal to confirm at; pass --yes to erase without asking"
    )
    assert refused.returncode != 0
    done = social_crm(
        "privacy", "erase", "mastodon", HANDLE, "--yes", "--by", "dpo", "-c", str(config)
    )
    assert done.returncode == 0, done.stderr
    assert f"erased mastodon:{HANDLE} (erasure 1):" in done.stdout
    assert "2  mention(s) kept as counts: no text, author or link" in done.stdout
    assert "customer C-9 is kept" in done.stdout
    for line in done.stdout.splitlines():
        assert len(line) <= 80, line
    again = social_crm("privacy", "erase", "mastodon", HANDLE, "--yes", "-c", str(config))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"nothing is held about mastodon:{HANDLE} (erased ")
    assert "by dpo)" in again.stdout


def test_unknown_handles_and_bad_spellings_get_one_line(config: Path, db: Database) -> None:
    unknown = social_crm("privacy", "export", "reddit", "someone_else", "-c", str(config))
    assert (unknown.returncode, unknown.stdout) == (0, "")
    assert unknown.stderr.strip() == "nothing is held about reddit:someone_else"
    bad = social_crm("privacy", "erase", "reddit", "not a name", "--yes", "-c", str(config))
    assert "is not a Reddit username" in one_error_line(bad, code=bad.returncode)
