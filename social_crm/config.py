"""The typed configuration: loaded from YAML once, validated whole, secrets from ${ENV}."""

from __future__ import annotations

import os
import re
import string
from collections.abc import Collection
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    RootModel,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from connectors.base import Watch
from social_crm.errors import ConfigError
from social_crm.listening import SOURCE_KINDS, QuerySyntaxError, RuleSet, Term, parse_query
from social_crm.severity import Severity

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Strict(BaseModel):
    """Base for config sections: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BrandAccounts(Strict):
    """The brand's own accounts, whose mentions are listened to."""

    reddit: str | None = None
    mastodon: str | None = None


def _terms(values: list[str]) -> list[str]:
    """Words and phrases the listening rules can look for (each with a letter or digit)."""
    for value in values:
        try:
            Term(value)
        except ValueError as exc:
            raise PydanticCustomError("term", str(exc)) from None
    return [value.strip() for value in values]


class ListeningRules(Strict):
    """Which fetched items become mentions: exclusions, a query and scopes (README:
    "Listening rules"). Checked once per item, after a fetch and before it is stored."""

    query: str | None = None  # AND, OR, NOT, ( ), "phrases", #tags, $cashtags, prefix*
    exclude: list[str] = []  # words and phrases: an item with any of them is dropped
    exclude_subreddits: list[str] = []
    exclude_authors: list[str] = []  # reddit name, mastodon user@instance (a bare name: any)
    exclude_instances: list[str] = []  # Mastodon instances (and their subdomains)
    exclude_bots: bool = True  # known bot accounts (DEFAULT_BOTS and `bots`), network-flagged bots
    bots: list[str] = []  # more known bot accounts
    languages: list[str] = []  # ISO 639-1 codes to keep (the network's, else detected); []: all
    min_length: int = Field(0, ge=0)  # characters, whitespace collapsed
    scope: dict[str, Literal["all", "keyword"]] = {}  # source kind, r/<name> or #<tag>

    @field_validator("query")
    @classmethod
    def _parses(cls, query: str | None) -> str | None:
        if query is None:
            return None
        try:
            parse_query(query)
        except QuerySyntaxError as exc:
            raise PydanticCustomError("query", str(exc)) from None
        return query

    _exclude = field_validator("exclude")(_terms)

    @field_validator("exclude_subreddits")
    @classmethod
    def _subreddit_names(cls, subs: list[str]) -> list[str]:
        return [re.sub(r"^/?r/", "", sub.strip()).lower() for sub in subs]

    @field_validator("exclude_instances", "exclude_authors", "bots")
    @classmethod
    def _folded(cls, values: list[str]) -> list[str]:
        if any(not value.strip() for value in values):
            raise PydanticCustomError("empty", "entries must not be empty")
        return [value.strip().lower() for value in values]

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, codes: list[str]) -> list[str]:
        bad = [code for code in codes if not re.fullmatch(r"[a-z]{2,3}", code.strip().lower())]
        if bad:
            raise PydanticCustomError(
                "language", "expected ISO 639-1 codes such as en, nl; not: {bad}", {"bad": bad}
            )
        return [code.strip().lower() for code in codes]

    @field_validator("scope")
    @classmethod
    def _scope_sources(cls, scope: dict[str, str]) -> dict[str, str]:
        named = re.compile(r"^(r/[A-Za-z0-9_]+|#\w+)$")
        unknown = [key for key in scope if key not in SOURCE_KINDS and not named.match(key)]
        if unknown:
            raise PydanticCustomError(
                "scope",
                "unknown source {unknown}; expected {kinds}, r/<subreddit> or #<hashtag>",
                {"unknown": ", ".join(map(repr, unknown)), "kinds": ", ".join(SOURCE_KINDS)},
            )
        return {key.lower(): value for key, value in scope.items()}


class Brand(Strict):
    """A brand and what is watched for it."""

    name: str = Field(min_length=1)
    keywords: list[str] = []
    hashtags: list[str] = []
    subreddits: list[str] = []
    accounts: BrandAccounts = BrandAccounts()
    rules: ListeningRules = ListeningRules()

    _keywords = field_validator("keywords")(_terms)

    @field_validator("hashtags")
    @classmethod
    def _strip_hash(cls, tags: list[str]) -> list[str]:
        return [tag.lstrip("#").lower() for tag in tags]

    @field_validator("subreddits")
    @classmethod
    def _strip_prefix(cls, subs: list[str]) -> list[str]:
        return [re.sub(r"^/?r/", "", sub) for sub in subs]

    def owns(self, network: str, handle: str) -> bool:
        """Whether ``handle`` (an author's, as connectors give it) is the brand's own account
        on ``network``; an account named without its instance matches on any instance."""
        account = {"reddit": self.accounts.reddit, "mastodon": self.accounts.mastodon}.get(network)
        if not account:
            return False
        own = re.sub(r"^/?u/", "", account.strip().lower()).lstrip("@")
        theirs = handle.strip().lower().lstrip("@")
        return theirs == own or ("@" not in own and theirs.split("@")[0] == own)

    def watch(self) -> Watch:
        """What connectors are asked to watch for this brand."""
        return Watch(
            name=self.name,
            keywords=tuple(self.keywords),
            hashtags=tuple(self.hashtags),
            subreddits=tuple(self.subreddits),
            reddit_account=self.accounts.reddit,
            mastodon_account=self.accounts.mastodon,
        )

    def rule_set(self) -> RuleSet:
        """The brand's listening rules, compiled (the query was checked at load)."""
        rules = self.rules
        return RuleSet.compile(
            brand=self.name,
            keywords=self.keywords,
            hashtags=self.hashtags,
            query=parse_query(rules.query) if rules.query is not None else None,
            exclude=rules.exclude,
            exclude_subreddits=rules.exclude_subreddits,
            exclude_authors=rules.exclude_authors,
            exclude_instances=rules.exclude_instances,
            exclude_bots=rules.exclude_bots,
            bots=rules.bots,
            languages=rules.languages,
            min_length=rules.min_length,
            scope=rules.scope,
        )


class ConnectorEntry(BaseModel):
    """One configured connector; keys beyond these go to the connector's own settings."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str | None = None  # registry name; defaults to the entry's key
    enabled: bool = True
    poll_interval_seconds: float = Field(60.0, gt=0)  # the fastest a source is polled
    max_poll_interval_seconds: float | None = Field(None, gt=0)  # quiet sources: default 10x


class DatabaseConfig(Strict):
    """Where mentions, customers and alerts are stored (SQLAlchemy URL)."""

    url: str | None = None  # default: SQLite in the data directory


class SentimentConfig(Strict):
    """Which classifier labels mentions, and when its label counts as uncertain."""

    model: str = "default"
    batch_size: int = Field(32, ge=1, le=1024)
    # A label whose top score is below this is stored as uncertain (escalation rules can
    # send such mentions to a person instead of alerting).
    uncertain_below: float = Field(0.5, ge=0.0, le=1.0)
    # Inference threads of the bundled models, each taking a core while it classifies
    # (default: one per core). Several daemons on one machine: give each its share.
    threads: int | None = Field(None, ge=1, le=256)


CLOCK_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _clock(value: Any) -> str:
    """A "HH:MM" time of day; YAML reads an unquoted 22:00 as the number 1320, so say so."""
    if not isinstance(value, str) or not CLOCK_TIME.match(value):
        raise ValueError('expected a quoted 24-hour time such as "22:00"')
    return value


def _timezone(value: str) -> str:
    """An IANA time zone name such as Europe/Amsterdam."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; expected e.g. Europe/Amsterdam") from None
    return value


class EscalationRule(Strict):
    """One rule: every condition it sets must hold; a match raises an alert of its severity."""

    name: str = Field(min_length=1)
    severity: Severity
    level: int = Field(0, ge=0)  # notify alerts.levels 0..level at once
    sentiment: list[Literal["negative", "neutral", "positive"]] = Field(
        default=["negative"], min_length=1
    )
    min_confidence: float | None = Field(None, ge=0.0, le=1.0)
    uncertain: bool | None = None  # True: only uncertain labels; False: only confident ones
    tiers: list[str] = []  # customer tier, any of (case-insensitive)
    customer: bool | None = None  # True: only known customers; False: only strangers
    min_followers: int | None = Field(None, ge=0)  # author reach
    min_reach: int | None = Field(None, ge=0)  # the mention's own reach (score, boosts...)
    keywords: list[str] = []  # any of, case-insensitive, whole words
    brands: list[str] = []
    networks: list[str] = []

    @model_validator(mode="wrap")
    @classmethod
    def _name_the_rule(cls, data: Any, handler: Any) -> Any:
        """Errors inside a rule say which rule: ``(name 'vip') severity: ...``."""
        try:
            return handler(data)
        except ValidationError as exc:
            name = data.get("name") if isinstance(data, dict) else None
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: "
                + {"extra_forbidden": "unknown key", "missing": "required key is missing"}.get(
                    e["type"], e["msg"]
                )
                for e in exc.errors()
            )
            raise PydanticCustomError(
                "invalid_rule",
                "(name {name}) {problems}",
                {"name": repr(name), "problems": problems},
            ) from None

    @field_validator("tiers", "networks", "brands")
    @classmethod
    def _fold(cls, values: list[str]) -> list[str]:
        return [value.strip().lower() for value in values]

    @field_validator("keywords")
    @classmethod
    def _no_empty_keyword(cls, values: list[str]) -> list[str]:
        if any(not value.strip() for value in values):
            raise ValueError("keywords must not be empty")
        return [value.strip() for value in values]


def default_rules(negative_threshold: float) -> list[EscalationRule]:
    """The rules that apply when ``escalation.rules`` is not set."""
    confident = {"sentiment": ["negative"], "min_confidence": negative_threshold}
    return [
        EscalationRule(
            name="vip-negative", severity=Severity.HIGH, tiers=["vip", "gold"], **confident
        ),
        EscalationRule(
            name="high-reach-negative", severity=Severity.HIGH, min_followers=10_000, **confident
        ),
        EscalationRule(name="viral-negative", severity=Severity.HIGH, min_reach=100, **confident),
        EscalationRule(name="negative", severity=Severity.MEDIUM, **confident),
        EscalationRule(
            name="uncertain-negative", severity=Severity.LOW, sentiment=["negative"], uncertain=True
        ),
    ]


class SlaMinutes(Strict):
    """Minutes an alert of each severity may stay unacknowledged before it re-escalates."""

    critical: float | None = Field(15.0, gt=0)
    high: float | None = Field(60.0, gt=0)
    medium: float | None = Field(240.0, gt=0)
    low: float | None = Field(None, gt=0)

    def of(self, severity: str) -> float | None:
        """The SLA of ``severity`` in minutes; None: it never re-escalates."""
        return float(getattr(self, severity)) if getattr(self, severity) is not None else None


class EscalationConfig(Strict):
    """Which mentions become alerts, how they are grouped, and when they re-escalate."""

    negative_threshold: float = Field(0.6, ge=0.0, le=1.0)  # used by the default rules
    rules: list[EscalationRule] | None = None  # None: default_rules(negative_threshold)
    author_cooldown_minutes: float = Field(60.0, ge=0)
    sla_minutes: SlaMinutes = SlaMinutes()
    sla_check_interval_seconds: float = Field(60.0, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _moved_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and "uncertain_below" in data:
            raise PydanticCustomError(
                "moved", "uncertain_below has moved to sentiment.uncertain_below"
            )
        return data

    @field_validator("rules")
    @classmethod
    def _unique_rule_names(cls, rules: list[EscalationRule] | None) -> list[EscalationRule] | None:
        names = [rule.name for rule in rules or []]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(duplicates)}")
        return rules

    @property
    def effective_rules(self) -> list[EscalationRule]:
        """The configured rules, or the defaults; the first that matches wins."""
        return self.rules if self.rules is not None else default_rules(self.negative_threshold)


class SpikesConfig(Strict):
    """Crisis detection: negative volume per brand against the same window on earlier days."""

    enabled: bool = True
    window_minutes: float = Field(60.0, gt=0)
    factor: float = Field(3.0, ge=1.0)
    min_count: int = Field(10, ge=1)
    baseline_days: int = Field(7, ge=0)
    baseline_weeks: int = Field(4, ge=0)
    top_posts: int = Field(5, ge=1, le=50)
    level: int = Field(0, ge=0)  # the escalation level a crisis alert starts at
    check_interval_seconds: float = Field(300.0, gt=0)


class EmailChannel(Strict):
    """Alerts by SMTP email."""

    type: Literal["email"]
    name: str = "email"
    private: bool = False  # True: followers-only and direct posts may be quoted here
    host: str
    port: int = Field(25, ge=1, le=65535)
    sender: str
    recipients: list[str] = Field(min_length=1)
    starttls: bool = False
    username: str | None = None
    password: SecretStr | None = None
    timeout_seconds: float = Field(10.0, gt=0)


class WebhookChannel(Strict):
    """Alerts as a JSON POST to a chat or incident webhook, signed when a secret is set."""

    type: Literal["webhook"]
    name: str = "webhook"
    private: bool = False  # True: followers-only and direct posts may be quoted here
    url: str = Field(pattern=r"^https?://")
    headers: dict[str, str] = {}
    secret: SecretStr | None = None  # whsec_<base64>: Standard Webhooks signing key
    timeout_seconds: float = Field(10.0, gt=0)


class AppriseChannel(Strict):
    """Alerts through apprise: Slack, Microsoft Teams, Matrix, Discord, Telegram and more."""

    type: Literal["apprise"]
    name: str = "apprise"
    private: bool = False  # True: followers-only and direct posts may be quoted here
    url: SecretStr  # an apprise URL such as slack://T000/B000/XXXX; secrets via ${ENV}
    format: Literal["markdown", "text"] = "markdown"


Channel = Annotated[EmailChannel | WebhookChannel | AppriseChannel, Field(discriminator="type")]


class DigestConfig(Strict):
    """Alerts up to a severity are gathered into one message per channel and period."""

    severity_at_most: Severity = Severity.LOW
    every: Literal["hourly", "daily"] = "hourly"
    daily_at: str = "08:00"  # local time of the daily digest
    timezone: str = "UTC"

    _daily_at = field_validator("daily_at", mode="before")(_clock)
    _tz = field_validator("timezone")(_timezone)


class QuietHours(Strict):
    """Hours when deliveries of alerts below a severity wait until the quiet ends."""

    start: str
    end: str
    timezone: str = "UTC"
    hold_below: Severity = Severity.HIGH

    _times = field_validator("start", "end", mode="before")(_clock)
    _tz = field_validator("timezone")(_timezone)

    def holds(self, severity: str | None) -> bool:
        """Whether a delivery of ``severity`` (None: a digest) waits while it is quiet."""
        return severity is None or Severity(severity).rank < self.hold_below.rank


class AlertsConfig(Strict):
    """Where alerts go, in which escalation levels, and how failed deliveries are retried."""

    channels: list[Channel] = []
    levels: list[list[str]] | None = None  # channel names per level; None: one level, all
    digest: DigestConfig | None = DigestConfig()
    quiet_hours: QuietHours | None = None
    max_attempts: int = Field(8, ge=1)
    retry_base_seconds: float = Field(30.0, gt=0)
    retry_max_seconds: float = Field(3600.0, gt=0)
    lease_seconds: float = Field(300.0, gt=0)

    @field_validator("channels")
    @classmethod
    def _unique_names(cls, channels: list[Channel]) -> list[Channel]:
        names = [c.name for c in channels]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"channel names must be unique; repeated: {', '.join(duplicates)}")
        return channels

    @model_validator(mode="after")
    def _levels_name_channels(self) -> AlertsConfig:
        known = {channel.name for channel in self.channels}
        for number, level in enumerate(self.levels or []):
            if not level:
                raise ValueError(f"levels.{number}: a level needs at least one channel")
            unknown = sorted(set(level) - known)
            if unknown:
                raise ValueError(
                    f"levels.{number}: unknown channel(s) {', '.join(unknown)}; "
                    f"channels: {', '.join(sorted(known)) or 'none'}"
                )
        return self


class AmbassadorWeights(Strict):
    """How much each part of the ambassador score counts; every weight is zero or more."""

    recent_positive: float = Field(1.0, ge=0)  # x each positive mention's confidence x decay
    positive_count: float = Field(0.5, ge=0)  # x log2(1 + positive mentions in the window)
    positive_share: float = Field(1.0, ge=0)  # x the (decayed) share of mentions that are positive
    engagement: float = Field(0.25, ge=0)  # x log10(1 + engagement received on positive mentions)
    negative_penalty: float = Field(1.5, ge=0)  # x each negative mention's confidence x decay
    reach: float = Field(0.25, ge=0)  # reach factor: 1 + weight x log10(1 + followers)
    customer: float = Field(1.2, gt=0)  # factor for an author linked to a CRM customer


class AmbassadorsConfig(Strict):
    """How the ambassador score is made, and when a candidate is put up for review."""

    half_life_days: float = Field(30.0, gt=0)
    window_days: float = Field(365.0, gt=0)
    weights: AmbassadorWeights = AmbassadorWeights()
    tier_weights: dict[str, float] = {"vip": 1.5, "gold": 1.3, "silver": 1.15}
    status_weights: dict[str, float] = {"churned": 0.5}
    review_threshold: float = Field(3.0, ge=0)
    rising_window_days: float = Field(7.0, gt=0)
    full_recompute_hours: float = Field(24.0, gt=0)

    @field_validator("tier_weights", "status_weights")
    @classmethod
    def _positive_factors(cls, weights: dict[str, float]) -> dict[str, float]:
        bad = sorted(name for name, value in weights.items() if value <= 0)
        if bad:
            raise ValueError(f"factors must be above 0; not: {', '.join(bad)}")
        return {name.strip().lower(): value for name, value in weights.items()}


class LinkingWeights(Strict):
    """How much each kind of evidence counts towards linking an author to a customer."""

    crm_handle: float = Field(1.0, ge=0)  # the author's handle is in the CRM
    verified_link: float = Field(0.9, ge=0)  # a rel=me verified profile link to their website
    email_in_profile: float = Field(0.8, ge=0)  # their CRM email address in the bio or fields
    domain_in_profile: float = Field(0.4, ge=0)  # their website's domain in the bio or fields
    same_username: float = Field(0.5, ge=0)  # their username on another network
    display_name: float = Field(0.3, ge=0)  # x name similarity, when close enough


class LinkingConfig(Strict):
    """When evidence ties an author to a customer by itself, and when a person decides."""

    auto_link_threshold: float = Field(0.9, gt=0)
    suggest_threshold: float = Field(0.4, gt=0)
    name_min_similarity: float = Field(0.85, ge=0, le=1)
    weights: LinkingWeights = LinkingWeights()

    @model_validator(mode="after")
    def _ordered(self) -> LinkingConfig:
        if self.suggest_threshold > self.auto_link_threshold:
            raise ValueError("suggest_threshold must not be above auto_link_threshold")
        return self


class Situation(StrEnum):
    """What a reply template is for."""

    THANKS = "thanks"  # thank an ambassador
    APOLOGY = "apology"  # apologise and move to a private conversation
    ANSWER = "answer"  # answer a question
    CUSTOM = "custom"  # anything else; people pick it by name


# The variables a reply template may use: the post's author, the brand, the brand's link
# and the customer's name (the author's display name or handle when not linked).
TEMPLATE_VARIABLES = ("author", "brand", "customer_name", "link")
# A private message's subject when its template names none.
DEFAULT_SUBJECT = "Your post about {brand}"
# A validation error whose message names its own place (``engagement.templates[3] ...``).
NAMED_ERROR = "named"


def _named(problem: str, *at: str | int) -> PydanticCustomError:
    """A validation error saying ``problem``, found at the config keys ``at`` (for its line)."""
    return PydanticCustomError(NAMED_ERROR, "{problem}", {"problem": problem, "at": at})


def template_variables(text: str) -> list[str]:
    """The variables ``text`` uses, in order; ValueError if its braces do not parse."""
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


class ReplyTemplate(Strict):
    """A reply text for one brand, situation and language, with {variables}."""

    name: str = Field(min_length=1)
    brand: str = Field(min_length=1)
    situation: Situation
    language: str = Field("en", pattern=r"^[a-z]{2,3}$")  # ISO 639 code, e.g. en, nl
    text: str = Field(min_length=1)
    private: bool = False  # a private message (Reddit) or direct reply (Mastodon)
    subject: str = DEFAULT_SUBJECT  # a private message's subject, where there is one
    auto_send: bool = False  # approved as it is proposed; never for negative mentions


class ProposalRule(Strict):
    """Which mentions get a draft reply: every condition set must hold; the first rule wins."""

    name: str = Field(min_length=1)
    situation: Literal[Situation.THANKS, Situation.APOLOGY, Situation.ANSWER]
    sentiment: list[Literal["negative", "neutral", "positive"]] = Field(
        default=["negative"], min_length=1
    )
    min_confidence: float | None = Field(None, ge=0.0, le=1.0)
    customer: bool | None = None  # True: only known customers; False: only strangers
    tiers: list[str] = []  # customer tier, any of (case-insensitive)
    ambassador: bool | None = None  # True: only authors approved as ambassadors
    question: bool | None = None  # True: only posts that ask something (a "?")
    keywords: list[str] = []  # any of, case-insensitive, whole words
    brands: list[str] = []
    networks: list[str] = []

    @field_validator("tiers", "networks", "brands")
    @classmethod
    def _fold(cls, values: list[str]) -> list[str]:
        return [value.strip().lower() for value in values]


class ReplyLimit(Strict):
    """At most ``count`` replies in any ``minutes``."""

    count: int = Field(ge=1)
    minutes: float = Field(gt=0)


class ReplyLimits(Strict):
    """How many replies may go out, per network account, per thread and per author."""

    per_account: ReplyLimit = ReplyLimit(count=30, minutes=60)
    per_thread: ReplyLimit = ReplyLimit(count=1, minutes=10)
    per_author: ReplyLimit = ReplyLimit(count=1, minutes=60)


class EngagementBrand(Strict):
    """How one brand replies: its default language, its {link} and a footer."""

    default_language: str = Field("en", pattern=r"^[a-z]{2,3}$")
    link: str | None = None  # the {link} variable, e.g. the support page
    footer: str | None = None  # added below every reply, e.g. a disclosure


class EngagementConfig(Strict):
    """Reply templates, which mentions get a draft, and how approved replies are sent."""

    templates: list[ReplyTemplate] = []
    rules: list[ProposalRule] = []
    brands: dict[str, EngagementBrand] = {}
    limits: ReplyLimits = ReplyLimits()
    network_limits: dict[str, ReplyLimits] = {}  # per network; keys set here win over limits
    recovery_window_days: float = Field(14.0, gt=0)
    resolve_alert: bool = False  # a sent reply resolves its alert unless told otherwise
    dry_run: bool = False  # the send job only logs what it would post
    propose_interval_seconds: float = Field(30.0, gt=0)
    propose_max_age_hours: float = Field(72.0, gt=0)  # older mentions get no proposal
    send_interval_seconds: float = Field(30.0, gt=0)
    max_attempts: int = Field(5, ge=1)
    retry_base_seconds: float = Field(60.0, gt=0)
    retry_max_seconds: float = Field(3600.0, gt=0)
    lease_seconds: float = Field(300.0, gt=0)  # a send not recorded after this long is retried

    @model_validator(mode="after")
    def _check_templates(self) -> EngagementConfig:
        seen: dict[str, int] = {}
        slots: dict[tuple[str, str, str], str] = {}
        for index, template in enumerate(self.templates):
            where = f"engagement.templates[{index}] {template.name!r}"
            at = ("engagement", "templates", index)
            if template.name in seen:
                raise _named(f"{where}: the name is taken by templates[{seen[template.name]}]", *at)
            seen[template.name] = index
            for key in ("text", "subject"):
                try:
                    used = template_variables(getattr(template, key))
                except ValueError as exc:
                    raise _named(
                        f"{where}: {key} is not a valid template: {exc}", *at, key
                    ) from None
                for name in used:
                    if name not in TEMPLATE_VARIABLES:
                        raise _named(
                            f"{where}: unknown variable {{{name}}}; "
                            f"known: {', '.join(TEMPLATE_VARIABLES)}",
                            *at,
                            key,
                        )
                if "link" in used and not self.brand(template.brand).link:
                    raise _named(
                        f"{where}: uses {{link}}, but engagement.brands.{template.brand}.link "
                        "is not set",
                        *at,
                        key,
                    )
            if template.auto_send and template.situation == Situation.APOLOGY:
                raise _named(
                    f"{where}: auto_send is refused for apologies; "
                    "a person approves every reply to a negative mention",
                    *at,
                    "auto_send",
                )
            if template.situation != Situation.CUSTOM:
                slot = (template.brand, template.situation, template.language)
                if slot in slots:
                    raise _named(
                        f"{where}: {template.brand} already has a {template.situation} template "
                        f"in {template.language!r} ({slots[slot]!r})",
                        *at,
                    )
                slots[slot] = template.name
        names = [rule.name for rule in self.rules]
        for index, rule in enumerate(self.rules):
            where = f"engagement.rules[{index}] {rule.name!r}"
            if names.count(rule.name) > 1:
                raise _named(f"{where}: rule names must be unique", "engagement", "rules", index)
            if not any(t.situation == rule.situation for t in self.templates):
                raise _named(
                    f"{where}: no template has situation {rule.situation}",
                    "engagement",
                    "rules",
                    index,
                    "situation",
                )
        return self

    def brand(self, name: str) -> EngagementBrand:
        """The reply settings of brand ``name`` (the defaults when it has none)."""
        return self.brands.get(name, EngagementBrand())

    def limits_for(self, network: str) -> ReplyLimits:
        """The reply limits on ``network``: its own where set, else ``limits``."""
        own = self.network_limits.get(network)
        if own is None:
            return self.limits
        return self.limits.model_copy(
            update={key: getattr(own, key) for key in own.model_fields_set}
        )

    def template(self, name: str) -> ReplyTemplate | None:
        """The template called ``name``, if there is one."""
        return next((t for t in self.templates if t.name == name), None)


class SchedulerConfig(Strict):
    """How often the daemon's jobs run."""

    process_interval_seconds: float = Field(10.0, gt=0)
    deliver_interval_seconds: float = Field(10.0, gt=0)
    score_interval_seconds: float = Field(300.0, gt=0)
    refresh_interval_seconds: float = Field(900.0, gt=0)
    health_interval_seconds: float = Field(60.0, gt=0)
    heartbeat_seconds: int = Field(30, gt=0)
    jitter_seconds: float = Field(2.0, ge=0)
    # How long a daemon holds a source or a once-per-cluster job without renewing it:
    # a source's lease lasts this or three of its poll intervals, whichever is longer.
    lease_seconds: float = Field(120.0, gt=0)


class HealthConfig(Strict):
    """When a source counts as broken or silent, and how far back edits are looked for."""

    silence_alert_hours: float = Field(24.0, gt=0)
    failing_alert_minutes: float = Field(60.0, gt=0)
    failing_log_minutes: float = Field(15.0, gt=0)
    refresh_window_hours: float = Field(48.0, ge=0)


class WebConfig(Strict):
    """The web dashboard: where it is, so that messages can link to the alerts they name,
    and how its sign-in cookies are sent."""

    base_url: str | None = None  # e.g. https://crm.example.com; None: messages carry no link
    # Secure cookies (sent over https only): None sends them so when the request came over
    # https (directly or through a proxy on this machine); false for plain http elsewhere.
    secure_cookies: bool | None = None
    session_hours: float = Field(12.0, gt=0, le=24 * 30)  # a sign-in lasts this long

    @field_validator("base_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")


class MetricsConfig(Strict):
    """Where `social-crm run` serves its Prometheus metrics; off unless a port is set."""

    port: int | None = Field(None, ge=0, le=65535)  # e.g. 9464; 0: any free port (logged)
    address: str = "127.0.0.1"  # 0.0.0.0 lets other machines scrape it


# The retention key that applies to every network not named.
DEFAULT_RETENTION = "default"


class RetentionPeriod(Strict):
    """How long a network's mention text and authors' profile data are kept."""

    days: int = Field(ge=1)


class RetentionConfig(RootModel[dict[str, RetentionPeriod | None]]):
    """Per network, or ``default`` for the others: how long mention text and profile data
    are kept; null (or absent) keeps them."""

    root: dict[str, RetentionPeriod | None] = {}

    def days(self, network: str) -> int | None:
        """The days ``network``'s text is kept; None: kept for good."""
        period = self.root[network] if network in self.root else self.root.get(DEFAULT_RETENTION)
        return period.days if period is not None else None


class Settings(Strict):
    """The whole configuration."""

    brands: list[Brand] = Field(min_length=1)
    connectors: dict[str, ConnectorEntry] = {}
    data_dir: Path | None = None
    database: DatabaseConfig = DatabaseConfig()
    sentiment: SentimentConfig = SentimentConfig()
    escalation: EscalationConfig = EscalationConfig()
    alerts: AlertsConfig = AlertsConfig()
    spikes: SpikesConfig = SpikesConfig()
    ambassadors: AmbassadorsConfig = AmbassadorsConfig()
    linking: LinkingConfig = LinkingConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    health: HealthConfig = HealthConfig()
    web: WebConfig = WebConfig()
    engagement: EngagementConfig = EngagementConfig()
    metrics: MetricsConfig = MetricsConfig()
    retention: RetentionConfig = RetentionConfig()

    # Filled by load_config: each connector entry's settings, validated by its own model.
    connector_settings: dict[str, Any] = Field(default={}, exclude=True)

    @model_validator(mode="after")
    def _engagement_brands(self) -> Settings:
        known = {brand.name for brand in self.brands}
        places: list[tuple[str, str, tuple[str | int, ...]]] = [
            (f"engagement.templates[{i}] {t.name!r}", t.brand, ("templates", i, "brand"))
            for i, t in enumerate(self.engagement.templates)
        ]
        places += [
            (f"engagement.brands.{name}", name, ("brands", name)) for name in self.engagement.brands
        ]
        for where, brand, at in places:
            if brand not in known:
                raise _named(
                    f"{where}: unknown brand {brand!r}; brands: {', '.join(sorted(known))}",
                    "engagement",
                    *at,
                )
        return self

    @property
    def database_url(self) -> str:
        """The configured database URL, or SQLite in the data directory."""
        if self.database.url:
            return self.database.url
        return f"sqlite:///{self.resolved_data_dir / 'social_crm.sqlite'}"

    @property
    def resolved_data_dir(self) -> Path:
        """The data directory: configured, $SOCIAL_CRM_DATA_DIR, or the XDG data home."""
        if self.data_dir:
            return self.data_dir.expanduser()
        if env := os.environ.get("SOCIAL_CRM_DATA_DIR"):
            return Path(env).expanduser()
        xdg = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        return Path(xdg) / "social-crm"


def default_config_path() -> Path:
    """$SOCIAL_CRM_CONFIG, or ./social_crm.yaml."""
    return Path(os.environ.get("SOCIAL_CRM_CONFIG", "social_crm.yaml"))


def bundled_config(name: str) -> Path:
    """A file of the project's config/ folder, in a checkout or an installed wheel."""
    here = Path(__file__).resolve().parent
    for folder in (here / "_config", here.parent / "config"):
        if (folder / name).exists():
            return folder / name
    raise ConfigError(f"bundled config file {name!r} not found")


# Sections every command reads: where the data lives and what the brands are.
CORE_SECTIONS = frozenset({"brands", "data_dir", "database"})


def load_config(
    path: str | Path,
    *,
    sections: Collection[str] | None = None,
    connector_secrets: bool = True,
) -> Settings:
    """Read, substitute ${ENV} references in, and validate a configuration file.

    With ``sections``, only those top-level sections (and the core ones) are read, so a
    command that never talks to the networks does not need their secrets. With
    ``connector_secrets=False``, each connector entry is read for its own keys only (type,
    enabled, polling intervals): the connector's settings, where its credentials are, are
    neither substituted nor validated, and ``connector_settings`` stays empty.
    """
    path = Path(path)
    raw, root = _read_yaml(path)
    if sections is not None:
        raw = {key: value for key, value in raw.items() if key in CORE_SECTIONS | set(sections)}
    if not connector_secrets and isinstance(raw.get("connectors"), dict):
        raw["connectors"] = {key: _entry_keys(entry) for key, entry in raw["connectors"].items()}
    missing: list[tuple[str, tuple[str | int, ...]]] = []
    raw = _substitute_env(raw, (), missing)
    if missing:
        raise ConfigError(
            f"{path}: "
            + "; ".join(
                f"{_dotted(loc)}: environment variable {name} is not set{_line(root, loc)}"
                for name, loc in missing
            )
        )
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(path, root, exc, ())) from None
    if not connector_secrets or (sections is not None and "connectors" not in sections):
        return settings
    return settings.model_copy(
        update={"connector_settings": _connector_settings(path, root, settings)}
    )


# What a brand's listening rules are made of; the rest of a brand changes its sources.
RULE_FIELDS = ("keywords", "hashtags", "rules")


def rule_changes(old: Settings, new: Settings) -> tuple[list[str], bool]:
    """What changed in the brands' listening rules, one phrase per change, and whether
    anything else changed too (sources, connectors, other sections: read at start-up)."""
    changes: list[str] = []
    before = {brand.name: brand for brand in old.brands}
    after = {brand.name: brand for brand in new.brands}
    for name in [*before, *(name for name in after if name not in before)]:
        if name not in after or name not in before:
            continue  # a brand added or removed changes sources too: a restart
        was, now = _rule_values(before[name]), _rule_values(after[name])
        changes.extend(
            f"{name}: {key} {was[key]!r} -> {now[key]!r}" for key in now if was[key] != now[key]
        )
    others = old.model_dump(exclude={"brands"}) != new.model_dump(exclude={"brands"}) or [
        brand.model_dump(exclude=set(RULE_FIELDS)) for brand in old.brands
    ] != [brand.model_dump(exclude=set(RULE_FIELDS)) for brand in new.brands]
    return changes, others


def _rule_values(brand: Brand) -> dict[str, Any]:
    """A brand's keywords, hashtags and each rule, by name, for comparing two versions."""
    values: dict[str, Any] = {"keywords": brand.keywords, "hashtags": brand.hashtags}
    values.update(brand.rules.model_dump())
    return values


def _read_yaml(path: Path) -> tuple[dict[str, Any], yaml.Node]:
    """The file's top-level mapping and its YAML node tree, whose marks give line numbers."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a configuration file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        raw = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        where = f"line {exc.problem_mark.line + 1}: " if exc.problem_mark else ""
        problem = " ".join(str(exc.problem or exc.context or "").split())
        raise ConfigError(f"{path}: {where}not valid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    finally:
        loader.dispose()
    if not isinstance(raw, dict) or root is None:
        raise ConfigError(f"{path}: expected a mapping of settings at the top level")
    return raw, root


def _line(root: yaml.Node, loc: tuple[str | int, ...]) -> str:
    """ " (line N)" for the deepest key of ``loc`` found in the file, or nothing."""
    node, line = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = next(
                ((key, value) for key, value in node.value if key.value == str(part)), None
            )
            if found is None:
                break
            line, node = found[0].start_mark.line + 1, found[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                break
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return f" (line {line})" if line else ""


def _dotted(loc: tuple[str | int, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _entry_keys(entry: Any) -> Any:
    """A connector entry less the connector's own settings (anything else is left whole to
    fail validation)."""
    if not isinstance(entry, dict):
        return entry
    return {key: value for key, value in entry.items() if key in ConnectorEntry.model_fields}


def _connector_settings(path: Path, root: yaml.Node, settings: Settings) -> dict[str, Any]:
    """Validate each connector entry's own keys with the model its connector declares."""
    from connectors.errors import UnknownConnectorError
    from connectors.registry import connector_class

    validated: dict[str, Any] = {}
    for key, entry in settings.connectors.items():
        try:
            cls = connector_class(entry.type or key)
        except UnknownConnectorError as exc:
            loc = ("connectors", key, "type")
            raise ConfigError(f"{path}: {_dotted(loc)}: {exc}{_line(root, loc)}") from None
        try:
            validated[key] = cls.settings_model.model_validate(entry.model_extra or {})
        except ValidationError as exc:
            raise ConfigError(_describe(path, root, exc, ("connectors", key))) from None
    return validated


def _substitute_env(
    node: Any, loc: tuple[str | int, ...], missing: list[tuple[str, tuple[str | int, ...]]]
) -> Any:
    """``node`` with ${ENV} references replaced; unset ones are added to ``missing``."""
    if isinstance(node, dict):
        return {k: _substitute_env(v, (*loc, k), missing) for k, v in node.items()}
    if isinstance(node, list):
        return [_substitute_env(v, (*loc, i), missing) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if value is None:
            if default is None:
                missing.append((name, loc))
                return ""
            return default
        return value

    value = ENV_REFERENCE.sub(replace, node)
    if value == "" and ENV_REFERENCE.fullmatch(node):
        return None  # ${NAME:-} with NAME unset means "not configured"
    return value


def _describe(
    path: Path, root: yaml.Node, exc: ValidationError, prefix: tuple[str | int, ...]
) -> str:
    lines = []
    for error in exc.errors():
        loc = (*prefix, *error["loc"])
        if error["type"] == NAMED_ERROR:  # the message names its place; the line is looked up
            lines.append(f"{path}: {error['msg']}{_line(root, error['ctx']['at'])}")
            continue
        if error["type"] == "extra_forbidden":
            what = "unknown key"
        elif error["type"] == "missing":
            what = "required key is missing"
        else:
            what = f"{error['msg']} (got {error['input']!r})"
        lines.append(f"{path}: {_dotted(loc)}: {what}{_line(root, loc)}")
    return "\n".join(lines)
