"""Webhook signatures as the Standard Webhooks specification defines them.

Every POST carries ``webhook-id`` (the delivery's idempotency key, the same on every
attempt), ``webhook-timestamp`` (Unix seconds) and, when the channel has a secret,
``webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">``. The secret is
written as the specification's libraries take it, ``whsec_<base64>`` (the prefix is
optional): the same string configured here and in a receiver's stock library
(``standardwebhooks`` on PyPI, npm, Go, ...) gives the same key. See
https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
and README.md ("Verifying webhooks").
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"
DEFAULT_TOLERANCE_SECONDS = 300


def secret_key(secret: str) -> bytes:
    """The HMAC key of a ``whsec_<base64>`` secret; ValueError when it holds no key."""
    encoded = secret.strip().removeprefix(SECRET_PREFIX)
    try:
        # Padding added as the reference libraries do, so an unpadded secret works too.
        key = base64.b64decode(encoded + "==")
    except binascii.Error as exc:
        raise ValueError("not a whsec_<base64> secret") from exc
    if not key:
        raise ValueError("the secret is empty")
    return key


def sign(secret: str, msg_id: str, timestamp: int | str, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,`` and the base64 HMAC of ``id.timestamp.body``."""
    message = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), message, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signed_headers(secret: str | None, msg_id: str, body: bytes, *, now: float) -> dict[str, str]:
    """The Standard Webhooks headers of one POST: id and timestamp, and the signature."""
    timestamp = str(int(now))
    headers = {ID_HEADER: msg_id, TIMESTAMP_HEADER: timestamp}
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(secret, msg_id, timestamp, body)
    return headers


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """True when ``headers`` sign ``body`` with ``secret`` and their timestamp is recent.

    ``tolerance`` is the largest accepted difference, in seconds, between the timestamp and
    the receiver's clock (``now``, default: the current time). Several space-separated
    signatures are accepted, as the specification allows during a key rotation.
    """
    lower = {name.lower(): value for name, value in headers.items()}
    msg_id = lower.get(ID_HEADER, "")
    timestamp = lower.get(TIMESTAMP_HEADER, "").strip()
    signatures = lower.get(SIGNATURE_HEADER, "").split()
    if not (msg_id and timestamp.isdigit() and signatures):
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > tolerance:
        return False
    expected = sign(secret, msg_id, timestamp, body).encode("ascii")
    return any(
        hmac.compare_digest(expected, candidate.encode("ascii", "replace"))
        for candidate in signatures
        if candidate.startswith("v1,")
    )
