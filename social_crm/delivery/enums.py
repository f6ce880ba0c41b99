"""The outbox's vocabularies, stored in the database as these strings."""

from __future__ import annotations

from enum import StrEnum


class DeliveryStatus(StrEnum):
    """Where an outbox row is: see :class:`social_crm.delivery.models.Delivery`."""

    PENDING = "pending"  # due at next_attempt_at
    SENDING = "sending"  # claimed, leased until lease_until
    SENT = "sent"
    FAILED = "failed"  # gave up
    DIGEST = "digest"  # waits for the next digest
    DIGESTED = "digested"  # went out in the digest named by digest_id
    SKIPPED = "skipped"  # its alert was resolved before the digest


class DeliveryKind(StrEnum):
    """What an outbox row sends."""

    ALERT = "alert"
    DIGEST = "digest"
