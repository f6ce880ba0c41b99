"""What an alert or a digest says: the same facts on every channel, escaped for each format.

Every value that comes from a mention is made safe once, when the message is built
(:mod:`social_crm.delivery.safe`), and escaped for the channel's format when it is rendered.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from social_crm.alerts.models import Alert
from social_crm.delivery.safe import Format, escape, one_line, post_text, quote_block, safe_link
from social_crm.mentions.models import MentionRecord

TOP_POST_LIMIT = 200


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
    text: str  # the first mention's text, cleaned, made inert and cut
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

    @classmethod
    def from_alert(cls, alert: Alert, *, level: int = 0, idempotency_key: str = "") -> AlertMessage:
        """Read the alert, its first and latest mentions; untrusted text is made safe here."""
        common: dict[str, Any] = {
            "alert_id": alert.id,
            "kind": alert.kind,
            "brand": one_line(alert.brand),
            "status": alert.status,
            "reason": one_line(alert.reason, limit=300),
            "opened_at": alert.opened_at.isoformat(),
            "severity": alert.severity,
            "rule": alert.rule,
            "level": level,
            "mention_count": alert.mention_count,
            "assignee": one_line(alert.assignee) if alert.assignee else None,
            "idempotency_key": idempotency_key,
        }
        last = alert.last_mention
        if last is not None and last.id != alert.first_mention_id:
            common.update(
                last_url=safe_link(last.url),
                last_author=one_line(last.author.handle),
                last_text=post_text(last.text, limit=TOP_POST_LIMIT, url=last.url),
                last_at=last.created_at.isoformat(),
            )
        details = alert.details or {}
        if alert.kind == "mention" and details.get("reopens"):
            common["reopens"] = int(details["reopens"])
            common["reopens_note"] = one_line(
                f"resolved by {details.get('resolved_by') or 'someone'}"
                + (f" at {details['resolved_at']}" if details.get("resolved_at") else "")
            )
        if alert.kind == "crisis":
            common["top_posts"] = tuple(
                _top_post(post) for post in (alert.details or {}).get("top", [])
            )
        mention = alert.first_mention
        if mention is None:
            return cls(
                **common,
                network="",
                url="",
                author="",
                customer=None,
                customer_tier=None,
                text=common["reason"],
                sentiment="",
                confidence=0.0,
            )
        customer = mention.author.customer
        sentiment = mention.sentiment
        return cls(
            **common,
            network=one_line(mention.network),
            url=safe_link(mention.url),
            author=one_line(mention.author.handle),
            customer=one_line(customer.name) if customer else None,
            customer_tier=one_line(customer.tier) if customer and customer.tier else None,
            text=post_text(mention.text, url=mention.url),
            sentiment=sentiment.label if sentiment else "unknown",
            confidence=round(sentiment.confidence, 3) if sentiment else 0.0,
        )

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
        lines.append("")
        if self.kind == "health":
            lines.append(e("See: social-crm status"))
        lines.append(e(f"Acknowledge: social-crm alerts ack {self.alert_id}"))
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

    @classmethod
    def from_alert(cls, alert: Alert) -> DigestItem:
        """The line a digest shows for ``alert``."""
        message = AlertMessage.from_alert(alert)
        mention: MentionRecord | None = alert.first_mention
        return cls(
            alert_id=alert.id,
            severity=alert.severity,
            subject=message.subject,
            url=message.url,
            text=post_text(mention.text, limit=TOP_POST_LIMIT, url=mention.url)
            if mention
            else message.reason,
            mention_count=alert.mention_count,
            opened_at=message.opened_at,
        )


@dataclass(frozen=True, slots=True)
class DigestMessage:
    """Several low-severity alerts in one message, for one channel and period."""

    channel: str
    period: str
    items: tuple[DigestItem, ...] = field(default_factory=tuple)
    idempotency_key: str = ""

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
            lines.append(quote_block(item.text, fmt))
        lines += ["", e("List them: social-crm alerts list --status open")]
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


def _top_post(post: dict[str, Any]) -> dict[str, Any]:
    return {
        "author": one_line(str(post.get("author", ""))),
        "reach": int(post.get("reach", 0)),
        "url": safe_link(str(post.get("url", ""))),
        "text": post_text(str(post.get("text", "")), limit=TOP_POST_LIMIT, url=post.get("url")),
    }


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
