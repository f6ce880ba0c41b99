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


class DeliveryError(SocialCrmError):
    """An alert could not be delivered to a channel; the outbox retries it."""
