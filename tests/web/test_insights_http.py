"""The mentions search and the overview over HTTP: the JSON API and the pages' answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from connectors.errors import ConnectorError
from social_crm.accounts.service import add_user, create_token, sign_in
from social_crm.config import Settings
from social_crm.db import Database
from social_crm.db.base import utcnow
from social_crm.mentions import sources
from social_crm.web.app import create_app
from social_crm.web.auth import SESSION_COOKIE

from ..stored import T0, author, customer, mention
from .people import USERS


@pytest.fixture
def app(db: Database) -> TestClient:
    """The app on the test database with one viewer, vic; no one signed in."""
    with db.transaction() as session:
        add_user(session, "vic", password=USERS["vic"][1], role="viewer")
    settings = Settings.model_validate(
        {"brands": [{"name": "Zeta"}, {"name": "Brewly"}], "web": {"secure_cookies": False}}
    )
    return TestClient(create_app(settings, database=db))


@pytest.fixture
def api(app: TestClient, db: Database) -> TestClient:
    """The app with a viewer's API token on every request."""
    with db.transaction() as session:
        token = create_token(session, "vic").token
    app.headers["Authorization"] = f"Bearer {token}"
    return app


@pytest.fixture
def browser(app: TestClient, db: Database) -> Iterator[TestClient]:
    """The app with a viewer's sign-in cookie, as a browser sends it."""
    with db.transaction() as session:
        grant = sign_in(session, "vic", USERS["vic"][1], address="testclient")
    assert grant is not None
    app.cookies.set(SESSION_COOKIE, grant.token)
    yield app
    app.cookies.clear()


@pytest.fixture
def stored(db: Database) -> dict[str, int]:
    """Four mentions: Erik (a customer) complains; Anna, Bob and a hostile post."""
    with db.transaction() as session:
        erik = author(session, "erik", customer=customer(session, "C-1", "Erik Jansen"))
        anna = author(session, "anna")
        made = {
            "complaint": mention(session, erik, at=T0, text="Burnt espresso", label="negative"),
            "praise": mention(session, anna, at=T0 + timedelta(hours=1), text="Great espresso"),
            "late": mention(session, anna, at=T0 + timedelta(days=1, hours=11), text="Late one"),
            "hostile": mention(
                session, anna, at=T0 - timedelta(days=3), text="<script>alert('x')</script>"
            ),
        }
        made["hostile"].url = "javascript:alert(1)"
        return {name: row.id for name, row in made.items()}


def test_the_api_wants_a_token_or_a_sign_in(app: TestClient) -> None:
    for path in ("/api/v1/mentions", "/api/v1/overview"):
        answer = app.get(path)
        assert answer.status_code == 401
        assert answer.json() == {"error": {"code": "not_authenticated", "message": "sign in first"}}


def test_the_api_searches_and_pages_through_every_match(
    api: TestClient, stored: dict[str, int]
) -> None:
    found = api.get("/api/v1/mentions", params={"q": "ESPRESSO", "sentiment": "negative"}).json()
    assert [item["id"] for item in found["items"]] == [stored["complaint"]]
    (item,) = found["items"]
    assert item["customer_key"] == "C-1" and item["customer_name"] == "Erik Jansen"
    assert item["created_at"] == "2026-11-02T12:00:00Z"
    assert found["next_cursor"] is None
    walked, cursor = [], None
    while True:
        page = api.get(
            "/api/v1/mentions", params={"limit": 3, "cursor": cursor} if cursor else {"limit": 3}
        ).json()
        walked += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == [stored[n] for n in ("late", "praise", "complaint", "hostile")]


def test_the_api_takes_times_without_a_zone_as_utc(api: TestClient, stored: dict[str, int]) -> None:
    found = api.get(
        "/api/v1/mentions", params={"since": "2026-11-02T12:00:00", "until": "2026-11-02T13:00:00"}
    ).json()
    assert [item["id"] for item in found["items"]] == [stored["complaint"]]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"sentiment": "angry"},
            "query.sentiment: Input should be 'negative', 'neutral', 'positive' or 'unlabelled'",
        ),
        (
            {"cursor": "nope"},
            "the cursor is not one this search gave; start again from the first page",
        ),
        ({"limit": 500}, "query.limit: Input should be less than or equal to 200"),
        (
            {"since": "2026-11-03T00:00:00Z", "until": "2026-11-02T00:00:00Z"},
            "since 2026-11-03T00:00:00+00:00 is not before until 2026-11-02T00:00:00+00:00",
        ),
    ],
)
def test_the_api_refuses_what_it_cannot_search_for_in_one_line(
    api: TestClient, params: dict[str, object], message: str
) -> None:
    answer = api.get("/api/v1/mentions", params=params)
    assert answer.status_code == 422
    assert answer.json() == {"error": {"code": "invalid_input", "message": message}}


def test_the_api_overview_lists_configured_brands_first_and_a_failing_source(
    api: TestClient, db: Database, stored: dict[str, int]
) -> None:
    since = utcnow() - timedelta(hours=1)
    with db.transaction() as session:
        sources.record_failure(
            session, "reddit", "Brewly:new", ConnectorError("HTTP 503"), now=since, floor=60
        )
    body = api.get("/api/v1/overview").json()
    assert [brand["brand"] for brand in body["brands"]] == ["Zeta", "Brewly"]
    zeta = body["brands"][0]
    assert len(zeta["days"]) == 30 and len(zeta["weeks"]) == 26
    assert zeta["days"][-1] | {"start": None} == {
        "start": None,
        "negative": 0,
        "neutral": 0,
        "positive": 0,
        "unlabelled": 0,
        "satisfaction": None,
    }
    assert zeta["open_alerts"] == [
        {"severity": s, "count": 0} for s in ("low", "medium", "high", "critical")
    ]
    (source,) = body["health"]["sources"]
    assert (source["source"], source["state"]) == ("Brewly:new", "failing")
    assert datetime.fromisoformat(source["failing_since"]) == since
    assert body["health"]["daemon_alive"] is False


def test_the_page_search_includes_the_whole_last_day(
    browser: TestClient, stored: dict[str, int]
) -> None:
    page = browser.get("/mentions", params={"since": "2026-11-02", "until": "2026-11-03"})
    assert page.status_code == 200
    assert "Late one" in page.text  # written at 23:00 on the 3rd
    assert "Burnt espresso" in page.text and "Great espresso" in page.text
    assert "&lt;script&gt;" not in page.text  # the 30 October post is before the first day


def test_the_last_day_there_is_means_no_end(browser: TestClient, stored: dict[str, int]) -> None:
    page = browser.get("/mentions", params={"since": "2026-11-03", "until": "9999-12-31"})
    assert page.status_code == 200
    assert "Late one" in page.text and "Burnt espresso" not in page.text


def test_stored_text_is_shown_as_text_and_bad_addresses_are_not_linked(
    browser: TestClient, stored: dict[str, int]
) -> None:
    page = browser.get("/mentions").text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "javascript:" not in page
    assert "Original post (no web address)" in page


def test_more_rows_come_without_the_page_around_them(
    browser: TestClient, stored: dict[str, int]
) -> None:
    first = browser.get("/mentions/rows").text
    assert first.lstrip().startswith("<tr") and "<html" not in first
    assert first.count('class="mention-row"') == 4


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"since": "2026-99-01"}, "Since &#39;2026-99-01&#39; is not a date (YYYY-MM-DD)."),
        (
            {"since": "2026-11-05", "until": "2026-11-01"},
            "The first day (2026-11-05) is after the last (2026-11-01).",
        ),
        ({"sentiment": "angry"}, "No sentiment &#39;angry&#39;."),
        ({"customer": "maybe"}, "Customer &#39;maybe&#39;: give yes or no."),
        (
            {"cursor": "nope"},
            "The cursor is not one this search gave; start again from the first page.",
        ),
    ],
)
def test_the_page_names_a_search_it_cannot_make(
    browser: TestClient, params: dict[str, str], message: str
) -> None:
    page = browser.get("/mentions", params=params)
    assert page.status_code == 422
    assert message in page.text


def test_the_overview_page_carries_its_figures_as_json_not_script(
    browser: TestClient, stored: dict[str, int]
) -> None:
    page = browser.get("/overview")
    assert page.status_code == 200
    assert '<script type="application/json" id="overview-data">' in page.text
    scripts = [chunk.split(">", 1)[0] for chunk in page.text.split("<script")[1:]]
    assert all("src=" in tag or 'type="application/json"' in tag for tag in scripts)
    assert "script-src 'self'" in page.headers["content-security-policy"]
