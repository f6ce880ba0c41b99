"""Alerts through apprise: one URL reaches Slack, Teams, Matrix, Discord, Telegram and more.

The message is rendered as CommonMark with every untrusted value escaped and post text in
a fenced code block (``format: markdown``, the default), or as plain text (``format:
text``), and handed to apprise with that format declared, so apprise converts it to the
service's own dialect (Slack mrkdwn, Telegram HTML, ...) and escapes as that needs.
"""

from __future__ import annotations

import logging
from typing import Any

from social_crm.config import AppriseChannel
from social_crm.delivery.channels.redact import redact, remember, secret_parts
from social_crm.delivery.messages import Message
from social_crm.delivery.safe import escape
from social_crm.errors import ConfigError, DeliveryError


class AppriseNotifier:
    """Sends each alert to one apprise URL; a failed notify() is a failure to retry."""

    def __init__(self, channel: AppriseChannel) -> None:
        import apprise

        self.name = channel.name
        self._format = channel.format
        url = channel.url.get_secret_value()
        self.scheme = url.partition("://")[0] or "?"
        self._secrets = secret_parts(url, host_is_secret=True)
        remember(self._secrets)
        self._apprise: Any = apprise.Apprise()
        if not self._apprise.add(url):
            # The URL holds secrets: name the channel and the scheme only.
            raise ConfigError(
                f"alerts.channels: {channel.name}: not a valid apprise URL "
                f"(scheme {self.scheme}://); see https://github.com/caronc/apprise/wiki"
            )

    def send(self, message: Message) -> None:
        """Notify the service; DeliveryError with apprise's last warning, secrets masked."""
        import apprise

        subject, body = message.render(self._format)
        body_format = {
            "markdown": apprise.NotifyFormat.MARKDOWN,
            "text": apprise.NotifyFormat.TEXT,
        }[self._format]
        with apprise.LogCapture(level=logging.WARNING) as logs:
            ok = self._apprise.notify(
                body=body, title=escape(subject, self._format), body_format=body_format
            )
        if not ok:
            lines = [line for line in logs.getvalue().splitlines() if line.strip()]
            detail = lines[-1].split(" - ", 2)[-1] if lines else "no detail"
            # apprise's warnings quote the service's URL, tokens included.
            detail = redact(detail, secrets=self._secrets)[:300]
            raise DeliveryError(f"apprise {self.scheme}:// failed: {detail}")
