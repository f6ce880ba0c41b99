"""The dashboard's test users, one per role, and signing them in (browser or HTTP client)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from playwright.sync_api import Page

from social_crm.accounts.service import add_user, create_token
from social_crm.db import Database

# name -> (role, password)
USERS = {
    "ada": ("admin", "ada-password-1"),
    "cora": ("community", "cora-password-1"),
    "mark": ("marketing", "mark-password-1"),
    "vic": ("viewer", "vic-password-1"),
}


def add_people(db: Database) -> None:
    """Store the test users."""
    with db.transaction() as session:
        for name, (role, password) in USERS.items():
            add_user(session, name, password=password, role=role)


def sign_in(page: Page, name: str, *, to: str = "/alerts") -> None:
    """Sign ``name`` in through the form, as a person would, and land on ``to``."""
    page.goto(f"/login?next={to}")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(USERS[name][1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(to.split("?")[0])))


def client_sign_in(client: TestClient, name: str) -> str:
    """Sign ``name`` in through the form with an HTTP client; the session's form token."""
    form = client.get("/login")
    token = re.search(r'name="form_token" value="([^"]+)"', form.text)
    assert token, form.text
    answer = client.post(
        "/login",
        data={"name": name, "password": USERS[name][1], "form_token": token.group(1)},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    page = client.get("/alerts")
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text)
    assert csrf, page.text
    return csrf.group(1)


def api_tokens(db: Database) -> dict[str, str]:
    """An API token per test user, by name."""
    with db.transaction() as session:
        return {name: create_token(session, name, label="tests").token for name in USERS}
