"""The project's exception tree: every error social-crm raises derives from SocialCrmError.

Domain errors say what is wrong in words, never in command-line syntax: the command line
adds its own hints. :data:`EXIT_CODES` names the command line's exit status per class, in
one place; each class's ``http_status`` and ``code`` are what the web app answers with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar


class SocialCrmError(Exception):
    """Base class of every error social-crm raises on purpose."""

    http_status: ClassVar[int] = 500  # what the web app answers with
    code: ClassVar[str] = "error"  # the JSON API's machine-readable name for it


class ConfigError(SocialCrmError):
    """The configuration file is missing, malformed or invalid."""

    http_status = 500
    code = "config_error"


class InputFileError(SocialCrmError):
    """A file given to an import command has bad content; nothing was imported."""

    http_status = 422
    code = "invalid_input"


class DatabaseUnavailable(SocialCrmError):
    """The database cannot be reached or opened right now; trying again later may work."""

    http_status = 503
    code = "database_unavailable"


class DatabaseInUse(SocialCrmError):
    """A SQLite database already has its one daemon; a second one is refused."""


class NotFound(SocialCrmError):
    """The record asked for does not exist."""

    http_status = 404
    code = "not_found"


class Conflict(SocialCrmError):
    """The request contradicts what is stored (e.g. linking an author linked elsewhere)."""

    http_status = 409
    code = "conflict"


class InvalidTransition(Conflict):
    """A state change its lifecycle does not allow from the record's current state."""

    http_status = 409
    code = "invalid_transition"


class DeliveryError(SocialCrmError):
    """An alert could not be delivered to a channel; the outbox retries it."""

    http_status = 502
    code = "delivery_failed"


class InvalidInput(SocialCrmError):
    """A value given by a person is not one the action accepts; nothing was changed."""

    http_status = 422
    code = "invalid_input"


class NotAuthenticated(SocialCrmError):
    """No valid sign-in or API token came with the request."""

    http_status = 401
    code = "not_authenticated"


class PermissionDenied(SocialCrmError):
    """The signed-in user's role does not allow the action."""

    http_status = 403
    code = "forbidden"


class TooManyAttempts(SocialCrmError):
    """Too many failed sign-ins for a name or an address; trying again later may work."""

    http_status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after_seconds: int) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


# The command line's exit status per error class; the nearest class in an error's MRO wins.
# Every expected error exits 1 today (scripts rely on it); usage errors exit 2 (typer).
EXIT_CODES: Mapping[type[SocialCrmError], int] = {
    SocialCrmError: 1,
    NotFound: 1,
    Conflict: 1,
    InvalidTransition: 1,
}


def exit_code(error: SocialCrmError) -> int:
    """The exit status the command line ends with for ``error``."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1
