"""The dashboard in a real browser, as community managers and marketers use it: every page
at laptop and phone width (screenshots in test-artifacts/screenshots/, axe-core on each),
an alert acknowledged, noted, resolved and reopened, new alerts arriving by themselves, an
ambassador approved and the ranking downloaded, a link suggestion confirmed."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from social_crm.db import Database

from . import seed
from .people import sign_in
from .screens import shoot

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module", autouse=True)
def story(web_db: Database, tmp_path_factory: pytest.TempPathFactory) -> int:
    """A complaint thread with its alert, three fans, two customers; the alert's id."""
    alert_id = seed.complaint(web_db)
    seed.fans(web_db)
    seed.customers(web_db, tmp_path_factory.mktemp("crm"))
    return alert_id


def test_every_page_reads_well_on_a_laptop_and_a_phone(page: Page, story: int) -> None:
    page.goto("/alerts")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Falerts$"))
    shoot(page, "login")
    sign_in(page, "ada")
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    shoot(page, "alerts")
    page.goto(f"/alerts/{story}")
    shoot(page, "alert")
    for view in ("ranking", "rising", "pending"):
        page.goto(f"/ambassadors?view={view}")
        shoot(page, f"ambassadors-{view}")
    page.goto("/links")
    shoot(page, "links")
    page.goto("/customers/C-1")
    shoot(page, "customer")
    page.goto("/alerts/9999")
    shoot(page, "not-found")


def test_the_inbox_filters_and_shows_the_whole_conversation(page: Page, story: int) -> None:
    sign_in(page, "vic")
    page.get_by_label("Severity").select_option("critical")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_text("No alerts match these filters.")).to_be_visible()
    page.get_by_label("Severity").select_option("")
    page.get_by_label("Network").select_option("reddit")
    page.get_by_role("button", name="Show").click()
    card = page.get_by_role("listitem").filter(has_text="Brewly broke my grinder")
    card.get_by_role("link").click()
    expect(page.get_by_role("heading", name=re.compile(f"Alert #{story}"))).to_be_visible()
    conversation = page.locator(".conversation > li")
    expect(conversation).to_have_count(3)
    expect(conversation.nth(2)).to_contain_text("Sorry! DM us please.")
    original = conversation.first.get_by_role("link", name=re.compile("Open the original post"))
    expect(original).to_have_attribute("href", "https://www.reddit.com/t1")
    expect(original).to_have_attribute("rel", "noopener nofollow ugc")
    expect(page.get_by_role("link", name="Greta Grumble")).to_have_attribute(
        "href", "/customers/C-1"
    )
    # A viewer reads but has no buttons to act with.
    expect(page.get_by_role("button", name="Acknowledge")).to_have_count(0)


def test_a_community_manager_acknowledges_notes_resolves_and_reopens(
    page: Page, story: int
) -> None:
    sign_in(page, "cora", to=f"/alerts/{story}")
    # By keyboard: the first Tab reaches the skip link, which leads to the content.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.get_by_role("button", name="Acknowledge").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Alert acknowledged: it no longer escalates.")
    expect(page.locator(".facts")).to_contain_text("by cora")
    page.get_by_label("Assign to").select_option("mark")
    page.get_by_role("button", name="Assign", exact=True).click()
    expect(page.locator(".facts")).to_contain_text("mark")
    page.get_by_label("Add a note for the team").fill("Called Greta, replacement grinder sent.")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".notes")).to_contain_text("Called Greta, replacement grinder sent.")
    expect(page.locator(".notes")).to_contain_text("cora")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator(".card-head").first).to_contain_text("Resolved")
    expect(page.locator(".facts")).to_contain_text("Resolved")
    page.get_by_role("button", name="Reopen").click()
    expect(page.get_by_role("status")).to_have_text("Alert reopened.")
    expect(page.get_by_role("button", name="Acknowledge")).to_be_visible()


def test_new_alerts_appear_without_a_reload(page: Page, web_db: Database) -> None:
    sign_in(page, "cora")
    page.evaluate("window.notReloaded = true")
    seed.complaint(web_db, "t2", author="angry_andy")
    expect(page.get_by_text("angry_andy")).to_be_visible(timeout=5_000)
    assert page.evaluate("window.notReloaded") is True


def test_a_marketer_approves_an_ambassador_and_downloads_the_ranking(
    page: Page, tmp_path: Path
) -> None:
    sign_in(page, "mark", to="/ambassadors")
    fan = page.get_by_role("listitem").filter(has_text="happy_hanna")
    expect(fan.get_by_role("link", name=re.compile("Profile on Reddit"))).to_have_attribute(
        "href", "https://www.reddit.com/user/happy_hanna"
    )
    fan.get_by_text("How the score is made").click()
    expect(fan.get_by_text("Recent praise")).to_be_visible()
    fan.get_by_label("Note (optional)").fill("Great fit for the spring campaign")
    fan.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_have_text("Approved.")
    fan = page.get_by_role("listitem").filter(has_text="happy_hanna")
    expect(fan).to_contain_text("Approved by mark")
    expect(fan).to_contain_text("Great fit for the spring campaign")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile("Download CSV")).click()
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    assert saved.name == "ambassadors.csv"
    rows = list(csv.DictReader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert rows[0]["author"] == "happy_hanna"
    assert rows[0]["review"] == "approved"
    assert float(rows[0]["from_recency"]) > 0


def test_a_link_suggestion_is_confirmed_and_shows_on_the_customer(page: Page) -> None:
    sign_in(page, "cora", to="/links")
    suggestion = page.get_by_role("listitem").filter(has_text="roasting_rick")
    expect(suggestion).to_contain_text("grant-roasters.com")
    suggestion.get_by_role("button", name=re.compile("Confirm link")).click()
    expect(page.get_by_role("status")).to_contain_text("Linked")
    expect(page.get_by_text("No suggestions are waiting.")).to_be_visible()
    page.goto("/customers/C-2")
    expect(page.get_by_role("cell", name="roasting_rick")).to_be_visible()
    expect(page.get_by_text("Brewly beans are fine")).to_be_visible()
