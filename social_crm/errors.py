"""The project's exception tree: every error social-crm raises derives from SocialCrmError.

Domain errors say what is wrong in words, never in command-line syntax: the command line
adds its own hints. :data:`EXIT_CODES` names the command line's exit status per class, in
one place.
"""

from __future__ import annotations

from collections.abc import Mapping


class SocialCrmError(Exception):
    """Base class of every error social-crm raises on purpose."""


class ConfigError(SocialCrmError):
    """The configuration file is missing, malformed or invalid."""


class InputFileError(SocialCrmError):
    """A file given to an import command has bad content; nothing was imported."""


class DatabaseUnavailable(SocialCrmError):
    """The database cannot be reached or opened right now; trying again later may work."""


class DatabaseInUse(SocialCrmError):
    """A SQLite database already has its one daemon; a second one is refused."""


class NotFound(SocialCrmError):
    """The record asked for does not exist."""


class Conflict(SocialCrmError):
    """The request contradicts what is stored (e.g. linking an author linked elsewhere)."""


class InvalidTransition(Conflict):
    """A state change its lifecycle does not allow from the record's current state."""


class DeliveryError(SocialCrmError):
    """An alert could not be delivered to a channel; the outbox retries it."""


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
