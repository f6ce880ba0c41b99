"""Mastodon statuses as Mentions: status HTML as plain text, accts qualified with their
instance's domain, and the order of the opaque ids servers hand out."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from connectors.base import Author, Mention

LOGGER = logging.getLogger(__name__)

NETWORK = "mastodon"


def instance_domain(api_base_url: str) -> str:
    """The instance's domain as accts use it: ``host`` or ``host:port`` (default ports dropped)."""
    parts = urlsplit(api_base_url)
    host = (parts.hostname or "").lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = parts.port
    if port is None or (parts.scheme, port) in {("http", 80), ("https", 443)}:
        return host
    return f"{host}:{port}"


def status_text(status: Mapping[str, Any]) -> str:
    """A status's readable text: content warning, content, then media descriptions and poll.

    A quote post's ``RE: <url>`` fallback line (Mastodon's ``quote-inline`` element) is
    left out: it is there for clients that cannot show quotes.
    """
    parts = [
        (status.get("spoiler_text") or "").strip(),
        html_to_text(status.get("content") or ""),
        *_media_lines(status.get("media_attachments")),
        _poll_line(status.get("poll")),
    ]
    return "\n\n".join(part for part in parts if part)


def _media_lines(attachments: Any) -> list[str]:
    """``[image: description]`` for each attachment its author described."""
    if not isinstance(attachments, Sequence):
        return []
    lines = []
    for item in attachments:
        if not isinstance(item, Mapping):
            continue
        description = " ".join(str(item.get("description") or "").split())
        if description:
            lines.append(f"[{item.get('type') or 'media'}: {description}]")
    return lines


def _poll_line(poll: Any) -> str:
    """``Poll: a / b / c``, the options a poll offers; "" without a poll."""
    if not isinstance(poll, Mapping) or not isinstance(poll.get("options"), Sequence):
        return ""
    titles = [
        " ".join(str(option.get("title") or "").split())
        for option in poll["options"]
        if isinstance(option, Mapping)
    ]
    titles = [title for title in titles if title]
    return "Poll: " + " / ".join(titles) if titles else ""


def account_profile(account: Mapping[str, Any]) -> dict[str, Any] | None:
    """The bio and profile fields (with their ``rel=me`` verification) as linking reads them.

    None when the account carries neither, so a stored profile is not wiped by a listing
    that leaves them out.
    """
    if "note" not in account and "fields" not in account:
        return None
    fields = []
    for item in account.get("fields") or []:
        if not isinstance(item, Mapping):
            continue
        verified = item.get("verified_at")
        fields.append(
            {
                "name": str(item.get("name") or ""),
                "value": str(item.get("value") or ""),
                # Mastodon.py hands out datetimes; the profile is stored as JSON.
                "verified_at": verified.isoformat()
                if isinstance(verified, datetime)
                else (str(verified) if verified else None),
            }
        )
    return {"note": str(account.get("note") or ""), "fields": fields}


def mention_from_status(
    status: Mapping[str, Any],
    *,
    brand: str,
    source: str,
    instance: str,
    parent: str | None = None,
    root: str | None = None,
) -> Mention:
    """A status (Mastodon.py object or JSON dict) as a Mention; a boost becomes its original.

    ``instance`` is the domain of the server it was read from: it qualifies local accts, so
    a status has the same native id (its URI), URL and author handle through any server.
    ``parent`` and ``root`` are the URIs of the status it replies to and of its
    conversation's first status, when the caller could resolve them: a reply's
    ``in_reply_to_id`` is a local id of one server, not a native id.
    """
    reblog = status.get("reblog")
    if reblog:
        status = reblog
    account = status["account"]
    acct = str(account["acct"]).lower()
    handle = acct if "@" in acct else f"{acct}@{instance.lower()}"
    uri = str(status["uri"])
    edited = status.get("edited_at")
    language = status.get("language")
    return Mention(
        network=NETWORK,
        native_id=uri,
        brand=brand,
        source=source,
        url=str(status.get("url") or status["uri"]),
        author=Author(
            network=NETWORK,
            handle=handle,
            display_name=str(account.get("display_name") or ""),
            followers=_count(account.get("followers_count")),
            url=str(account.get("url") or ""),
            profile=account_profile(account),
            bot=account.get("bot") is True,
        ),
        text=status_text(status),
        created_at=_utc_datetime(status["created_at"]),
        kind="status",
        thread_id=root or parent or uri,
        parent_id=parent,
        reach=_count(status.get("favourites_count")) + _count(status.get("reblogs_count")),
        edited_at=_utc_datetime(edited) if edited else None,
        language=str(language)[:20] if language else None,
        visibility=str(status.get("visibility") or "public")[:20],
    )


def _count(value: Any) -> int:
    """A count the server sent; absent or not a number (some servers send null): 0."""
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def _newest_id(ids: Sequence[str], cursor: str | None) -> str | None:
    """The newest of ``ids`` and ``cursor``, by id order: for items that arrive in no order."""
    return max([*ids, *([cursor] if cursor else [])], key=_id_key, default=cursor)


def _item_id(item: Mapping[str, Any]) -> str:
    """An item's id as the opaque string it is (Mastodon.py may hand out ints)."""
    return str(item["id"])


def _id_key(item_id: str) -> tuple[int, str]:
    """Order of ids: Mastodon snowflakes, Pleroma flake ids and ULIDs sort by (length, text)."""
    return len(item_id), item_id


def _utc_datetime(value: datetime | str) -> datetime:
    """A timezone-aware UTC datetime from Mastodon.py's datetime or the JSON ISO string."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# -- HTML to text -------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {
        "address",
        "article",
        "aside",
        "blockquote",
        "div",
        "dl",
        "figure",
        "footer",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "header",
        "hr",
        "ol",
        "p",
        "pre",
        "section",
        "table",
        "ul",
    }
)
_LINE_TAGS = frozenset({"dd", "dt", "li", "tr"})
_HIDDEN_TAGS = frozenset({"script", "style", "template", "head", "title"})
_VOID_TAGS = frozenset({"br", "hr", "img", "input", "meta", "link", "wbr"})
_HTML_SPACE = " \t\n\r\f"


class _TextExtractor(HTMLParser):
    """Collects the readable text of status HTML: blocks as paragraphs, <br> as newlines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._chunks: list[str] = []
        self._owed = 0  # newlines owed before the next text
        self._hidden = 0
        self._pre = 0
        self._skipped: list[str] = []  # open elements of a fallback left out (quote-inline)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Open an element."""
        if self._skipped:
            if tag not in _VOID_TAGS:
                self._skipped.append(tag)
            return
        classes = (dict(attrs).get("class") or "").split()
        if "quote-inline" in classes and tag not in _VOID_TAGS:
            self._skipped.append(tag)
            return
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag == "br":
            self._owed = min(self._owed + 1, 2)
        elif tag in _BLOCK_TAGS:
            self._owed = 2
            if tag == "pre":
                self._pre += 1
        elif tag in _LINE_TAGS:
            self._owed = max(self._owed, 1)

    def handle_endtag(self, tag: str) -> None:
        """Close an element."""
        if self._skipped:
            for depth in range(len(self._skipped) - 1, -1, -1):
                if self._skipped[depth] == tag:  # the innermost open element of that name
                    del self._skipped[depth:]
                    break
            return
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BLOCK_TAGS:
            self._owed = 2
            if tag == "pre":
                self._pre = max(0, self._pre - 1)
        elif tag in _LINE_TAGS:
            self._owed = max(self._owed, 1)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """A self-closing element: ``<br/>`` breaks a line, others open and close."""
        self.handle_starttag(tag, attrs)
        if tag != "br":
            self.handle_endtag(tag)

    def handle_data(self, data: str) -> None:
        """Text: whitespace collapsed as a browser would, except inside <pre>."""
        if self._hidden or self._skipped:
            return
        if not self._pre:
            data = _collapse_space(data)
            if self._owed or not self._chunks or self._chunks[-1].endswith(("\n", " ")):
                data = data.lstrip(" ")
        if not data:
            return
        if self._chunks and self._owed:
            self._chunks.append("\n" * self._owed)
        self._owed = 0
        self._chunks.append(data)

    def parse_marked_section(self, i: int, report: int = 1) -> int:
        """Markup like ``<![x[`` that the stdlib rejects is skipped like a bogus comment."""
        try:
            return super().parse_marked_section(i, report)
        except AssertionError:
            end = self.rawdata.find(">", i)
            return -1 if end < 0 else end + 1

    def text(self) -> str:
        """The collected text, trailing spaces and blank edges removed."""
        lines = "".join(self._chunks).split("\n")
        return "\n".join(line.rstrip(_HTML_SPACE) for line in lines).strip(_HTML_SPACE)


def _collapse_space(data: str) -> str:
    """Runs of HTML whitespace as one space."""
    out: list[str] = []
    in_space = False
    for char in data:
        if char in _HTML_SPACE:
            if not in_space:
                out.append(" ")
            in_space = True
        else:
            out.append(char)
            in_space = False
    return "".join(out)


def html_to_text(html: str) -> str:
    """Status HTML as readable plain text: paragraphs, line breaks, link text, entities."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return parser.text()
