"""Server-rendered pages: the Jinja2 environment (autoescaped), its filters, and ``render``."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from social_crm.accounts.service import Principal
from social_crm.db.base import utcnow

LOGGER = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


@dataclass(frozen=True, slots=True)
class NavItem:
    """One entry of the main navigation."""

    label: str
    href: str


# The main navigation, in order. A new area adds its entry here.
NAV: tuple[NavItem, ...] = (
    NavItem("Alerts", "/alerts"),
    NavItem("Replies", "/replies"),
    NavItem("Mentions", "/mentions"),
    NavItem("Overview", "/overview"),
    NavItem("Ambassadors", "/ambassadors"),
    NavItem("Link suggestions", "/links"),
)


def ago(moment: datetime | None, now: datetime | None = None) -> str:
    """``moment`` as people say it: "just now", "5 min ago", "3 h ago", "2 days ago", "in 4 min"."""
    if moment is None:
        return ""
    seconds = int(((now or utcnow()) - moment).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    if seconds < 45:
        return "just now" if not future else "in a moment"
    for size, unit in ((86400 * 365, "year"), (86400, "day"), (3600, "h"), (60, "min")):
        if seconds >= size or unit == "min":
            count = max(1, round(seconds / size))
            label = unit if unit in ("h", "min") else unit + ("s" if count > 1 else "")
            return f"in {count} {label}" if future else f"{count} {label} ago"
    return ""  # pragma: no cover - the loop always returns


def iso(moment: datetime | None) -> str:
    """``moment`` in ISO 8601, UTC, to the second, for ``<time datetime>`` and titles."""
    if moment is None:
        return ""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def web_href(url: str | None) -> str:
    """``url`` if it is an absolute http(s) address, else "" (never javascript: and the like)."""
    if not url:
        return ""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    return url.strip()


# How people read the kinds of evidence behind a link, and who made it.
EVIDENCE_WORDS = {
    "crm_handle": "handle given in the CRM",
    "verified_link": "verified link to their website",
    "email_in_profile": "their email in the profile",
    "domain_in_profile": "their website in the profile",
    "same_username": "same username on another network",
    "display_name": "similar display name",
}
LINKED_BY_WORDS = {
    "auto": "automatically, on strong evidence",
    "crm-handle": "automatically: the CRM gives this handle",
}


def evidence_words(kind: str) -> str:
    """A kind of link evidence in words."""
    return EVIDENCE_WORDS.get(kind, label(kind))


def linked_by_words(by: str | None) -> str:
    """Who linked an author: automatic linking in words, or the person's name."""
    if not by:
        return "Linked"
    return "Linked " + LINKED_BY_WORDS.get(by, f"by {by}")


def label(value: str | None) -> str:
    """A stored vocabulary word as people read it: "opted_out" → "Opted out"."""
    text = (value or "").replace("_", " ")
    return text[:1].upper() + text[1:]


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,  # every template, whatever its name: stored text is hostile
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        ago=ago,
        iso=iso,
        web_href=web_href,
        label=label,
        evidence_words=evidence_words,
        linked_by_words=linked_by_words,
    )
    env.globals.update(nav=NAV)
    return env


TEMPLATES_ENGINE = Jinja2Templates(env=_environment())


def render(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    principal: Principal | None = None,
) -> HTMLResponse:
    """The page ``template`` with ``context``, the signed-in user and their form token."""
    principal = principal or getattr(request.state, "principal", None)
    return TEMPLATES_ENGINE.TemplateResponse(
        request,
        template,
        {
            "principal": principal,
            "csrf_token": principal.csrf_token if principal else None,
            "current_path": request.url.path,
            "refresh_seconds": request.app.state.refresh_seconds,
            **(context or {}),
        },
        status_code=status_code,
    )
