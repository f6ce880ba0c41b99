"""Screenshots of a page at laptop and phone width, each checked with axe-core and for
sideways scrolling; JavaScript errors (a CSP refusal among them) collected as they happen."""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage, Page

from .axe import serious_violations
from .conftest import ARTIFACTS, LAPTOP, PHONE


def shoot(page: Page, name: str) -> None:
    """Screenshots of the whole page at laptop and phone width (``NAME-laptop.png`` and
    ``NAME-phone.png`` in test-artifacts/screenshots/); axe-core and no sideways scrolling
    at both."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("laptop", LAPTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=ARTIFACTS / f"{name}-{label}.png", full_page=True)
        violations = serious_violations(page)
        assert violations == [], f"{name} at {label} width: {violations}"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= size["width"], f"{name} scrolls sideways at {label} width ({width}px)"
    page.set_viewport_size(LAPTOP)


def script_errors(page: Page) -> list[str]:
    """A list that fills with the page's console errors and uncaught exceptions."""
    errors: list[str] = []

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors
