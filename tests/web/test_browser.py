"""The dashboard in a real browser: signing in, the alerts inbox, and every page at laptop
and phone width (screenshots under test-artifacts/screenshots/, axe-core on each)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .axe import serious_violations
from .conftest import ARTIFACTS, LAPTOP, PHONE
from .people import sign_in

pytestmark = pytest.mark.browser


def shoot(page: Page, name: str) -> None:
    """A screenshot of the whole page at laptop and at phone width, and axe-core on both."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=ARTIFACTS / f"{name}-{label}.png", full_page=True)
        assert serious_violations(page) == [], f"{name} at {label} width"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name} scrolls sideways at {label} width ({width}px)"
    page.set_viewport_size(LAPTOP)


def test_signing_in_leads_to_the_page_asked_for(page: Page) -> None:
    page.goto("/alerts")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Falerts$"))
    shoot(page, "login")
    sign_in(page, "cora")
    expect(page.get_by_role("heading", name="Alerts", exact=True)).to_be_visible()
    shoot(page, "alerts")
