"""The engagement domain's vocabularies, stored in the database as these strings."""

from __future__ import annotations

from enum import StrEnum


class ReplyStatus(StrEnum):
    """Where a reply is in its lifecycle (see :mod:`social_crm.engagement.lifecycle`)."""

    DRAFT = "draft"  # proposed by a rule or started by a person; editable
    APPROVED = "approved"  # queued: the send job posts it when its limits allow
    SENDING = "sending"  # claimed by a send job; the network may already hold it
    SENT = "sent"
    REJECTED = "rejected"
    SKIPPED = "skipped"  # not posted, for the reason stored with it
    FAILED = "failed"  # given up on; a person may queue it again


class ReplyAction(StrEnum):
    """What happened to a reply, as its history lists it."""

    DRAFTED = "drafted"
    EDITED = "edited"
    APPROVED = "approved"
    AUTO_SEND_REFUSED = "auto-send refused"  # back to the drafts: the mention is negative
    REJECTED = "rejected"
    QUEUED = "queued"  # a person asked for it to go at once, or again
    WAITING = "waiting"  # held by a limit until its next attempt
    SENDING = "sending"
    SENT = "sent"
    RECORDED = "recorded"  # found on the network after an attempt whose outcome was unknown
    RETRYING = "retrying"
    SKIPPED = "skipped"
    FAILED = "failed"
    ALERT_RESOLVED = "alert resolved"
