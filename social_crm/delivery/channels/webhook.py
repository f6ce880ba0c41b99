"""Alerts as a JSON POST to a webhook (chat tools, incident managers), Standard Webhooks signed."""

from __future__ import annotations

import json
import time
import uuid

import httpx

from social_crm.config import WebhookChannel
from social_crm.delivery.channels.redact import public_url, redact, remember, secret_parts
from social_crm.delivery.channels.signing import secret_key, signed_headers
from social_crm.delivery.messages import Message
from social_crm.errors import ConfigError, DeliveryError

IDEMPOTENCY_HEADER = "Idempotency-Key"


class WebhookNotifier:
    """POSTs each alert as JSON; any answer but 2xx is a failure to retry.

    Every request carries the Standard Webhooks headers (``webhook-id``: the delivery's
    idempotency key, the same on every attempt, also sent as ``Idempotency-Key``;
    ``webhook-timestamp``; ``webhook-signature`` when the channel has a secret). Errors name
    the URL's host only: webhook URLs often hold their credentials in the path or query.
    """

    def __init__(self, channel: WebhookChannel) -> None:
        self.name = channel.name
        self._channel = channel
        # An empty secret (`${ALERT_WEBHOOK_SECRET:-}` unset) means unsigned, as no secret.
        self._secret = (channel.secret.get_secret_value() if channel.secret else "") or None
        if self._secret is not None:
            try:
                secret_key(self._secret)
            except ValueError as exc:
                raise ConfigError(
                    f"alerts.channels: {channel.name}: secret: {exc}; use a Standard Webhooks "
                    "secret, whsec_ followed by base64 (see README, Verifying webhooks)"
                ) from exc
        self._shown_url = public_url(channel.url)
        self._secrets = secret_parts(channel.url)
        remember(self._secrets)
        # One client for the process: its connection pool and TLS context are reused.
        self._client = httpx.Client(timeout=channel.timeout_seconds)

    def request(
        self, message: Message, *, now: float | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The exact body and headers of the POST for ``message``."""
        body = json.dumps(message.as_json(), ensure_ascii=False, separators=(",", ":")).encode()
        msg_id = message.idempotency_key or f"msg_{uuid.uuid4().hex}"
        headers = {
            **self._channel.headers,
            "Content-Type": "application/json; charset=utf-8",
            IDEMPOTENCY_HEADER: msg_id,
            **signed_headers(self._secret, msg_id, body, now=time.time() if now is None else now),
        }
        return body, headers

    def send(self, message: Message) -> None:
        """POST the alert; DeliveryError on a network failure or a non-2xx answer."""
        body, headers = self.request(message)
        try:
            response = self._client.post(self._channel.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            detail = redact(str(exc), secrets=self._secrets)
            raise DeliveryError(f"webhook {self._shown_url} failed: {detail}") from None
        if not response.is_success:
            raise DeliveryError(f"webhook {self._shown_url} answered {response.status_code}")
