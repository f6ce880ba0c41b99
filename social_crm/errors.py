"""The project's exception tree: every error social-crm raises derives from SocialCrmError."""

from __future__ import annotations


class SocialCrmError(Exception):
    """Base class of every error social-crm raises on purpose."""


class ConfigError(SocialCrmError):
    """The configuration file is missing, malformed or invalid."""


class InputFileError(SocialCrmError):
    """A file given to an import command has bad content; nothing was imported."""


class NotFoundError(SocialCrmError):
    """A record named on the command line does not exist."""


class ConnectorError(SocialCrmError):
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


class DeliveryError(SocialCrmError):
    """An alert could not be delivered to a channel; the outbox retries it."""
