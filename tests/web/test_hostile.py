"""Hostile content in the dashboard: post texts, handles, display names, profile fields,
CRM fields and reply texts written to attack the page stay inert text in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from connectors.base import Author, Mention
from social_crm.ambassadors import scoring
from social_crm.config import EngagementConfig
from social_crm.customers.models import Customer, LinkSuggestion
from social_crm.db import Database
from social_crm.engagement import lifecycle
from social_crm.mentions.models import AuthorRecord

from ..escalation import ingest_and_escalate
from ..factories import HAPPY, POST_T0, store
from .people import sign_in

pytestmark = pytest.mark.browser

PAYLOADS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "</textarea><script>alert(2)</script>",
    "{{7*7}}",
    "<svg onload=alert(1)>",
    "'><iframe src=javascript:alert(1)></iframe>",
    '<a href="javascript:alert(1)">click me</a>',
    "<details open ontoggle=alert(1)>",
    "</title><style>body{display:none}</style>",
)
HOSTILE_URL = "javascript:alert(document.cookie)"


def hostile_mention(index: int, payload: str, *, text: str) -> Mention:
    """A post whose text, author handle, display name and links are all ``payload``."""
    return Mention(
        network="reddit",
        native_id=f"hostile-{index}-{text[:4]}",
        brand="Brewly",
        source="Brewly:src",
        url=HOSTILE_URL,
        author=Author(
            network="reddit",
            handle=f"{payload}{index}",
            display_name=payload,
            url=HOSTILE_URL,
            followers=5,
        ),
        text=f"{text} {payload}",
        created_at=POST_T0,
        kind="post",
        thread_id=f"hostile-{index}-{text[:4]}",
    )


@pytest.fixture(scope="module", autouse=True)
def hostile(web_db: Database) -> list[int]:
    """Alerts, ambassadors, a customer and a link suggestion made of the payloads."""
    alert_ids = ingest_and_escalate(
        web_db,
        *(hostile_mention(i, p, text="Brewly is awful and broken") for i, p in enumerate(PAYLOADS)),
    )
    store(
        web_db,
        *((hostile_mention(i, p, text="I love Brewly"), HAPPY) for i, p in enumerate(PAYLOADS)),
    )
    with web_db.transaction() as session:
        scoring.recompute(session, full=True)
        customer = Customer(
            external_id="X-1",
            name=PAYLOADS[0],
            email=PAYLOADS[1],
            tier=PAYLOADS[5],
            status=PAYLOADS[4],
            website=HOSTILE_URL,
        )
        session.add(customer)
        session.flush()
        authors = session.query(AuthorRecord).order_by(AuthorRecord.id).all()
        authors[0].customer_id = customer.id
        authors[0].profile = {
            "note": PAYLOADS[3],
            "fields": [{"name": PAYLOADS[1], "value": PAYLOADS[5]}],
        }
        session.add(
            LinkSuggestion(
                author_id=authors[1].id,
                customer_id=customer.id,
                confidence=0.5,
                evidence=[{"kind": PAYLOADS[7], "detail": PAYLOADS[2], "weight": 0.5}],
            )
        )
    assert len(alert_ids) == len(PAYLOADS)
    return alert_ids


def assert_inert(page: Page) -> None:
    """No script the page did not ship, no element the payloads describe, no js: link."""
    page.wait_for_timeout(200)  # an injected onerror or onload would have fired by now
    assert page.locator("script:not([src])").count() == 0
    for injected in ("img[src=x]", "svg[onload]", "iframe", "details[ontoggle]", "style"):
        assert page.locator(injected).count() == 0, injected
    for link in page.locator("a").all():
        href = (link.get_attribute("href") or "").strip().lower()
        assert not href.startswith(("javascript:", "data:", "vbscript:")), href
    assert page.locator("body").is_visible()


def test_hostile_text_is_shown_as_text_on_every_page(page: Page, hostile: list[int]) -> None:
    sign_in(page, "ada")
    assert_inert(page)
    body = page.locator("body")
    for payload in PAYLOADS:
        expect(body).to_contain_text(f"Brewly is awful and broken {payload}")
    expect(body).not_to_contain_text("Brewly is awful and broken 49")
    for alert_id in hostile:
        page.goto(f"/alerts/{alert_id}")
        assert_inert(page)
        expect(page.get_by_text("Open the original post (no web address)")).to_be_visible()
    page.goto(f"/alerts/{hostile[0]}")
    expect(page.locator(".post-text").first).to_have_text(
        f"Brewly is awful and broken {PAYLOADS[0]}"
    )
    expect(page.locator(".handle").first).to_have_text(f"{PAYLOADS[0]}0")
    for path in ("/ambassadors", "/ambassadors?view=rising", "/links", "/customers/X-1"):
        page.goto(path)
        assert_inert(page)
    page.goto("/customers/X-1")
    expect(page.get_by_role("heading", level=1)).to_have_text(PAYLOADS[0])
    expect(page.locator(".facts")).to_contain_text(PAYLOADS[1])
    expect(page.locator(".facts")).to_contain_text(PAYLOADS[4])
    page.goto("/links")
    expect(page.locator(".evidence")).to_contain_text(PAYLOADS[2])
    expect(page.locator(".evidence")).to_contain_text(PAYLOADS[7])
    page.goto("/ambassadors")
    expect(page.locator("body")).to_contain_text(f"{PAYLOADS[6]}6")


def test_hostile_notes_stay_text(page: Page, hostile: list[int]) -> None:
    sign_in(page, "cora", to=f"/alerts/{hostile[1]}")
    for payload in PAYLOADS:
        page.get_by_label("Add a note for the team").fill(payload)
        page.get_by_role("button", name="Add note").click()
        expect(page.get_by_role("status")).to_have_text("Note added.")
    assert_inert(page)
    notes = page.locator(".note-text")
    expect(notes).to_have_text(list(PAYLOADS))


@pytest.fixture(scope="module")
def hostile_replies(web_db: Database, hostile: list[int]) -> list[int]:
    """A draft answering each hostile alert, its own text the payload; their ids."""
    ids = []
    with web_db.transaction() as session:
        for alert_id, payload in zip(hostile, PAYLOADS, strict=True):
            reply = lifecycle.draft(
                session,
                lifecycle.alert_mention(session, alert_id),
                by="ada",
                config=EngagementConfig(),
                text=f"Reply {payload}",
            )
            ids.append(reply.id)
    return ids


def test_hostile_replies_and_the_posts_they_answer_stay_text(
    page: Page, hostile_replies: list[int]
) -> None:
    sign_in(page, "cora", to="/replies")
    assert_inert(page)
    for reply_id, payload in zip(hostile_replies, PAYLOADS, strict=True):
        reply = page.locator("article.reply").filter(
            has=page.get_by_role("link", name=f"Reply #{reply_id}", exact=True)
        )
        expect(reply.get_by_label("Reply text")).to_have_value(f"Reply {payload}")
        expect(reply.locator(".mention-text")).to_have_text(f"Brewly is awful and broken {payload}")
        expect(reply.get_by_text("Open the post (no web address)")).to_be_visible()
    first = hostile_replies[0]
    for path in (f"/replies/{first}", f"/replies/{first}/preview", "/replies?status=all"):
        page.goto(path)
        assert_inert(page)
    page.goto(f"/replies/{hostile_replies[3]}/preview")
    expect(page.locator("pre.outgoing")).to_have_text(f"Reply {PAYLOADS[3]}")
    # Saved through the form, the payload is stored and shown exactly as typed.
    page.goto(f"/replies/{hostile_replies[1]}")
    page.get_by_label("Reply text").fill(PAYLOADS[3])
    page.get_by_role("button", name=re.compile("^Approve")).click()
    assert_inert(page)
    expect(page.locator(".reply-text")).to_have_text(PAYLOADS[3])
