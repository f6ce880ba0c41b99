"""Channel URLs without their secrets, for error texts, logs and `social-crm status`.

Webhook and apprise URLs carry credentials in their path, query or user part
(``https://hooks.slack.com/services/T0/B0/XXXX``, ``?token=...``, ``tgram://bot-token/chat``).
Channel errors are built from library messages that quote such URLs, and those texts are
logged and stored, so they are redacted where they are built.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, unquote, urlsplit

REDACTED = "***"
URL_PATTERN = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
# Path words such as "services", "api" or "hooks" name no secret and keep errors readable.
PLAIN_WORD = re.compile(r"[a-z]{1,12}")
MIN_SECRET_LENGTH = 4


def public_url(url: str) -> str:
    """The URL's scheme and host only, with ``/***`` where it had a path or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    hidden = parts.path.strip("/") or parts.query or parts.fragment or parts.username
    return f"{parts.scheme}://{host}" + (f"/{REDACTED}" if hidden else "")


def secret_parts(url: str, *, host_is_secret: bool = False) -> list[str]:
    """The pieces of a URL that may be credentials: path segments, query values, user info.

    ``host_is_secret``: the host too, unless it is a domain name or an address.
    """
    parts = urlsplit(url)
    pieces = [unquote(segment) for segment in parts.path.split("/")]
    pieces += [value for _, value in parse_qsl(parts.query, keep_blank_values=True)]
    pieces += [parts.username or "", parts.password or "", parts.fragment]
    host = parts.netloc.rpartition("@")[2]
    if host_is_secret and "." not in host:
        pieces.append(host)  # apprise puts tokens where a host would be: tgram://token/chat
    return sorted(
        {
            piece
            for piece in pieces
            if len(piece) >= MIN_SECRET_LENGTH and not PLAIN_WORD.fullmatch(piece)
        },
        key=len,
        reverse=True,  # the longest first, so a secret containing another goes whole
    )


def redact(text: str, *, secrets: list[str]) -> str:
    """``text`` with every URL cut to its host and every one of ``secrets`` masked."""
    text = URL_PATTERN.sub(lambda match: public_url(match.group(0)), text)
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    return text


# Credentials of the channels built in this process: libraries log their URLs (httpx at
# INFO, apprise and urllib3 at DEBUG), so every log handler masks them (RedactingFilter).
KNOWN_SECRETS: set[str] = set()


def remember(secrets: list[str]) -> None:
    """Mask these credentials in every log line of this process from now on."""
    KNOWN_SECRETS.update(secrets)


class RedactingFilter(logging.Filter):
    """Masks known channel credentials in the log records it passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without secrets; never drops a record."""
        if KNOWN_SECRETS:
            message = masked = record.getMessage()
            for secret in sorted(KNOWN_SECRETS, key=len, reverse=True):
                masked = masked.replace(secret, REDACTED)
            if masked != message:
                record.msg, record.args = masked, None
        return True
