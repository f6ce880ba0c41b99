"""Make text written by strangers safe to put in an alert, for each channel's format.

Post text, author handles and customer names are untrusted: they must not ping a whole
chat (``@everyone``, ``<!channel>``), inject markup or links into the channel's format,
break an email header, or hide what they say with bidi overrides. Every value that comes
from a mention goes through :func:`post_text` (long text) or :func:`one_line` (subjects,
names), and then through the escaper of the channel's format (:func:`escape`).

Choices:

- Mass mentions get a zero-width space after the ``@`` (``@\u200beveryone``), the same
  defence discord.py uses: the text reads the same and pings nobody. Slack's
  ``<!channel>`` forms lose their ``<`` to the format escaper, and ``<!`` is broken too.
- Links in post text are defanged (``hxxps://example[.]com/...``) so no channel turns them
  into clickable links or previews; the mention's own permalink, which the connector
  builds, is the one link an alert carries.
- Bidi embedding and override characters (U+202A-U+202E, U+2066-U+2069) and control
  characters other than newline and tab are removed; newlines are normalised to ``\\n``.
- Post text is cut to :data:`POST_LIMIT` characters; the alert links to the original.
"""

from __future__ import annotations

import html
import re
from typing import Literal

Format = Literal["text", "markdown", "html"]

POST_LIMIT = 500
LINE_LIMIT = 200

BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")
# C0 and C1 controls except tab and newline; DEL. Carriage returns are handled first.
CONTROL_CHARS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MASS_MENTION = re.compile(
    r"([@\uff20])(everyone|here|channel|all|room|group|team)\b", re.IGNORECASE
)
SLACK_SPECIAL = re.compile(r"<(\s*)([!@#])")
URL = re.compile(r"\b(?:(?:https?|ftp|file)://|www\.)[^\s<>\"'`]*", re.IGNORECASE)
ZWSP = "\u200b"
# Inline CommonMark punctuation; values are never put at the start of a line.
MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>|~&])")
SAFE_LINK = re.compile(r"^https?://[^\s<>\"'`()\[\]{}|\\^]+$", re.IGNORECASE)


def clean(text: str) -> str:
    """Normalised newlines; no bidi overrides, no control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = BIDI_CONTROLS.sub("", text)
    return CONTROL_CHARS.sub("", text)


def defang(text: str) -> str:
    """Links as inert text: ``https://a.example/x`` becomes ``hxxps://a[.]example/x``."""

    def one(match: re.Match[str]) -> str:
        url = match.group(0)
        url = re.sub(r"^(h)tt(ps?)", r"\1xx\2", url, flags=re.IGNORECASE)
        return url.replace(".", "[.]").replace("://", "[://]", 1)

    return URL.sub(one, text)


def neutralise_mentions(text: str) -> str:
    """``@everyone`` and friends, and Slack's ``<!here>`` forms, ping nobody."""
    text = MASS_MENTION.sub(lambda m: f"{m.group(1)}{ZWSP}{m.group(2)}", text)
    return SLACK_SPECIAL.sub(lambda m: f"<{m.group(1)}{ZWSP}{m.group(2)}", text)


def post_text(text: str, *, limit: int = POST_LIMIT, url: str | None = None) -> str:
    """Untrusted post text, cleaned, cut to ``limit`` characters and made inert."""
    text = clean(text).strip()
    cut = len(text) > limit
    if cut:
        text = text[:limit].rsplit(None, 1)[0] if " " in text[:limit] else text[:limit]
        text += " …"
    text = neutralise_mentions(defang(text))
    if cut:
        text += f"\n[cut at {limit} characters" + (
            f"; full post: {safe_link(url)}]" if url else "]"
        )
    return text


def one_line(text: str, *, limit: int = LINE_LIMIT) -> str:
    """Untrusted text for a subject or a name: one line, no CR/LF, inert, cut."""
    text = " ".join(clean(text).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return neutralise_mentions(defang(text))


def safe_link(url: str) -> str:
    """The mention's permalink when it is a plain http(s) URL; otherwise defanged text."""
    url = clean(url).strip()
    return url if SAFE_LINK.match(url) else defang(one_line(url))


def escape(text: str, fmt: Format) -> str:
    """Escape already-cleaned text for a channel format so it shows literally."""
    if fmt == "html":
        return html.escape(text, quote=True)
    if fmt == "markdown":
        return MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return text


def quote_block(text: str, fmt: Format) -> str:
    """Post text as a block that no format renders as markup, links or mentions."""
    if fmt == "html":
        return f"<pre>{html.escape(text, quote=True)}</pre>"
    if fmt == "markdown":
        # A fenced code block: nothing inside is markup. Backticks cannot close it early.
        body = text.replace("`", "\u02cb")
        return f"```\n{body}\n```"
    return "\n".join(f"> {line}" if line else ">" for line in text.split("\n"))
