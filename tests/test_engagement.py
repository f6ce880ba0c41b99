"""Replies: templates checked at load, drafts proposed by rules, and a lifecycle people follow."""

from __future__ import annotations

import copy
import dataclasses
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from social_crm.config import EngagementConfig, Situation, load_config
from social_crm.db import Database
from social_crm.engagement import lifecycle, service
from social_crm.engagement.enums import ReplyStatus
from social_crm.engagement.lifecycle import TRANSITIONS
from social_crm.engagement.models import Reply
from social_crm.engagement.proposals import propose_pending
from social_crm.errors import ConfigError, Conflict, InvalidTransition, NotFound

from .escalation import escalate
from .factories import (
    ANGRY,
    BRAND,
    ENGAGEMENT,
    HAPPY,
    POST_T0,
    link_customer,
    post,
    store,
)

CONFIG = EngagementConfig.model_validate(ENGAGEMENT)
SOON = POST_T0 + timedelta(hours=1)


def engagement(**changes: Any) -> dict[str, Any]:
    """The test engagement section with ``changes`` applied to its first template."""
    section = copy.deepcopy(ENGAGEMENT)
    section["templates"][0].update(changes)
    return section


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        (
            {
                **ENGAGEMENT,
                "templates": [
                    *ENGAGEMENT["templates"],
                    {
                        "name": "apology-nl-2",
                        "brand": "Brewly",
                        "situation": "custom",
                        "language": "nl",
                        "text": "Sorry {klant}, we bellen je.",
                    },
                ],
            },
            "engagement.templates[4] 'apology-nl-2': unknown variable {klant}; "
            "known: author, brand, customer_name, link",
        ),
        (
            engagement(auto_send=True),
            "engagement.templates[0] 'apology-en': auto_send is refused for apologies",
        ),
        (
            engagement(text="Sorry {author"),
            "engagement.templates[0] 'apology-en': text is not a valid template",
        ),
        (
            {
                **ENGAGEMENT,
                "templates": [
                    *ENGAGEMENT["templates"],
                    {"name": "hi", "brand": "Brewlie", "situation": "custom", "text": "Hi"},
                ],
            },
            "engagement.templates[4] 'hi': unknown brand 'Brewlie'; brands: Brewly",
        ),
        (
            {**ENGAGEMENT, "brands": {}},
            "engagement.templates[0] 'apology-en': uses {link}, "
            "but engagement.brands.Brewly.link is not set",
        ),
        (
            {**ENGAGEMENT, "rules": [{"name": "r", "situation": "apology"}], "templates": []},
            "engagement.rules[0] 'r': no template has situation apology",
        ),
    ],
)
def test_templates_are_checked_when_the_configuration_loads(
    write_config, section: dict[str, Any], expected: str
) -> None:
    path = write_config(brands=[BRAND], engagement=section)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {expected}"), message
    assert "\n" not in message and "(line " in message  # one line, pointing into the file


def test_a_valid_section_loads_with_its_defaults(write_config) -> None:
    settings = load_config(write_config(brands=[BRAND], engagement=ENGAGEMENT))
    limits = settings.engagement.limits_for("reddit")
    assert (limits.per_author.count, limits.per_author.minutes) == (1, 60)
    assert (limits.per_thread.count, limits.per_thread.minutes) == (1, 10)
    assert (limits.per_account.count, limits.per_account.minutes) == (30, 60)
    assert settings.engagement.recovery_window_days == 14
    assert settings.engagement.dry_run is False
    own = {**ENGAGEMENT, "network_limits": {"mastodon": {"per_author": {"count": 2, "minutes": 5}}}}
    mastodon = load_config(write_config(brands=[BRAND], engagement=own)).engagement
    assert mastodon.limits_for("mastodon").per_author.count == 2
    assert mastodon.limits_for("mastodon").per_thread.minutes == 10  # the shared limit


@pytest.fixture
def complaints(db: Database) -> None:
    """Anna, a customer, complains in Dutch; bob (a stranger) praises; carl asks, angrily."""
    store(
        db,
        (dataclasses.replace(post("t3_nl", author="anna", text="Slecht!"), language="nl"), ANGRY),
        (dataclasses.replace(post("t3_de", author="dora", text="Schlecht!"), language="de"), ANGRY),
        (post("t3_ok", author="bob", text="Love my Brewly"), HAPPY),
        (post("t3_q", author="carl", text="Why is it broken?"), ANGRY),
    )
    link_customer(db, "anna", name="Anna de Vries")
    link_customer(db, "dora", name="Dora Schmidt", key="C-2")
    escalate(db)


def mention_id(db: Database, native_id: str) -> int:
    from social_crm.mentions.models import MentionRecord

    with db.transaction() as session:
        found = session.scalar(select(MentionRecord.id).where(MentionRecord.native_id == native_id))
        assert found is not None
        return found


def proposals(db: Database) -> dict[str, Reply]:
    """Every reply, by the native id of the mention it answers."""
    from social_crm.mentions.models import MentionRecord

    with db.transaction() as session:
        rows = session.execute(
            select(MentionRecord.native_id, Reply).join(Reply, Reply.mention_id == MentionRecord.id)
        ).all()
        return {native_id: reply for native_id, reply in rows}


def test_a_negative_customer_mention_gets_an_apology_draft_in_its_language(
    db: Database, complaints: None
) -> None:
    with db.transaction() as session:
        proposed = propose_pending(session, CONFIG, [], now=SOON)
    assert len(proposed) == 4
    found = proposals(db)
    anna = found["t3_nl"]
    assert (anna.template, anna.language, anna.status) == ("apology-nl", "nl", "draft")
    assert anna.text == "Sorry, Anna de Vries! We hebben je een bericht gestuurd."
    assert anna.created_by == "rule:sorry-customers" and anna.alert_id is not None
    assert anna.customer_id is not None
    # German has no template: the brand's default language does.
    assert (found["t3_de"].template, found["t3_de"].language) == ("apology-en", "en")
    assert found["t3_de"].text.endswith("see also https://brewly.example/help")
    # Praise gets the thanks template, which is sent without approval (auto_send).
    bob = found["t3_ok"]
    assert (bob.template, bob.status, bob.approved_by) == ("thanks-en", "approved", "auto-send")
    # A negative question: auto_send is refused, the draft waits for a person.
    carl = found["t3_q"]
    assert (carl.template, carl.status, carl.approved_by) == ("answer-en", "draft", None)
    with db.transaction() as session:
        history = service.get_reply(session, carl.id).history
        assert [step.action for step in history] == ["drafted", "auto-send refused"]
        # Each mention is looked at once: a second pass proposes nothing more.
        assert propose_pending(session, CONFIG, [], now=SOON) == []
    assert len(proposals(db)) == 4


def test_no_draft_for_the_brands_own_posts_opted_out_authors_or_old_mentions(
    db: Database,
) -> None:
    from social_crm.ambassadors.review import review
    from social_crm.config import Brand

    store(
        db,
        (post("t3_own", author="brewly_support", text="We love Brewly"), HAPPY),
        (post("t3_out", author="olga", text="Love it"), HAPPY),
        (
            post("t3_old", author="paul", text="Love it", created_at=POST_T0 - timedelta(days=9)),
            HAPPY,
        ),
        (post("t3_new", author="quinn", text="Love it"), HAPPY),
    )
    escalate(db)
    with db.transaction() as session:
        review(session, "reddit:olga", status="opted_out", by="maria")
    brand = Brand.model_validate({**BRAND, "accounts": {"reddit": "u/Brewly_Support"}})
    with db.transaction() as session:
        proposed = propose_pending(session, CONFIG, [brand], now=SOON)
        assert [reply.mention.native_id for reply in proposed] == ["t3_new"]


def test_a_person_drafts_edits_approves_and_rejects_and_each_step_is_recorded(
    db: Database, complaints: None
) -> None:
    target = mention_id(db, "t3_q")
    with db.transaction() as session:
        reply = lifecycle.draft(
            session, target, by="maria", config=CONFIG, situation=Situation.APOLOGY, now=SOON
        )
        reply_id = reply.id
        assert reply.alert_id is not None and reply.text.startswith("Sorry, carl!")
    later = SOON + timedelta(minutes=5)
    with db.transaction() as session:
        lifecycle.edit(session, reply_id, text="Sorry Carl, we are on it.", by="joost", now=later)
        lifecycle.approve(session, reply_id, by="maria", config=CONFIG, now=later)
    with db.transaction() as session:
        # Editing an approved reply withdraws the approval.
        lifecycle.edit(session, reply_id, text="Sorry Carl, fixed.", by="joost", now=later)
    with db.transaction() as session:
        detail = service.get_reply(session, reply_id)
    assert detail.summary.status == "draft" and detail.summary.approved_by is None
    assert (detail.edited_by, detail.edited_at) == ("joost", later)
    assert detail.summary.text == "Sorry Carl, fixed."
    assert [(s.action, s.by) for s in detail.history] == [
        ("drafted", "maria"),
        ("edited", "joost"),
        ("approved", "maria"),
        ("edited", "joost"),
    ]
    assert detail.history[-1].note == "approval withdrawn"
    with db.transaction() as session:
        lifecycle.reject(session, reply_id, by="maria", note="too late", now=later)
    with db.transaction() as session, pytest.raises(InvalidTransition) as raised:
        lifecycle.approve(session, reply_id, by="maria", config=CONFIG)
    assert str(raised.value) == f"reply {reply_id} is rejected; only drafts can be approved"
    with db.transaction() as session:
        detail = service.get_reply(session, reply_id)
    assert (detail.summary.status, detail.rejected_by, detail.rejected_at) == (
        "rejected",
        "maria",
        later,
    )


def test_drafts_from_a_named_template_or_own_text_and_their_mistakes(
    db: Database, complaints: None
) -> None:
    target = mention_id(db, "t3_ok")
    with db.transaction() as session:
        own = lifecycle.draft(session, target, by="maria", config=CONFIG, text="Thanks Bob!")
        named = lifecycle.draft(
            session, target, by="maria", config=CONFIG, template="thanks-en", private=True
        )
        assert (own.situation, own.template, own.text) == ("custom", None, "Thanks Bob!")
        assert named.private and named.subject == "Your post about Brewly"
        assert named.key != own.key
    with db.transaction() as session:
        with pytest.raises(NotFound, match="no reply template 'thanks-fr'; templates: apology-en"):
            lifecycle.draft(session, target, by="maria", config=CONFIG, template="thanks-fr")
        with pytest.raises(NotFound, match="no mention with id 999"):
            lifecycle.draft(session, 999, by="maria", config=CONFIG, text="hi")
        with pytest.raises(Conflict, match="exactly one of"):
            lifecycle.draft(session, target, by="maria", config=CONFIG)
        with pytest.raises(Conflict, match="answers no alert"):
            lifecycle.approve(session, own.id, by="maria", config=CONFIG, resolve_alert=True)


def test_the_transition_table_covers_every_status_and_final_ones_stay() -> None:
    assert set(TRANSITIONS) == set(ReplyStatus)
    for final in (ReplyStatus.SENT, ReplyStatus.REJECTED, ReplyStatus.SKIPPED):
        assert TRANSITIONS[final] == frozenset()
    assert ReplyStatus.SENT not in TRANSITIONS[ReplyStatus.DRAFT]  # never without approval
    assert ReplyStatus.SENT not in TRANSITIONS[ReplyStatus.APPROVED]  # never without sending
