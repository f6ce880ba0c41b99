"""The mentions search and the overview in a real browser: searching, loading more, links
that leave the site, the charts drawn under the CSP, both pages at laptop and phone width."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import Page, expect

from connectors.errors import ConnectorError
from social_crm.db import Database, heartbeats
from social_crm.db.base import utcnow
from social_crm.mentions import sources

from ..stored import alert, author, customer, mention
from .people import sign_in
from .screens import script_errors, shoot

pytestmark = pytest.mark.browser

CALM = 60  # neutral mentions by Anna, more than one page


@pytest.fixture(scope="module", autouse=True)
def mentions(web_db: Database) -> None:
    """Anna's calm posts; Erik, a customer, complains twice about the espresso (one alert);
    a Mastodon source failing for two hours; a daemon beating."""
    now = utcnow()
    # Every mention in the current week, whatever the day: the overview shows this week's.
    monday = datetime.combine(now.date() - timedelta(days=now.weekday()), time(), tzinfo=UTC)
    moments = [monday + (now - monday) * k / (CALM + 3) for k in range(1, CALM + 3)]
    with web_db.transaction() as session:
        erik = author(
            session, "erik", display_name="Erik J", customer=customer(session, "C-1", "Erik Jansen")
        )
        anna = author(session, "anna@mastodon.nl", network="mastodon", display_name="Anna")
        for n in range(CALM):
            mention(
                session,
                anna,
                at=moments[CALM - 1 - n],
                text=f"Brewly espresso, cup number {n}",
                label="neutral",
            )
        first = mention(
            session, erik, at=moments[CALM], text="My espresso tastes burnt", label="negative"
        )
        mention(session, erik, at=moments[CALM + 1], text="Espresso still burnt", label="negative")
        alert(session, first, severity="high")
        for minutes in (120, 60):
            sources.record_failure(
                session,
                "mastodon",
                "Brewly:search",
                ConnectorError("HTTP 503 from mastodon.nl"),
                now=now - timedelta(minutes=minutes),
                floor=60,
            )
        heartbeats.start(session, interval_seconds=60, now=now)


def test_a_search_narrows_the_mentions_and_its_address_shares_it(page: Page) -> None:
    sign_in(page, "vic", to="/mentions")
    expect(page.get_by_role("heading", name="Mentions", exact=True)).to_be_visible()
    page.get_by_label("Words").fill("ESPRESSO")
    page.get_by_label("Sentiment").select_option("negative")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"/mentions\?"))
    assert parse_qs(urlsplit(page.url).query) == {"q": ["ESPRESSO"], "sentiment": ["negative"]}
    rows = page.locator("tr.mention-row")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Espresso still burnt")
    expect(rows.nth(1)).to_contain_text("My espresso tastes burnt")
    # The address alone gives the same search, in a new tab too.
    shared = page.context.new_page()
    shared.goto(page.url)
    expect(shared.locator("tr.mention-row")).to_have_count(2)
    expect(shared.get_by_label("Words")).to_have_value("ESPRESSO")


def test_a_row_links_to_the_post_the_customer_and_the_alert(page: Page) -> None:
    sign_in(page, "vic", to="/mentions?author=reddit:erik")
    row = page.locator("tr.mention-row").filter(has_text="My espresso tastes burnt")
    original = row.get_by_role("link", name=re.compile("Original post"))
    expect(original).to_have_attribute("rel", "noopener nofollow ugc")
    expect(original).to_have_attribute("href", re.compile(r"^https://example\.com/n\d+$"))
    expect(row.get_by_role("link", name="Erik Jansen")).to_have_attribute("href", "/customers/C-1")
    row.get_by_role("link", name=re.compile(r"^#\d+$")).click()
    expect(page.get_by_role("heading", name=re.compile(r"^Alert #\d+"))).to_be_visible()


def test_load_more_adds_the_next_mentions_below_without_repeating_any(page: Page) -> None:
    sign_in(page, "vic", to="/mentions?author=anna@mastodon.nl")
    rows = page.locator("tr.mention-row")
    expect(rows).to_have_count(50)
    page.get_by_role("link", name="Load more").click()
    expect(rows).to_have_count(CALM)
    expect(page.get_by_role("link", name="Load more")).to_have_count(0)
    texts = rows.locator("p.excerpt").all_inner_texts()
    assert texts == [f"Brewly espresso, cup number {n}" for n in range(CALM)]
    assert page.url.endswith("/mentions?author=anna@mastodon.nl")  # still the first page's address


def test_the_mentions_page_at_laptop_and_phone_width(page: Page) -> None:
    errors = script_errors(page)
    sign_in(page, "vic", to="/mentions")
    expect(page.locator("tr.mention-row")).to_have_count(50)
    shoot(page, "mentions")
    assert errors == []


def test_the_overview_draws_its_charts_and_shows_a_failing_source(page: Page) -> None:
    errors = script_errors(page)
    sign_in(page, "vic", to="/overview")
    brewly = page.locator("section.brand-overview").filter(
        has=page.get_by_role("heading", name="Brewly")
    )
    # Three charts drawn (daily, weekly volume; satisfaction), each a canvas in its box.
    expect(brewly.locator(".chart canvas")).to_have_count(3)
    this_week = brewly.locator(".satisfaction-table tbody tr").first
    expect(this_week).to_contain_text(str(CALM + 2))
    # 60 neutral and 2 negative of 62 classified: -2/62 of the way, shown as -3.
    expect(this_week.locator("td").last).to_have_text("-3")
    expect(brewly.get_by_role("link", name=re.compile("High 1"))).to_have_attribute(
        "href", "/alerts?brand=Brewly&severity=high"
    )
    source = page.locator("table.sources tr").filter(has_text="Brewly:search")
    expect(source).to_contain_text("Failing")
    expect(source).to_contain_text("since 2 h ago, 2 polls in a row")
    expect(source).to_contain_text("HTTP 503 from mastodon.nl")
    expect(page.get_by_text("The daemon is listening")).to_be_visible()
    shoot(page, "overview")
    assert errors == []
