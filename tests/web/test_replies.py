"""The replies page in a real browser, as a community manager uses it: a draft edited and
approved (it moves to the approved list, its history names her), another rejected with a
reason, a draft started from an alert, a dry-run preview, what was sent and what happened
after; a viewer reads it all without a button to act. Screenshots at laptop and phone
width, with axe-core."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from social_crm.config import Settings
from social_crm.db import Database

from ..factories import BRAND, ENGAGEMENT
from . import seed
from .people import sign_in
from .screens import shoot

pytestmark = pytest.mark.browser

FOOTER = "Brewly support (replies are sent with social-crm)"


@pytest.fixture(scope="module")
def web_settings() -> Settings:
    """The test brand with its reply templates and footer; cookies over plain http."""
    return Settings.model_validate(
        {"brands": [BRAND], "web": {"secure_cookies": False}, "engagement": ENGAGEMENT}
    )


@pytest.fixture(scope="module", autouse=True)
def story(web_db: Database) -> dict[str, int]:
    """Replies in every state (seed.replies), and ``alert``: a complaint's alert to answer."""
    return {**seed.replies(web_db), "alert": seed.complaint(web_db)}


def card(page: Page, reply_id: int) -> Locator:
    """The card of reply ``reply_id`` in the list."""
    return page.locator("article.reply").filter(
        has=page.get_by_role("link", name=f"Reply #{reply_id}", exact=True)
    )


def test_the_replies_pages_read_well_on_a_laptop_and_a_phone(
    page: Page, story: dict[str, int]
) -> None:
    sign_in(page, "cora", to="/replies")
    expect(page.get_by_role("heading", name="Replies", exact=True)).to_be_visible()
    shoot(page, "replies")
    page.goto("/replies?status=all")
    shoot(page, "replies-all")
    page.goto(f"/replies/{story['recovered']}")
    shoot(page, "reply")
    page.goto(f"/replies/{story['draft']}/preview")
    shoot(page, "reply-preview")
    page.goto("/replies/report")
    shoot(page, "replies-report")


def test_a_community_manager_edits_and_approves_a_draft_and_rejects_another(
    page: Page, story: dict[str, int]
) -> None:
    sign_in(page, "cora", to="/replies")
    draft = card(page, story["draft"])
    expect(draft).to_contain_text("My Brewly grinder broke. Awful, terrible support.")
    expect(draft).to_contain_text("Template apology-en")
    expect(draft).to_contain_text("drafted by rule:sorry")
    expect(draft.get_by_role("link", name="Alert #")).to_have_count(1)
    text = draft.get_by_label("Reply text")
    expect(text).to_have_value(re.compile(r"^Sorry, dora_draft! We sent you a message"))
    text.fill("Sorry Dora!\nWe sent you a message about the grinder.")
    draft.get_by_label(re.compile(r"Resolve alert #\d+ when sent")).check()
    draft.get_by_role("button", name=re.compile("^Approve")).click()
    expect(page.get_by_role("status")).to_have_text(
        f"Reply #{story['draft']}: Approved: the daemon sends it at its next pass, "
        "as its limits allow."
    )
    expect(card(page, story["draft"])).to_have_count(0)  # no longer waiting for approval
    page.get_by_label("Status").select_option("approved")
    page.get_by_role("button", name="Show").click()
    approved = card(page, story["draft"])
    expect(approved).to_contain_text("Approved by cora")
    expect(approved).to_contain_text("Queued: the daemon sends it at its next pass.")
    expect(approved.locator(".reply-text")).to_have_text(
        "Sorry Dora!\nWe sent you a message about the grinder."
    )
    held = card(page, story["held"])
    expect(held).to_contain_text("Waiting: per-author limit: 1 reply per 60 min to hugo_held")
    expect(held).to_contain_text("not before in ")
    approved.get_by_role("link", name=f"Reply #{story['draft']}", exact=True).click()
    history = page.locator("table.history tbody tr")
    expect(history).to_have_count(3)
    expect(history.nth(1)).to_contain_text("cora")
    expect(history.nth(1)).to_contain_text("Edited")
    expect(history.nth(2)).to_contain_text("cora")
    expect(history.nth(2)).to_contain_text("Approved")
    expect(history.nth(2)).to_contain_text("resolves alert")

    page.goto("/replies")
    own = card(page, story["own"])
    own.get_by_label("Reason to reject (optional)").fill("Too casual for a complaint")
    own.get_by_role("button", name=re.compile("^Reject")).click()
    expect(page.get_by_role("status")).to_have_text(
        f"Reply #{story['own']}: Rejected: it will not be sent."
    )
    expect(page.get_by_text("No drafts are waiting for approval.")).to_be_visible()
    page.goto(f"/replies/{story['own']}")
    expect(page.locator(".facts")).to_contain_text("by cora")
    last = page.locator("table.history tbody tr").last
    expect(last).to_contain_text("Rejected")
    expect(last).to_contain_text("cora")
    expect(last).to_contain_text("Too casual for a complaint")


def test_a_draft_starts_from_an_alert_and_its_preview_shows_what_would_be_posted(
    page: Page, story: dict[str, int]
) -> None:
    sign_in(page, "cora", to=f"/alerts/{story['alert']}")
    expect(page.get_by_text("No reply yet.")).to_be_visible()
    page.get_by_label("Draft a reply from a template").select_option("apology-en")
    page.get_by_role("button", name="Draft a reply").click()
    expect(page).to_have_url(re.compile(r"/replies/\d+\?done=drafted$"))
    expect(page.get_by_role("status")).to_have_text(
        "Draft started: check its text, then approve it."
    )
    reply_id = int(re.findall(r"/replies/(\d+)", page.url)[0])
    expect(page.get_by_label("Reply text")).to_have_value(
        "Sorry, grumpy_greta! We sent you a message; see also https://brewly.example/help"
    )
    expect(page.locator("table.history tbody tr")).to_have_text(
        [re.compile(r"cora\s*Drafted\s*template apology-en")]
    )
    page.get_by_role("link", name=f"Preview reply #{reply_id}").click()
    expect(page.get_by_role("status")).to_have_text("Dry run: nothing is posted.")
    expect(page.locator("pre.outgoing")).to_have_text(
        "Sorry, grumpy_greta! We sent you a message; see also https://brewly.example/help"
        f"\n\n{FOOTER}"
    )
    facts = page.locator(".facts")
    expect(facts).to_contain_text("not known without asking the network")
    expect(facts).to_contain_text("No: it is a draft; it goes once approved")
    expect(facts.get_by_role("link", name=re.compile("In answer to this post"))).to_have_attribute(
        "href", "https://www.reddit.com/t1"
    )
    page.goto(f"/alerts/{story['alert']}")
    expect(page.get_by_role("link", name=f"Reply #{reply_id}")).to_be_visible()


def test_what_was_sent_and_what_happened_after(page: Page, story: dict[str, int]) -> None:
    sign_in(page, "vic", to="/replies?status=sent")
    recovered = card(page, story["recovered"])
    expect(recovered).to_contain_text("approved by cora")
    posted = recovered.get_by_role("link", name=re.compile("See the reply on Reddit"))
    expect(posted).to_have_attribute(
        "href", "https://www.reddit.com/r/brewly/comments/rp-rec/_/reply1"
    )
    expect(recovered.locator(".after")).to_contain_text("Recovered")
    expect(recovered.locator(".reply-text")).to_contain_text("Sorry, rita_recovers!")
    expect(card(page, story["sent"]).locator(".after")).to_contain_text("Not yet")
    page.get_by_label("Status").select_option("stopped")
    page.get_by_role("button", name="Show").click()
    expect(card(page, story["skipped"])).to_contain_text(
        "Skipped: reddit:sam_skipped is not to be contacted"
    )
    expect(card(page, story["failed"])).to_contain_text(
        "Failed: the network refused the credentials: 401 invalid_grant"
    )
    # A viewer reads but has no buttons to act with, here or on the alert.
    for path in ("/replies?status=all", f"/replies/{story['failed']}"):
        page.goto(path)
        expect(
            page.get_by_role("button", name=re.compile("Approve|Reject|Try again"))
        ).to_have_count(0)
        expect(page.locator("textarea")).to_have_count(0)
    page.goto(f"/alerts/{story['alert']}")
    expect(page.get_by_role("button", name="Draft a reply")).to_have_count(0)


def test_a_marketer_cannot_approve(page: Page, story: dict[str, int]) -> None:
    sign_in(page, "mark", to="/replies?status=all")
    expect(card(page, story["sent"])).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Approve"))).to_have_count(0)
