"""The JSON API and the pages' guards over HTTP (no browser): sign-in required everywhere,
form tokens, roles, the one error shape, cursor pagination, sign-in rate limits, cookies
and security headers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.routing import Mount

from social_crm.accounts.service import create_token, revoke_tokens
from social_crm.config import Settings
from social_crm.db import Database
from social_crm.web.app import create_app

from ..escalation import ingest_and_escalate
from ..factories import post
from . import seed
from .people import api_tokens, client_sign_in

# Routes anyone may reach: the sign-in form, and the front door that redirects to a page.
PUBLIC = {("GET", "/login"), ("POST", "/login"), ("GET", "/")}


@pytest.fixture(scope="module")
def app(web_db: Database, web_settings: Settings) -> FastAPI:
    return create_app(web_settings, database=web_db)


@pytest.fixture(scope="module")
def story(web_db: Database, tmp_path_factory: pytest.TempPathFactory) -> int:
    """A complaint with its alert, fans, customers and a link suggestion; the alert's id."""
    alert_id = seed.complaint(web_db)
    seed.fans(web_db)
    seed.customers(web_db, tmp_path_factory.mktemp("crm"))
    return alert_id


@pytest.fixture(scope="module")
def tokens(web_db: Database) -> dict[str, str]:
    return api_tokens(web_db)


@pytest.fixture
def anonymous(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, follow_redirects=False) as client:
        yield client


@pytest.fixture
def api(app: FastAPI, tokens: dict[str, str]) -> Iterator[Any]:
    """``api(name)``: a client whose requests carry ``name``'s API token."""
    clients: list[TestClient] = []

    def client(name: str) -> TestClient:
        made = TestClient(app, headers={"Authorization": f"Bearer {tokens[name]}"})
        clients.append(made)
        return made

    yield client
    for made in clients:
        made.close()


def error_of(answer: Any, status: int) -> dict[str, str]:
    """The error of an answer, checked to be the one error shape with ``status``."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    return dict(body["error"])


def every_route(app: FastAPI) -> Iterator[tuple[str, str]]:
    """(method, path) of every route the app serves, static files aside."""
    pending: list[Any] = list(app.routes)
    while pending:
        route = pending.pop(0)
        if isinstance(route, Mount):
            continue  # the static files: styles and scripts, no data
        if hasattr(route, "effective_route_contexts"):  # an included router (FastAPI 0.16x)
            pending.extend(route.effective_route_contexts())
            continue
        for method in sorted(set(route.methods or ()) - {"HEAD"}):
            yield method, route.path


def concrete(path: str) -> str:
    """A route's path with each parameter filled in."""
    return re.sub(r"\{[^}]+\}", "1", path)


def test_nothing_is_readable_or_changeable_without_signing_in(
    app: FastAPI, anonymous: TestClient, story: int
) -> None:
    checked = 0
    for method, path in every_route(app):
        if (method, path) in PUBLIC:
            continue
        answer = anonymous.request(method, concrete(path))
        checked += 1
        if path.startswith("/api/"):
            error = error_of(answer, 401)
            assert error["code"] == "not_authenticated", path
            assert answer.headers["www-authenticate"] == "Bearer"
        else:
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/login"), path
    assert checked >= 30
    assert anonymous.get("/alerts").headers["location"] == "/login?next=%2Falerts"
    assert anonymous.get("/").headers["location"] == "/alerts"
    # The inbox refreshing itself after the session ended sends the whole page to sign-in.
    refresh = anonymous.get(
        "/alerts/list?status=open",
        headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/alerts?status=open"},
    )
    assert refresh.status_code == 401
    assert refresh.headers["hx-redirect"] == "/login?next=%2Falerts%3Fstatus%3Dopen"


def test_a_wrong_or_revoked_token_is_refused(
    app: FastAPI, web_db: Database, tokens: dict[str, str], story: int
) -> None:
    with TestClient(app, headers={"Authorization": "Bearer scrm_made-up"}) as client:
        assert error_of(client.get("/api/v1/alerts"), 401)["message"] == (
            "the API token is not valid or was revoked"
        )
    with web_db.transaction() as session:
        extra = create_token(session, "vic", label="second").token
    with TestClient(app, headers={"Authorization": f"Bearer {extra}"}) as client:
        assert client.get("/api/v1/alerts").status_code == 200
        with web_db.transaction() as session:
            assert revoke_tokens(session, "vic", label="second") == 1
        error_of(client.get("/api/v1/alerts"), 401)


def test_forms_need_the_session_form_token(app: FastAPI, story: int) -> None:
    with TestClient(app, follow_redirects=False) as browser:
        csrf = client_sign_in(browser, "cora")
        url = f"/alerts/{story}/notes"
        assert browser.post(url, data={"text": "no token"}).status_code == 403
        assert browser.post(url, data={"text": "x", "csrf_token": "forged"}).status_code == 403
        assert (
            browser.post(url, data={"text": "x"}, headers={"X-CSRF-Token": "no"}).status_code == 403
        )
        # The API signed in by cookie needs the token too; htmx sends it as a header.
        assert browser.post(f"/api/v1/alerts/{story}/notes", json={"text": "x"}).status_code == 403
        done = browser.post(url, data={"text": "with the token", "csrf_token": csrf})
        assert done.status_code == 303
        assert (
            browser.post(
                f"/api/v1/alerts/{story}/notes",
                json={"text": "by header"},
                headers={"X-CSRF-Token": csrf},
            ).status_code
            == 201
        )
        texts = [n["text"] for n in browser.get(f"/api/v1/alerts/{story}").json()["notes"]]
        assert texts[-2:] == ["with the token", "by header"]
        # Signing out needs it as well, so no other site can sign a user out.
        assert browser.post("/logout").status_code == 403
        assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 303
        assert browser.get("/alerts").status_code == 303  # signed out


def test_each_role_does_only_its_own_work(api: Any, app: FastAPI, story: int) -> None:
    viewer, community, marketing = api("vic"), api("cora"), api("mark")
    assert viewer.get(f"/api/v1/alerts/{story}").status_code == 200
    assert error_of(viewer.post(f"/api/v1/alerts/{story}/acknowledge"), 403)["code"] == "forbidden"
    error_of(marketing.post(f"/api/v1/alerts/{story}/resolve"), 403)
    error_of(
        community.post(
            "/api/v1/ambassadors/reddit/happy_hanna/review", json={"decision": "approved"}
        ),
        403,
    )
    error_of(marketing.post("/api/v1/link-suggestions/1/reject"), 403)
    approved = marketing.post(
        "/api/v1/ambassadors/reddit/happy_hanna/review",
        json={"decision": "approved", "note": "spring campaign"},
    )
    assert approved.json() == {
        "network": "reddit",
        "handle": "happy_hanna",
        "status": "approved",
        "by": "mark",
        "note": "spring campaign",
    }
    acknowledged = community.post(f"/api/v1/alerts/{story}/acknowledge")
    assert acknowledged.status_code == 200
    assert acknowledged.json()["acknowledged_by"] == "cora"
    # The pages hold the same line for a signed-in viewer.
    with TestClient(app, follow_redirects=False) as browser:
        csrf = client_sign_in(browser, "vic")
        refused = browser.post(f"/alerts/{story}/resolve", data={"csrf_token": csrf})
        assert refused.status_code == 403
        assert "Your role (viewer) cannot do this" in refused.text


def test_errors_have_one_shape_and_the_right_status(api: Any, web_db: Database, story: int) -> None:
    cora = api("cora")
    assert error_of(cora.get("/api/v1/alerts/99999"), 404) == {
        "code": "not_found",
        "message": "no alert with id 99999",
    }
    error_of(cora.get("/api/v1/customers/nobody"), 404)
    error_of(cora.get("/api/v1/no-such-thing"), 404)
    first = seed.complaint(web_db, "conflict")
    assert cora.post(f"/api/v1/alerts/{first}/resolve").status_code == 200
    again = error_of(cora.post(f"/api/v1/alerts/{first}/acknowledge"), 409)
    assert again == {
        "code": "invalid_transition",
        "message": f"alert {first} is resolved; only open alerts can be acknowledged",
    }
    # A new complaint in the same conversation opens a new alert; the old one stays closed.
    (newer,) = ingest_and_escalate(
        web_db, post("conflict-r9", author="late_larry", thread="conflict", text="Still awful.")
    )
    assert error_of(cora.post(f"/api/v1/alerts/{first}/reopen"), 409) == {
        "code": "conflict",
        "message": f"alert {newer} is open for the same conversation; carry on there",
    }
    for bad in (
        cora.get("/api/v1/alerts", params={"limit": 0}),
        cora.get("/api/v1/alerts", params={"status": "closed"}),
        cora.get("/api/v1/alerts", params={"cursor": "not-a-cursor"}),
        cora.get("/api/v1/alerts/abc"),
        cora.post(f"/api/v1/alerts/{story}/assign", json={}),
        cora.post(f"/api/v1/alerts/{story}/assign", json={"assignee": "nobody"}),
        cora.post(f"/api/v1/alerts/{story}/notes", json={"text": ""}),
        cora.post(f"/api/v1/alerts/{story}/notes", content=b"{not json"),
    ):
        assert error_of(bad, 422)["code"] == "invalid_input"
    assert "limit" in error_of(cora.get("/api/v1/alerts", params={"limit": 0}), 422)["message"]


def test_a_cursor_walks_every_alert_exactly_once(api: Any, web_db: Database, story: int) -> None:
    for index in range(7):
        seed.complaint(web_db, f"page-{index}", author=f"pager_{index}")
    viewer = api("vic")
    everything = [
        a["id"] for a in viewer.get("/api/v1/alerts", params={"limit": 200}).json()["items"]
    ]
    assert len(everything) >= 8
    walked, cursor, pages = [], None, 0
    while True:
        params: dict[str, Any] = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = viewer.get("/api/v1/alerts", params=params).json()
        walked += [a["id"] for a in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == everything == sorted(everything, reverse=True)
    assert pages == -(-len(everything) // 3)
    # Filters hold across pages.
    open_only = viewer.get("/api/v1/alerts", params={"limit": 2, "status": "open"}).json()
    second = viewer.get(
        "/api/v1/alerts", params={"limit": 2, "status": "open", "cursor": open_only["next_cursor"]}
    ).json()
    assert {a["status"] for a in open_only["items"] + second["items"]} == {"open"}
    ranked = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = viewer.get("/api/v1/ambassadors", params=params).json()
        ranked += [(a["row"]["rank"], a["row"]["author"]) for a in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [rank for rank, _ in ranked] == list(range(1, len(ranked) + 1))
    assert len({author for _, author in ranked}) == len(ranked) >= 3


def test_sign_in_attempts_are_limited_per_name_and_per_address(app: FastAPI) -> None:
    def attempt(client: TestClient, name: str, password: str) -> Any:
        form = client.get("/login").text
        token = re.search(r'name="form_token" value="([^"]+)"', form)
        assert token
        return client.post(
            "/login",
            data={"name": name, "password": password, "form_token": token.group(1)},
            follow_redirects=False,
        )

    with TestClient(app, client=("192.0.2.10", 5000)) as guesser:
        for _ in range(5):
            assert attempt(guesser, "mark", "wrong password").status_code == 401
        refused = attempt(guesser, "mark", "mark-password-1")  # right, but too late
        assert refused.status_code == 429
        assert "Too many failed sign-ins" in refused.text
        assert int(refused.headers["retry-after"]) > 0
    with TestClient(app, client=("192.0.2.11", 5000)) as elsewhere:
        assert attempt(elsewhere, "mark", "mark-password-1").status_code == 429  # per name
        assert attempt(elsewhere, "vic", "vic-password-1").status_code == 303
    with TestClient(app, client=("192.0.2.12", 5000)) as sprayer:
        for name in ("anna", "bert", "carl", "dora", "emil"):
            assert attempt(sprayer, name, "guess").status_code == 401
        assert attempt(sprayer, "vic", "vic-password-1").status_code == 429  # per address


def test_the_sign_in_cookie_is_http_only_and_secure_over_https(
    app: FastAPI, web_db: Database
) -> None:
    with TestClient(app, follow_redirects=False) as over_plain_http:
        form = over_plain_http.get("/login").text
        token = re.search(r'name="form_token" value="([^"]+)"', form)
        assert token
        answer = over_plain_http.post(
            "/login",
            data={"name": "ada", "password": "ada-password-1", "form_token": token.group(1)},
        )
    cookie = answer.headers["set-cookie"]
    assert "social_crm_session=" in cookie and "HttpOnly" in cookie
    assert "SameSite=lax" in cookie and "Secure" not in cookie  # web.secure_cookies: false
    auto = create_app(Settings.model_validate({"brands": [{"name": "B"}]}), database=web_db)
    with TestClient(auto, base_url="https://crm.test", follow_redirects=False) as tls:
        form = tls.get("/login").text
        token = re.search(r'name="form_token" value="([^"]+)"', form)
        assert token
        answer = tls.post(
            "/login",
            data={"name": "ada", "password": "ada-password-1", "form_token": token.group(1)},
        )
        assert "Secure" in answer.headers["set-cookie"]


def test_pages_carry_a_strict_policy_and_no_inline_script(app: FastAPI, story: int) -> None:
    with TestClient(app) as browser:
        client_sign_in(browser, "ada")
        for path in (
            "/login",
            "/alerts",
            f"/alerts/{story}",
            "/ambassadors",
            "/links",
            "/customers/C-1",
            "/api/v1/alerts",
        ):
            answer = browser.get(path)
            policy = answer.headers["content-security-policy"]
            assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
            assert "object-src 'none'" in policy and "unsafe-inline" not in policy
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "same-origin"
            html = answer.text
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
            assert not re.search(r"\son[a-z]+\s*=", html), path
            assert " style=" not in html, path
