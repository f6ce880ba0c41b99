"""One Mastodon.py client per instance: its rate-limit budget, checked before each request,
and the one place where Mastodon.py's errors become connectors.errors' ConnectorError tree."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from mastodon import Mastodon
from mastodon.errors import (
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
    MastodonVersionError,
)

from connectors.errors import (
    AuthenticationError,
    ConnectorError,
    RateLimitedError,
    TransientConnectorError,
)
from connectors.mastodon.settings import InstanceSettings

LOGGER = logging.getLogger(__name__)

DEFAULT_RETRY_AFTER_SECONDS = 60.0
# How requests reports a kept-alive connection that the server closed without saying so.
DROPPED_CONNECTION = "Connection aborted"

T = TypeVar("T")


def _new_client(entry: InstanceSettings, timeout_seconds: float) -> Mastodon:
    """A Mastodon.py client that throws on 429 instead of sleeping."""
    return Mastodon(
        access_token=entry.access_token.get_secret_value() if entry.access_token else None,
        api_base_url=entry.api_base_url,
        request_timeout=timeout_seconds,
        ratelimit_method="throw",
    )


@dataclass(slots=True)
class _Instance:
    """One server the connector reads, through its own Mastodon.py client (one budget)."""

    host: str  # from the api base URL: names sources and keys the refresh map
    client: Mastodon
    settings: InstanceSettings
    has_token: bool
    domain: str | None = None  # the server's own domain for accts, read once from the server

    def call(
        self,
        key: str,
        request: Callable[[], T],
        *,
        missing_ok: bool = False,
        reserve: float = 0.0,
        write: bool = False,
    ) -> T | None:
        """Run one Mastodon.py request within this instance's budget; errors become ours.

        Mastodon.py's ``ratelimit_method="throw"`` raises only on a 429; it does not stop
        when ``x-ratelimit-remaining`` reaches 0. So a spent budget (less ``reserve``, a
        share kept for others) is checked here first and answered without a request.
        ``missing_ok``: a 404 returns None. A read that met a kept-alive connection the
        server had closed silently is sent again at once (on a fresh connection: the pool
        dropped the dead one); that is no failure. A ``write`` is never sent twice: the
        server may have acted on it before the connection broke.
        """
        self._check_budget(key, reserve=reserve)
        try:
            try:
                return request()
            except MastodonNetworkError as exc:
                if write or DROPPED_CONNECTION not in str(exc):
                    raise
                LOGGER.debug("mastodon %s: %s dropped a kept-alive connection", key, self.host)
                return request()
        except MastodonNotFoundError as exc:
            if missing_ok:
                return None
            raise self._translate(exc, key) from exc
        except MastodonError as exc:
            raise self._translate(exc, key) from exc

    def own_domain(self, key: str) -> str:
        """The server's own domain, as local accts are qualified with (read once per server)."""
        if self.domain is not None:
            return self.domain
        info = self.call(key, self.client.instance_v2, missing_ok=True)
        domain = info.get("domain") if isinstance(info, Mapping) else None
        if not domain:
            info = self.call(key, self.client.instance_v1, missing_ok=True)
            domain = info.get("uri") if isinstance(info, Mapping) else None
        self.domain = str(domain).lower() if domain else self.host
        return self.domain

    def _check_budget(self, key: str, *, reserve: float = 0.0) -> None:
        """Raise RateLimitedError when the budget (less ``reserve`` of it) is spent until reset."""
        client = self.client
        retry_after = _seconds_until(client.ratelimit_reset)
        if retry_after is None:
            return
        remaining = client.ratelimit_remaining
        floor = (client.ratelimit_limit or 0) * reserve
        if isinstance(remaining, int | float) and remaining <= floor:
            raise RateLimitedError(
                f"mastodon {key}: rate limit of {self.host} spent; retry in {retry_after:.0f}s",
                retry_after=retry_after,
            )

    def _translate(self, exc: MastodonError, key: str) -> ConnectorError:
        """One Mastodon.py error as a ConnectorError, with one clear message."""
        host = self.host
        status = _status_code(exc)
        if isinstance(exc, MastodonUnauthorizedError) or (status == 403 and self.has_token):
            if not self.has_token:
                return ConnectorError(
                    f"mastodon {key}: {host} requires an access token for this; "
                    "give its extra_instances entry an access_token"
                )
            return AuthenticationError(
                f"mastodon {key}: {host} refused the access token "
                f"(HTTP {status}: revoked, expired or missing a read scope)"
            )
        if isinstance(exc, MastodonRatelimitError) or status == 429:
            # Until the budget's reset if the 429 said it is spent; a bare 429 (a proxy's,
            # without rate-limit headers) leaves the budget as it was: wait a default time.
            retry_after = _seconds_until(self.client.ratelimit_reset)
            remaining = self.client.ratelimit_remaining
            if retry_after is None or (isinstance(remaining, int | float) and remaining > 0):
                retry_after = DEFAULT_RETRY_AFTER_SECONDS
            return RateLimitedError(
                f"mastodon {key}: rate limited by {host}; retry in {retry_after:.0f}s",
                retry_after=retry_after,
            )
        if isinstance(exc, MastodonNetworkError):
            return TransientConnectorError(f"mastodon {key}: {host} unreachable or too slow: {exc}")
        if isinstance(exc, MastodonServerError) or (status is not None and status >= 500):
            return TransientConnectorError(f"mastodon {key}: {host} failed (HTTP {status})")
        if isinstance(exc, MastodonAPIError) and status is None:
            if "parse response as JSON" in str(exc.args[0] if exc.args else ""):
                LOGGER.warning("mastodon %s: %s sent a response that is not JSON", key, host)
                return TransientConnectorError(f"mastodon {key}: malformed JSON from {host}")
            return TransientConnectorError(f"mastodon {key}: bad answer from {host}: {exc}")
        if isinstance(exc, MastodonVersionError):
            return TransientConnectorError(
                f"mastodon {key}: could not read the server version of {host}: {exc}"
            )
        if status is not None:
            said = error_text(exc)
            return ConnectorError(
                f"mastodon {key}: {host} refused the request (HTTP {status}"
                + (f": {said})" if said else ")")
            )
        return ConnectorError(f"mastodon {key}: {exc}")


def _seconds_until(reset: Any) -> float | None:
    """Seconds until a rate-limit reset (epoch seconds), at least 1; None if none pending."""
    if not isinstance(reset, int | float):
        return None
    left = float(reset) - time.time()
    return max(1.0, left) if left > 0 else None


def error_text(exc: BaseException | None) -> str:
    """The ``error`` text the server sent with an API error ("" if none), one line, short."""
    if not isinstance(exc, MastodonAPIError) or len(exc.args) < 4:
        return ""
    return " ".join(str(exc.args[3] or "").split())[:300]


def _status_code(exc: BaseException | None) -> int | None:
    """The HTTP status Mastodon.py put in an API error's args, if any."""
    if not isinstance(exc, MastodonAPIError):
        return None
    for arg in exc.args[1:2]:
        if isinstance(arg, int):
            return arg
    return None
