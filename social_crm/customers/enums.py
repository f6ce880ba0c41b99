"""The customer domain's vocabularies, stored in the database as these strings."""

from __future__ import annotations

from enum import StrEnum


class SuggestionStatus(StrEnum):
    """What became of a link suggestion (see :mod:`social_crm.customers.linking`)."""

    PENDING = "pending"  # waits for a person
    CONFIRMED = "confirmed"  # linked
    REJECTED = "rejected"  # never suggested or linked again
    UNLINKED = "unlinked"  # was linked, undone by a person; never linked automatically again
    SUPERSEDED = "superseded"  # the author was linked to another customer
