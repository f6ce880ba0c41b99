"""What an alert or a digest says: the same facts on every channel, escaped for each format.

A message is plain data: whoever builds it (:mod:`social_crm.alerts.notifications`) makes
every value that comes from a mention safe once (:mod:`social_crm.delivery.safe`); it is
escaped for the channel's format when it is rendered. Messages name the alert and link to
the web interface when one is configured; they never spell out commands.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from social_crm.delivery.safe import Format, escape, one_line, quote_block

TOP_POST_LIMIT = 200  # characters of a latest mention's or a top post's text
# Who may see a post, as a message says it.
_AUDIENCES = {
    "unlisted": "unlisted (public, not in public timelines)",
    "private": "followers only",
    "direct": "direct (only the people it mentions)",
}


@dataclass(frozen=True, slots=True)
class AlertMessage:
    """The facts of an alert a community manager needs to act on it."""

    alert_id: int
    kind: str  # "mention", "crisis" or "health"
    brand: str
    status: str
    reason: str
    network: str
    url: str
    author: str
    customer: str | None
    customer_tier: str | None
    text: str  # the first mention's text, cleaned, made inert and cut (or why it is not quoted)
    sentiment: str
    confidence: float
    opened_at: str
    severity: str = "medium"
    rule: str | None = None
    level: int = 0  # 0 when opened; n when re-escalated to level n
    mention_count: int = 1
    last_url: str = ""
    last_author: str = ""
    last_text: str = ""
    last_at: str | None = None
    assignee: str | None = None
    top_posts: tuple[dict[str, Any], ...] = ()  # crisis alerts: the most seen posts
    reopens: int | None = None  # the resolved alert of the same conversation, if any
    reopens_note: str = ""  # who resolved it and when
    idempotency_key: str = ""
    alert_url: str = ""  # its page in the web interface; "" when none is configured
    status_url: str = ""  # health alerts: the web interface's status page
    visibility: str = "public"  # who may see the first mention: public, unlisted, private, direct

    @property
    def subject(self) -> str:
        """A one-line summary: no line breaks, nothing that pings or links."""
        escalated = f"ESCALATED (level {self.level}) " if self.level else ""
        if self.kind == "health":
            return f"[social-crm] {escalated}health: {self.reason}"
        if self.kind == "crisis":
            return f"[social-crm] {escalated}CRISIS {self.brand}: {self.reason}"
        who = f"{self.customer} ({self.customer_tier})" if self.customer else self.author
        return one_line(
            f"[social-crm] {escalated}{self.brand}: {self.sentiment} {self.network} mention "
            f"by {who} [{self.severity}]",
            limit=300,
        )

    def body(self) -> str:
        """A plain-text summary."""
        return self.render("text")[1]

    def render(self, fmt: Format = "text") -> tuple[str, str]:
        """The subject and body for a channel that shows ``fmt``."""
        e = _escaper(fmt)
        lines: list[str] = []
        if self.level:
            lines.append(e(f"Not acknowledged in time: escalated to level {self.level}."))
        lines.append(e(self.reason))
        lines.append("")
        lines.append(
            _field(fmt, "Severity", self.severity + (f" (rule {self.rule})" if self.rule else ""))
        )
        if self.kind == "mention":
            who = self.author
            if self.customer:
                who += f" = customer {self.customer} ({self.customer_tier or 'no tier'})"
            lines.append(_field(fmt, "Author", who))
            lines.append(_link_field(fmt, "Link", self.url))
            if self.visibility != "public":
                lines.append(
                    _field(fmt, "Visible", _AUDIENCES.get(self.visibility, self.visibility))
                )
        lines.append(_field(fmt, "Opened", self.opened_at))
        if self.reopens:
            lines.append(_field(fmt, "Reopens", f"alert {self.reopens}, {self.reopens_note}"))
        if self.kind == "mention" and self.mention_count > 1:
            lines.append(_field(fmt, "Mentions", f"{self.mention_count} in this alert"))
        if self.assignee:
            lines.append(_field(fmt, "Assigned", self.assignee))
        if self.kind == "mention":
            lines += ["", quote_block(self.text, fmt)]
            if self.last_url:
                lines += [
                    "",
                    _field(fmt, "Latest", f"{self.last_author} at {self.last_at}"),
                    _link_field(fmt, "Link", self.last_url),
                    quote_block(self.last_text, fmt),
                ]
        for rank, post in enumerate(self.top_posts, start=1):
            lines += [
                "",
                _field(fmt, f"Top {rank}", f"{post['author']} (reach {post['reach']})"),
                _link_field(fmt, "Link", post["url"]),
                quote_block(post["text"], fmt),
            ]
        lines += ["", e(f"Alert #{self.alert_id}")]
        if self.alert_url:
            lines.append(_web_link(fmt, "Open", self.alert_url))
        if self.status_url:
            lines.append(_web_link(fmt, "Status", self.status_url))
        if self.idempotency_key:
            lines.append(e(f"Ref: {self.idempotency_key}"))
        separator = "<br>\n" if fmt == "html" else "\n"
        return self.subject, separator.join(lines) + "\n"

    def as_json(self) -> dict[str, Any]:
        """The webhook payload; text fields are cleaned and inert but not escaped."""
        return {
            "event": f"{self.kind}_alert." + ("escalated" if self.level else "opened"),
            "subject": self.subject,
            "idempotency_key": self.idempotency_key,
            "alert": asdict(self),
        }


@dataclass(frozen=True, slots=True)
class DigestItem:
    """One alert in a digest."""

    alert_id: int
    severity: str
    subject: str
    url: str
    text: str
    mention_count: int
    opened_at: str
    alert_url: str = ""  # its page in the web interface; "" when none is configured


@dataclass(frozen=True, slots=True)
class DigestMessage:
    """Several low-severity alerts in one message, for one channel and period."""

    channel: str
    period: str
    items: tuple[DigestItem, ...] = field(default_factory=tuple)
    idempotency_key: str = ""
    alerts_url: str = ""  # the web interface's list of open alerts; "" when none is configured

    @property
    def subject(self) -> str:
        """A one-line summary."""
        count = len(self.items)
        return f"[social-crm] digest: {count} alert{'s' if count != 1 else ''} until {self.period}"

    def body(self) -> str:
        """A plain-text summary."""
        return self.render("text")[1]

    def render(self, fmt: Format = "text") -> tuple[str, str]:
        """The subject and body for a channel that shows ``fmt``."""
        e = _escaper(fmt)
        lines = [e(f"{len(self.items)} alert(s) that did not need anyone at once:")]
        for item in self.items:
            lines += [
                "",
                _field(
                    fmt, f"#{item.alert_id}", f"{item.subject} ({item.mention_count} mention(s))"
                ),
            ]
            if item.url:
                lines.append(_link_field(fmt, "Link", item.url))
            if item.alert_url:
                lines.append(_web_link(fmt, "Open", item.alert_url))
            lines.append(quote_block(item.text, fmt))
        if self.alerts_url:
            lines += ["", _web_link(fmt, "Open", self.alerts_url)]
        if self.idempotency_key:
            lines.append(e(f"Ref: {self.idempotency_key}"))
        separator = "<br>\n" if fmt == "html" else "\n"
        return self.subject, separator.join(lines) + "\n"

    def as_json(self) -> dict[str, Any]:
        """The webhook payload."""
        return {
            "event": "digest",
            "subject": self.subject,
            "idempotency_key": self.idempotency_key,
            "channel": self.channel,
            "period": self.period,
            "alerts": [asdict(item) for item in self.items],
        }


Message = AlertMessage | DigestMessage


def _escaper(fmt: Format) -> Any:
    return lambda text: escape(text, fmt)


def _field(fmt: Format, label: str, value: str) -> str:
    if fmt == "markdown":
        return f"**{escape(label, fmt)}:** {escape(value, fmt)}"
    if fmt == "html":
        return f"<b>{escape(label, fmt)}:</b> {escape(value, fmt)}"
    return f"{label + ':':<10}{value}"


def _link_field(fmt: Format, label: str, url: str) -> str:
    """The permalink: a real link only when it is a plain http(s) URL (see safe_link)."""
    if fmt == "markdown" and url.startswith(("http://", "https://")):
        return f"**{label}:** <{url}>"
    if fmt == "html" and url.startswith(("http://", "https://")):
        return f'<b>{label}:</b> <a href="{escape(url, fmt)}">{escape(url, fmt)}</a>'
    return _field(fmt, label, url)


def _web_link(fmt: Format, label: str, url: str) -> str:
    """A link into the web interface (configured, so trusted), e.g. ``Open: https://...``."""
    if fmt == "markdown":
        return f"{escape(label, fmt)}: <{url}>"
    if fmt == "html":
        return f'{escape(label, fmt)}: <a href="{escape(url, fmt)}">{escape(url, fmt)}</a>'
    return f"{label}: {url}"
