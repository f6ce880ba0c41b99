"""Fixtures of the web dashboard's tests: a served app on a seeded database, and Chromium.

One server per test module (``web_url``, on ``web_db``); a module seeds ``web_db`` with
its own fixtures. ``page`` is a fresh browser context at laptop size whose test fails if
any JavaScript dialog opens.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, sync_playwright

from social_crm.config import Settings
from social_crm.db import Database
from social_crm.web.app import WebServer, create_app

from ..factories import BRAND
from .people import add_people

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def web_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A migrated SQLite database with one user per role (see people.USERS)."""
    path = tmp_path_factory.mktemp("web") / "social_crm.sqlite"
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    add_people(database)
    yield database
    database.close()


@pytest.fixture(scope="module")
def web_settings() -> Settings:
    """Settings with the test brand; cookies over plain http."""
    return Settings.model_validate({"brands": [BRAND], "web": {"secure_cookies": False}})


@pytest.fixture(scope="module")
def web_url(web_db: Database, web_settings: Settings) -> Iterator[str]:
    """The dashboard served from a thread on a free port; its base URL."""
    app = create_app(web_settings, database=web_db, refresh_seconds=1)
    server = WebServer(app, port=free_port()).start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium (Debian's), or a skip when it is not installed."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install -y chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser, web_url: str) -> Iterator[Page]:
    """A new browser context at laptop size on the served app; no dialog may open in it."""
    context = browser.new_context(viewport=LAPTOP, base_url=web_url, accept_downloads=True)
    context.set_default_timeout(10_000)
    dialogs: list[str] = []
    tab = context.new_page()

    def opened(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    tab.on("dialog", opened)
    yield tab
    context.close()
    assert dialogs == [], f"a JavaScript dialog opened: {dialogs}"
