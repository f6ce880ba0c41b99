"""Alert channels (email, webhook, apprise) and the outbox that delivers to them with retries."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from social_crm.config import AppriseChannel, Channel, EmailChannel, WebhookChannel
from social_crm.delivery.channels.signing import verify_signature
from social_crm.delivery.messages import AlertMessage, DigestMessage, Message


class Notifier(Protocol):
    """Sends one alert or digest to one channel; raises DeliveryError when it could not."""

    name: str

    def send(self, message: Message) -> None:
        """Deliver the message or raise DeliveryError."""
        ...


def build_notifiers(channels: Sequence[Channel]) -> dict[str, Notifier]:
    """One notifier per configured channel, by channel name."""
    from social_crm.delivery.channels.apprise import AppriseNotifier
    from social_crm.delivery.channels.email import EmailNotifier
    from social_crm.delivery.channels.webhook import WebhookNotifier

    notifiers: dict[str, Notifier] = {}
    for channel in channels:
        if isinstance(channel, EmailChannel):
            notifiers[channel.name] = EmailNotifier(channel)
        elif isinstance(channel, WebhookChannel):
            notifiers[channel.name] = WebhookNotifier(channel)
        elif isinstance(channel, AppriseChannel):
            notifiers[channel.name] = AppriseNotifier(channel)
    return notifiers


__all__ = [
    "AlertMessage",
    "DigestMessage",
    "Message",
    "Notifier",
    "build_notifiers",
    "verify_signature",
]
