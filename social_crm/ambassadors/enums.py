"""The ambassador domain's vocabularies, stored in the database as these strings."""

from __future__ import annotations

from enum import StrEnum


class ReviewStatus(StrEnum):
    """A person's decision on an author; opted_out is final."""

    APPROVED = "approved"
    REJECTED = "rejected"
    OPTED_OUT = "opted_out"
