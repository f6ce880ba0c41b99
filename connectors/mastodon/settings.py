"""The ``connectors.mastodon`` section of the configuration, validated."""

from __future__ import annotations

import logging
import re

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.mastodon.parse import instance_domain

LOGGER = logging.getLogger(__name__)

ACCT = re.compile(r"^[A-Za-z0-9_]+(?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?(?:@[A-Za-z0-9.-]+(?::\d+)?)?$")


class InstanceSettings(BaseModel):
    """One more instance whose hashtag timelines are read, with its own token if it needs one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base_url: str = Field(pattern=r"^https?://[^/\s]+")
    access_token: SecretStr | None = None  # many servers need one for hashtag timelines


class MastodonSettings(BaseModel):
    """The ``connectors.mastodon`` section of the configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_base_url: str = Field(pattern=r"^https?://[^/\s]+")
    access_token: SecretStr
    timeout_seconds: float = Field(16.0, gt=0)
    page_size: int = Field(40, ge=1, le=40)
    # Pages one fetch reads forward from a cursor. A longer backlog (after an outage) is
    # stored a fetch at a time, each within seconds, and the poll goes on from there.
    max_pages_per_fetch: int = Field(25, ge=1, le=1000)
    extra_instances: list[InstanceSettings] = []  # more instances' hashtag timelines
    accounts: list[str] = []  # accts (user@instance) whose own statuses every brand reads
    search: bool = False  # full-text search of each brand's keywords (opted-in posts only)
    streaming: bool = False  # stream hashtags and mentions; polling stays the fallback

    @field_validator("accounts")
    @classmethod
    def _normalise_accounts(cls, accounts: list[str]) -> list[str]:
        normalised: list[str] = []
        for acct in accounts:
            acct = acct.strip().lstrip("@").lower()
            if not ACCT.match(acct):
                raise ValueError(f"{acct!r} is not an account handle like user@instance")
            if acct not in normalised:
                normalised.append(acct)
        return normalised

    @model_validator(mode="after")
    def _distinct_instances(self) -> MastodonSettings:
        hosts = [instance_domain(self.api_base_url)]
        for extra in self.extra_instances:
            host = instance_domain(extra.api_base_url)
            if host in hosts:
                raise ValueError(f"extra_instances: {host} is listed twice (or is api_base_url)")
            hosts.append(host)
        return self
