"""Alerts as a JSON POST to a webhook (chat tools, incident managers), signed with HMAC."""

from __future__ import annotations

import json
import time

import httpx

from social_crm.config import WebhookChannel
from social_crm.delivery.channels.signing import (
    IDEMPOTENCY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)
from social_crm.delivery.messages import Message
from social_crm.errors import DeliveryError


class WebhookNotifier:
    """POSTs each alert as JSON; any answer but 2xx is a failure to retry.

    Every request carries ``Idempotency-Key`` (the same on every attempt) and, when the
    channel has a secret, ``X-Social-CRM-Timestamp`` and ``X-Social-CRM-Signature``.
    """

    def __init__(self, channel: WebhookChannel) -> None:
        self.name = channel.name
        self._channel = channel
        # One client for the process: its connection pool and TLS context are reused.
        self._client = httpx.Client(timeout=channel.timeout_seconds)

    def request(
        self, message: Message, *, now: float | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The exact body and headers of the POST for ``message``."""
        channel = self._channel
        body = json.dumps(message.as_json(), ensure_ascii=False, separators=(",", ":")).encode()
        headers = {**channel.headers, "Content-Type": "application/json; charset=utf-8"}
        if message.idempotency_key:
            headers[IDEMPOTENCY_HEADER] = message.idempotency_key
        if channel.secret is not None:
            timestamp = int(time.time() if now is None else now)
            headers[TIMESTAMP_HEADER] = str(timestamp)
            headers[SIGNATURE_HEADER] = sign(channel.secret.get_secret_value(), timestamp, body)
        return body, headers

    def send(self, message: Message) -> None:
        """POST the alert; DeliveryError on a network failure or a non-2xx answer."""
        channel = self._channel
        body, headers = self.request(message)
        try:
            response = self._client.post(channel.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"webhook {channel.url} failed: {exc}") from exc
        if not response.is_success:
            raise DeliveryError(f"webhook {channel.url} answered {response.status_code}")
