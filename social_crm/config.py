"""The typed configuration: loaded from YAML once, validated whole, secrets from ${ENV}."""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from connectors.base import Watch
from social_crm.errors import ConfigError
from social_crm.severity import Severity

ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class Strict(BaseModel):
    """Base for config sections: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class BrandAccounts(Strict):
    """The brand's own accounts, whose mentions are listened to."""

    reddit: str | None = None
    mastodon: str | None = None


class Brand(Strict):
    """A brand and what is watched for it."""

    name: str = Field(min_length=1)
    keywords: list[str] = []
    hashtags: list[str] = []
    subreddits: list[str] = []
    accounts: BrandAccounts = BrandAccounts()

    @field_validator("hashtags")
    @classmethod
    def _strip_hash(cls, tags: list[str]) -> list[str]:
        return [tag.lstrip("#").lower() for tag in tags]

    @field_validator("subreddits")
    @classmethod
    def _strip_prefix(cls, subs: list[str]) -> list[str]:
        return [re.sub(r"^/?r/", "", sub) for sub in subs]

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
    """Where the web interface is, so that messages can link to the alerts they name."""

    base_url: str | None = None  # e.g. https://crm.example.com; None: messages carry no link

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
    metrics: MetricsConfig = MetricsConfig()

    # Filled by load_config: each connector entry's settings, validated by its own model.
    connector_settings: dict[str, Any] = Field(default={}, exclude=True)

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


def load_config(path: str | Path, *, sections: Collection[str] | None = None) -> Settings:
    """Read, substitute ${ENV} references in, and validate a configuration file.

    With ``sections``, only those top-level sections (and the core ones) are read, so a
    command that never talks to the networks does not need their secrets.
    """
    path = Path(path)
    raw, root = _read_yaml(path)
    if sections is not None:
        raw = {key: value for key, value in raw.items() if key in CORE_SECTIONS | set(sections)}
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
    if sections is not None and "connectors" not in sections:
        return settings
    return settings.model_copy(
        update={"connector_settings": _connector_settings(path, root, settings)}
    )


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
        if error["type"] == "extra_forbidden":
            what = "unknown key"
        elif error["type"] == "missing":
            what = "required key is missing"
        else:
            what = f"{error['msg']} (got {error['input']!r})"
        lines.append(f"{path}: {_dotted(loc)}: {what}{_line(root, loc)}")
    return "\n".join(lines)
