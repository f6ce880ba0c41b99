"""The connectors' exception tree: every error a connector raises derives from ConnectorError.

The daemon tells them apart: a transient failure is retried with backoff, a rate limit
after ``retry_after`` seconds, and an authentication failure disables the connector until
its credentials change. A reply whose target is gone or closed raises TargetUnavailable.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """A connector could not fetch from its network."""


class TransientConnectorError(ConnectorError):
    """A failure worth retrying later: timeouts, 5xx answers, broken responses."""


class RateLimitedError(TransientConnectorError):
    """The network asked us to slow down; retry after ``retry_after`` seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthenticationError(ConnectorError):
    """The credentials were refused; retrying will not help until they change."""


class TargetUnavailable(ConnectorError):
    """A reply was refused because of its target; ``reason`` is why, as TargetState says:
    "deleted", "removed", "locked" or "archived". Nothing was posted; retrying will not help."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class UnknownConnectorError(ConnectorError):
    """No installed connector is registered under the configured name."""
