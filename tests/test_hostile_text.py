"""Hostile text: what strangers write cannot ping a channel, inject markup, links or headers."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from email.header import decode_header, make_header
from typing import Any

import pytest
import requests
from sqlalchemy import select

from social_crm.alerts.escalation import Routing
from social_crm.alerts.lifecycle import resolve
from social_crm.alerts.notifications import compose
from social_crm.config import AlertsConfig, AppriseChannel, EmailChannel, WebhookChannel
from social_crm.customers.models import Customer
from social_crm.db import Database
from social_crm.delivery.channels import build_notifiers
from social_crm.delivery.messages import AlertMessage
from social_crm.delivery.outbox import DeliveryPass, deliver_due
from social_crm.delivery.safe import escape, one_line, post_text
from social_crm.demo.servers.sinks import SmtpSink, WebhookSink
from social_crm.mentions.models import AuthorRecord

from .escalation import escalate
from .factories import ANGRY, post, store

BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
MASS_MENTION = re.compile(r"@(everyone|here|channel)\b", re.IGNORECASE)

# name: (post text, author handle, customer name or None)
PAYLOADS: dict[str, tuple[str, str, str | None]] = {
    "html": (
        'Awful <script>alert(1)</script><img src=x onerror="alert(2)"> <a href="https://evil.example/x">'
        "click</a>",
        "erik",
        None,
    ),
    "markdown": (
        "Awful **bold** [click me](https://evil.example/phish) ![img](http://evil.example/i.png)\n"
        "# Heading\n> quote\n``` fence breakout ``` `code`",
        "erik",
        None,
    ),
    "slack mentions": (
        "Awful @channel @everyone @here <!channel> <!here|here> <!everyone> <@U123ABC> "
        "!subteam^S123> <http://evil.example|totally safe>",
        "erik",
        None,
    ),
    "rtl override": (
        "Awful refund for invoice \u202egnp.exe\u202c and \u2066hidden\u2069",
        "erik",
        None,
    ),
    "crlf in subject": (
        "Awful service",
        "mallory\r\nbcc: victim@example.com",
        "Boss\r\nX-Injected: yes <b>VIP</b> @everyone",
    ),
    "control characters": ("Awful \x1b[31mred\x1b[0m \x07bell\x00 \x85next", "erik", None),
    "100 kB": ("Awful " + "A" * 100_000 + " https://evil.example/end", "erik", None),
}

# apprise services reached through requests; their HTTP bodies are captured, never sent.
SERVICES = {
    "slack": "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#alerts",
    "discord": "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js",
    "telegram": "tgram://123456789:abcdefg_hijklmnop/12315544",
    "teams": "workflows://prod-12.westus.logic.azure.com:443/abc123def456/a1b2c3d4e5f6",
}


class Captured:
    """HTTP requests apprise made, answered with success."""

    def __init__(self) -> None:
        self.bodies: dict[str, str] = {}

    def send(self, adapter: Any, request: requests.PreparedRequest, **_: Any) -> requests.Response:
        host = request.url or ""
        body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
        service = next(
            (name for name, marker in MARKERS.items() if marker in host), f"other:{host}"
        )
        self.bodies[service] = body
        response = requests.Response()
        response.status_code = 200
        response._content = b"ok" if "slack" in host else b'{"ok": true, "result": {}}'
        response.headers["Content-Type"] = "text/plain" if "slack" in host else "application/json"
        response.url = request.url or ""
        response.request = request
        return response


MARKERS = {
    "slack": "hooks.slack.com",
    "discord": "discord.com",
    "telegram": "api.telegram.org",
    "teams": "logic.azure.com",
}


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> Captured:
    capture = Captured()
    monkeypatch.setattr(
        requests.adapters.HTTPAdapter,
        "send",
        lambda adapter, request, **kw: capture.send(adapter, request, **kw),
    )
    return capture


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Database, SmtpSink, WebhookSink]]:
    """One SQLite database and one pair of receivers for every payload: rendering does not
    depend on the backend, and the module stays fast."""
    database = Database(f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'db.sqlite'}")
    database.upgrade()
    with SmtpSink() as smtp, WebhookSink() as webhook:
        yield database, smtp, webhook
    database.close()


def strings(node: Any) -> str:
    """Every string in a decoded JSON document, one per line."""
    if isinstance(node, dict):
        return "\n".join(strings(v) for v in node.values())
    if isinstance(node, list):
        return "\n".join(strings(v) for v in node)
    return node if isinstance(node, str) else ""


def assert_inert(name: str, text: str) -> None:
    assert not BIDI.search(text), f"{name}: bidi control"
    assert not CONTROL.search(text), f"{name}: control character"
    assert not MASS_MENTION.search(text), f"{name}: mass mention {MASS_MENTION.search(text)}"
    assert "evil.example" not in text, f"{name}: live link"
    assert len(text) < 12_000, f"{name}: {len(text)} characters"


def outside_code(markdown: str) -> str:
    """Markdown with fenced code blocks removed."""
    return re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)


@pytest.mark.parametrize("payload", list(PAYLOADS))
def test_hostile_text_is_inert_on_every_channel(
    world: tuple[Database, SmtpSink, WebhookSink], captured: Captured, payload: str
) -> None:
    text, handle, customer = PAYLOADS[payload]
    db, smtp, webhook = world
    smtp.messages.clear()
    webhook.requests.clear()
    native_id = f"t3_{list(PAYLOADS).index(payload)}"
    link = f"https://www.reddit.com/{native_id}"
    channels = [
        EmailChannel(
            type="email",
            name="email",
            host="127.0.0.1",
            port=smtp.port,
            sender="bot@brewly.example",
            recipients=["team@brewly.example"],
        ),
        WebhookChannel(type="webhook", name="webhook", url=webhook.url),
        *(AppriseChannel(type="apprise", name=name, url=url) for name, url in SERVICES.items()),  # type: ignore[arg-type]
    ]
    config = AlertsConfig(channels=channels)
    store(db, (post(native_id, author=handle, text=text), ANGRY))
    if customer:
        with db.transaction() as session:
            row = Customer(external_id=native_id, name=customer, tier="vip\r\nX-Tier: 1")
            session.add(row)
            session.flush()
            author = session.scalars(select(AuthorRecord).where(AuthorRecord.handle == handle))
            author.one().customer_id = row.id
    (alert,) = escalate(db, routing=Routing.single([c.name for c in channels]))
    assert deliver_due(
        db, build_notifiers(config.channels), config, compose=compose
    ) == DeliveryPass(sent=len(channels), failed=0)
    with db.transaction() as session:
        resolve(session, alert.id, by="test")  # the next payload's author starts afresh

    # Email: one-line subject, no injected header, text/plain UTF-8, inert body.
    (email,) = smtp.messages
    # Long subjects are folded on the wire (CRLF + space); unfolded, they are one line.
    subject = str(make_header(decode_header(re.sub(r"\r?\n[ \t]", " ", email["Subject"]))))
    assert "\n" not in subject and "\r" not in subject
    assert email["Bcc"] is None and email["X-Injected"] is None and email["X-Tier"] is None
    assert email.get_content_type() == "text/plain" and email.get_content_charset() == "utf-8"
    body = email.get_payload(decode=True).decode("utf-8")
    assert_inert("email subject", subject)
    assert_inert("email body", body)

    # JSON webhook: clean, inert values (receivers escape for their own display).
    (request,) = webhook.requests
    assert_inert("webhook", strings(json.loads(request.body)))

    # apprise: each service's own format, as apprise sent it.
    assert set(captured.bodies) == set(SERVICES), captured.bodies.keys()
    for service, raw in captured.bodies.items():
        document = json.loads(raw)
        sent = strings(document)
        assert_inert(service, sent)
        assert "<!" not in sent and "<@" not in sent, service
        assert "<http" not in sent.replace(f"<{link}", ""), service
        if document.get("parse_mode") == "HTML":
            assert "<script" not in sent and "<img" not in sent and "<a href" not in sent
        else:  # Markdown dialects: post text only inside code blocks
            assert "click me" not in outside_code(sent) and "**bold**" not in outside_code(sent)
    if payload == "100 kB":
        assert f"[cut at 500 characters; full post: {link}]" in body


@pytest.mark.parametrize("payload", list(PAYLOADS))
@pytest.mark.parametrize("fmt", ["text", "markdown", "html"])
@pytest.mark.parametrize("page", ["", "https://crm.brewly.example/alerts/1"])
def test_every_format_renders_hostile_text_inert(payload: str, fmt: str, page: str) -> None:
    text, handle, customer = PAYLOADS[payload]
    message = AlertMessage(
        alert_id=1,
        kind="mention",
        brand="Brewly",
        status="open",
        reason="negative mention",
        network="reddit",
        url="https://www.reddit.com/t3_a",
        author=one_line(handle),
        customer=one_line(customer) if customer else None,
        customer_tier="vip",
        text=post_text(text, url="https://www.reddit.com/t3_a"),
        sentiment="negative",
        confidence=0.9,
        opened_at="2026-11-02T12:00:00+00:00",
        alert_url=page,
    )
    subject, body = message.render(fmt)  # type: ignore[arg-type]
    assert "social-crm " not in body  # the alert is named, no command spelled out
    assert "Alert #1" in body and ("Open:" in body) == bool(page)
    assert "\n" not in subject and "\r" not in subject
    assert_inert(f"{fmt} subject", subject)
    assert_inert(f"{fmt} body", body)
    if fmt == "html":
        assert "<script" not in body and "<img" not in body and '<a href="https://evil' not in body
        assert body.count("<pre>") == 1
    if fmt == "markdown":
        rest = outside_code(body).replace("<https://www.reddit.com/t3_a>", "")
        rest = rest.replace(f"<{page}>", "") if page else rest
        assert "click me" not in rest and not re.search(r"(?<!\\)[<*\[]", rest.replace("**", ""))


def test_escaping_shows_markup_literally() -> None:
    assert escape("<b>&", "html") == "&lt;b&gt;&amp;"
    assert escape("*x* [a](b) <u> `c` |t| ~s~", "markdown") == (
        r"\*x\* \[a\]\(b\) \<u\> \`c\` \|t\| \~s\~"
    )
    assert one_line("a\r\nb\u2028c\x00d") == "a b cd"
    assert post_text("see https://a.example/x?y=1 or www.b.example") == (
        "see hxxps[://]a[.]example/x?y=1 or www[.]b[.]example"
    )
