"""HMAC-SHA256 signatures on webhook bodies, and their verification by a receiver.

The signed message is ``timestamp + "." + body`` (the exact bytes POSTed); the headers
are ``X-Social-CRM-Timestamp: <unix seconds>`` and ``X-Social-CRM-Signature:
sha256=<hex>``. A receiver recomputes the HMAC with the shared secret, compares it in
constant time and rejects timestamps too far from its clock, so a captured request
cannot be replayed later. README.md ("Verifying webhooks") shows a receiver.
"""

from __future__ import annotations

import hashlib
import hmac
import time

TIMESTAMP_HEADER = "X-Social-CRM-Timestamp"
SIGNATURE_HEADER = "X-Social-CRM-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"


def _as_bytes(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def sign(secret: str | bytes, timestamp: int | str, body: bytes) -> str:
    """The signature header value: ``sha256=`` and the hex HMAC of ``timestamp.body``."""
    message = _as_bytes(str(timestamp)) + b"." + body
    return "sha256=" + hmac.new(_as_bytes(secret), message, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: str | int,
    body: bytes,
    signature: str,
    tolerance: float = 300,
    *,
    now: float | None = None,
) -> bool:
    """True when ``signature`` signs ``timestamp.body`` with ``secret`` and is recent enough.

    ``tolerance`` is the largest accepted difference, in seconds, between the timestamp and
    the receiver's clock (``now``, default: the current time).
    """
    try:
        sent_at = int(str(timestamp).strip())
    except ValueError:
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance:
        return False
    expected = sign(secret, sent_at, body)
    return hmac.compare_digest(expected.encode("ascii"), _as_bytes(signature.strip()))
