"""Replies over HTTP (no browser): the JSON API's list, detail, drafts, edits, approval,
rejection, queueing, dry-run preview and recovery report; who may act; the replies pages'
forms and their guards."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from social_crm.config import Settings
from social_crm.db import Database
from social_crm.web.app import create_app

from ..factories import BRAND, ENGAGEMENT
from . import seed
from .people import api_tokens, client_sign_in


@pytest.fixture(scope="module")
def web_settings() -> Settings:
    """The test brand with its reply templates and footer; cookies over plain http."""
    return Settings.model_validate(
        {"brands": [BRAND], "web": {"secure_cookies": False}, "engagement": ENGAGEMENT}
    )


@pytest.fixture(scope="module")
def app(web_db: Database, web_settings: Settings) -> FastAPI:
    return create_app(web_settings, database=web_db)


@pytest.fixture(scope="module")
def story(web_db: Database) -> dict[str, int]:
    """Replies in every state (seed.replies), and ``alert``: a complaint's alert to answer."""
    return {**seed.replies(web_db), "alert": seed.complaint(web_db)}


@pytest.fixture
def api(app: FastAPI, web_db: Database) -> Iterator[Any]:
    """``api(name)``: a client whose requests carry ``name``'s API token."""
    tokens = api_tokens(web_db)
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


def test_a_community_manager_drafts_edits_approves_and_queues_by_api(
    api: Any, story: dict[str, int]
) -> None:
    cora = api("cora")
    drafted = cora.post(
        "/api/v1/replies", json={"alert_id": story["alert"], "template": "apology-en"}
    )
    assert drafted.status_code == 201, drafted.text
    reply = drafted.json()
    summary = reply["summary"]
    assert (summary["status"], summary["created_by"], summary["alert_id"]) == (
        "draft",
        "cora",
        story["alert"],
    )
    assert summary["text"].startswith("Sorry, grumpy_greta! We sent you a message")
    assert summary["mention_text"] == "Brewly broke my grinder. Awful, terrible support."
    reply_id = summary["id"]
    edited = cora.post(f"/api/v1/replies/{reply_id}/edit", json={"text": "Sorry Greta, DM us."})
    assert edited.json()["summary"]["text"] == "Sorry Greta, DM us."
    plan = cora.get(f"/api/v1/replies/{reply_id}/preview").json()
    assert plan["outgoing"]["text"] == (
        "Sorry Greta, DM us.\n\nBrewly support (replies are sent with social-crm)"
    )
    assert plan["account"] is None  # the preview asks no network
    assert plan["target_url"] == "https://www.reddit.com/t1"
    approved = cora.post(f"/api/v1/replies/{reply_id}/approve", json={"resolve_alert": True})
    assert approved.status_code == 200, approved.text
    detail = approved.json()
    assert detail["summary"]["approved_by"] == "cora" and detail["resolve_alert"] is True
    assert [(s["action"], s["by"]) for s in detail["history"]] == [
        ("drafted", "cora"),
        ("edited", "cora"),
        ("approved", "cora"),
    ]
    queued = cora.post(f"/api/v1/replies/{reply_id}/send")
    assert queued.json()["history"][-1] == {
        "at": queued.json()["history"][-1]["at"],
        "by": "cora",
        "action": "queued",
        "note": None,
    }
    listed = cora.get("/api/v1/replies", params={"status": "approved"}).json()["items"]
    assert reply_id in {r["id"] for r in listed}


def test_the_api_document_lists_the_reply_operations(api: Any) -> None:
    paths = api("vic").get("/api/v1/openapi.json").json()["paths"]
    assert {
        "/api/v1/replies",
        "/api/v1/replies/report",
        "/api/v1/replies/{reply_id}",
        "/api/v1/replies/{reply_id}/preview",
        "/api/v1/replies/{reply_id}/edit",
        "/api/v1/replies/{reply_id}/approve",
        "/api/v1/replies/{reply_id}/reject",
        "/api/v1/replies/{reply_id}/send",
    } <= set(paths)
    assert set(paths["/api/v1/replies"]) == {"get", "post"}
    listed = {p["name"] for p in paths["/api/v1/replies"]["get"]["parameters"]}
    assert listed >= {"status", "brand", "network", "limit", "cursor"}
    assert {"403", "404", "409", "422"} <= set(
        paths["/api/v1/replies/{reply_id}/approve"]["post"]["responses"]
    )


def test_the_list_filters_and_its_cursor_walks_every_reply_once(
    api: Any, story: dict[str, int]
) -> None:
    viewer = api("vic")
    everything = [r["id"] for r in viewer.get("/api/v1/replies").json()["items"]]
    assert set(everything) >= {v for k, v in story.items() if k != "alert"}
    walked, cursor = [], None
    while True:
        page = viewer.get(
            "/api/v1/replies", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
        ).json()
        walked += [r["id"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == everything == sorted(everything, reverse=True)
    drafts = viewer.get("/api/v1/replies", params={"status": "draft"}).json()["items"]
    assert {r["status"] for r in drafts} == {"draft"}
    assert {story["draft"], story["own"]} <= {r["id"] for r in drafts}
    assert viewer.get("/api/v1/replies", params={"network": "mastodon"}).json()["items"] == []
    assert viewer.get("/api/v1/replies", params={"brand": "Other"}).json()["items"] == []
    held = viewer.get(f"/api/v1/replies/{story['held']}").json()["summary"]
    assert held["reason"] == "per-author limit: 1 reply per 60 min to hugo_held"


def test_the_recovery_report(api: Any, story: dict[str, int]) -> None:
    report = api("vic").get("/api/v1/replies/report").json()
    assert report["window_days"] == 14
    total = report["total"]
    assert (total["answered"], total["recovered"], total["not_recovered"], total["pending"]) == (
        2,
        1,
        0,
        1,
    )
    assert total["rate"] == 1.0
    assert [(r["group"], r["rate"]) for r in report["by_responder"]] == [("cora", 1.0)]
    outcomes = {c["reply_id"]: c["outcome"] for c in report["conversations"]}
    assert outcomes == {story["recovered"]: "recovered", story["sent"]: "pending"}
    assert api("vic").get("/api/v1/replies/report", params={"brand": "Other"}).json()["total"] == {
        "group": "all",
        "answered": 0,
        "recovered": 0,
        "not_recovered": 0,
        "pending": 0,
        "rate": None,
    }


def test_only_community_managers_and_admins_act_on_replies(api: Any, story: dict[str, int]) -> None:
    draft = story["draft"]
    for name in ("vic", "mark"):
        client = api(name)
        assert client.get(f"/api/v1/replies/{draft}").status_code == 200  # everyone reads
        for path, body in (
            (f"/api/v1/replies/{draft}/approve", {}),
            (f"/api/v1/replies/{draft}/edit", {"text": "mine"}),
            (f"/api/v1/replies/{draft}/reject", {"note": "no"}),
            (f"/api/v1/replies/{draft}/send", None),
            ("/api/v1/replies", {"alert_id": story["alert"], "text": "hello"}),
        ):
            refused = error_of(client.post(path, json=body), 403)
            assert refused["code"] == "forbidden", path
    detail = api("vic").get(f"/api/v1/replies/{draft}").json()
    assert (detail["summary"]["status"], len(detail["history"])) == ("draft", 1)  # unchanged


def test_wrong_requests_get_404_409_and_422(api: Any, story: dict[str, int]) -> None:
    cora = api("cora")
    assert error_of(cora.get("/api/v1/replies/99999"), 404) == {
        "code": "not_found",
        "message": "no reply with id 99999",
    }
    error_of(cora.post("/api/v1/replies/99999/approve"), 404)
    error_of(cora.get("/api/v1/replies/99999/preview"), 404)
    assert error_of(cora.post("/api/v1/replies", json={"mention_id": 99999, "text": "Hi"}), 404)[
        "message"
    ] == ("no mention with id 99999")
    error_of(cora.post("/api/v1/replies", json={"alert_id": 99999, "text": "Hi"}), 404)
    unknown = {"alert_id": story["alert"], "template": "nope"}
    assert error_of(cora.post("/api/v1/replies", json=unknown), 404)["message"].startswith(
        "no reply template 'nope'; templates: apology-en"
    )
    rejected = cora.post(f"/api/v1/replies/{story['own']}/reject", json={"note": "too casual"})
    assert rejected.json()["history"][-1]["note"] == "too casual"
    assert error_of(cora.post(f"/api/v1/replies/{story['own']}/approve"), 409) == {
        "code": "invalid_transition",
        "message": f"reply {story['own']} is rejected; only drafts can be approved",
    }
    error_of(cora.post(f"/api/v1/replies/{story['recovered']}/edit", json={"text": "x"}), 409)
    error_of(cora.post(f"/api/v1/replies/{story['draft']}/send"), 409)
    error_of(cora.post(f"/api/v1/replies/{story['sent']}/reject"), 409)
    for bad in (
        cora.get("/api/v1/replies", params={"status": "lost"}),
        cora.get("/api/v1/replies", params={"limit": 0}),
        cora.get("/api/v1/replies", params={"cursor": "not-a-cursor"}),
        cora.get("/api/v1/replies/abc"),
        cora.get("/api/v1/replies/report", params={"window_days": 0}),
        cora.post("/api/v1/replies", json={"text": "to whom?"}),
        cora.post("/api/v1/replies", json={"alert_id": story["alert"]}),
        cora.post(
            "/api/v1/replies", json={"alert_id": story["alert"], "text": "a", "template": "b"}
        ),
        cora.post("/api/v1/replies", json={"alert_id": story["alert"], "text": "   "}),
        cora.post(f"/api/v1/replies/{story['draft']}/edit", json={"text": ""}),
        cora.post(f"/api/v1/replies/{story['draft']}/edit", json={}),
        cora.post(f"/api/v1/replies/{story['draft']}/approve", json={"resolve": True}),
        cora.post(f"/api/v1/replies/{story['draft']}/approve", content=b"{not json"),
    ):
        assert error_of(bad, 422)["code"] == "invalid_input", bad.request.url
    still = cora.get(f"/api/v1/replies/{story['draft']}").json()["summary"]
    assert still["status"] == "draft" and still["text"].startswith("Sorry, dora_draft!")


def test_reply_forms_need_the_session_form_token_and_record_the_user(
    app: FastAPI, story: dict[str, int]
) -> None:
    with TestClient(app, follow_redirects=False) as browser:
        csrf = client_sign_in(browser, "cora")
        draft = story["draft"]
        for path, data in (
            (f"/replies/{draft}/approve", {"text": "forged"}),
            (f"/replies/{draft}/edit", {"text": "forged"}),
            (f"/replies/{draft}/reject", {"note": "forged"}),
            (f"/replies/{story['failed']}/send", {}),
            ("/replies/draft", {"alert_id": str(story["alert"]), "text": "forged"}),
        ):
            assert browser.post(path, data=data).status_code == 403, path
            forged = browser.post(path, data={**data, "csrf_token": "forged"})
            assert forged.status_code == 403, path
        page = browser.get(f"/replies/{draft}")
        assert "forged" not in page.text
        # With the token: edited in the words typed (a browser sends CR LF) and approved.
        done = browser.post(
            f"/replies/{draft}/approve",
            data={
                "text": "Sorry Dora,\r\nwe call you today.",
                "csrf_token": csrf,
                "back": "/replies?status=draft&brand=Brewly",
            },
        )
        assert done.status_code == 303
        assert done.headers["location"] == (
            f"/replies?status=draft&brand=Brewly&done=approved&reply={draft}"
        )
        again = browser.post(
            f"/replies/{story['failed']}/send",
            data={"csrf_token": csrf, "back": "https://elsewhere.example/replies"},
        )
        assert again.headers["location"] == f"/replies/{story['failed']}?done=queued"
        # Drafted from the alert's page and approved unchanged: no edit in its history.
        typed = "Line one\r\nline two"
        started = browser.post(
            "/replies/draft",
            data={"alert_id": str(story["alert"]), "text": typed, "csrf_token": csrf},
        )
        new_id = int(started.headers["location"].split("/")[2].split("?")[0])
        browser.post(f"/replies/{new_id}/approve", data={"text": typed, "csrf_token": csrf})
    with TestClient(app) as viewer:
        client_sign_in(viewer, "vic")
        detail = viewer.get(f"/api/v1/replies/{draft}").json()
        fresh = viewer.get(f"/api/v1/replies/{new_id}").json()
    assert fresh["summary"]["text"] == "Line one\nline two"
    assert [(s["action"], s["by"]) for s in fresh["history"]] == [
        ("drafted", "cora"),
        ("approved", "cora"),
    ]
    assert detail["summary"]["text"] == "Sorry Dora,\nwe call you today."
    assert [(s["action"], s["by"]) for s in detail["history"]][-2:] == [
        ("edited", "cora"),
        ("approved", "cora"),
    ]


def test_a_viewer_sees_the_replies_pages_without_a_button_to_act(
    app: FastAPI, story: dict[str, int]
) -> None:
    with TestClient(app, follow_redirects=False) as browser:
        csrf = client_sign_in(browser, "vic")
        for path in ("/replies", "/replies?status=all", f"/replies/{story['own']}"):
            page = browser.get(path)
            assert page.status_code == 200, path
            assert (
                "<textarea" not in page.text and 'method="post" action="/replies' not in page.text
            )
        refused = browser.post(f"/replies/{story['own']}/reject", data={"csrf_token": csrf})
        assert refused.status_code == 403
        assert "Your role (viewer) cannot do this" in refused.text
        alert = browser.get(f"/alerts/{story['alert']}").text
        assert "Draft a reply" not in alert
        # Like every page: no inline script, style or event handler.
        for path in (
            "/replies?status=all",
            "/replies/report",
            f"/replies/{story['draft']}/preview",
        ):
            html = browser.get(path).text
            assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), path
            assert not re.search(r"\son[a-z]+\s*=", html), path
            assert " style=" not in html, path
        wrong = browser.get("/replies?status=lost")
        assert wrong.status_code == 422
        assert "No reply status &#39;lost&#39;; the choices are draft, approved" in wrong.text
