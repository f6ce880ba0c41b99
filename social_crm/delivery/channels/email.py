"""Alerts by SMTP email (the standard library's smtplib), plain text in UTF-8."""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from email.utils import formatdate

from social_crm.config import EmailChannel
from social_crm.delivery.messages import AlertMessage, Message
from social_crm.delivery.safe import one_line
from social_crm.errors import DeliveryError

MESSAGE_ID_UNSAFE = re.compile(r"[^A-Za-z0-9.\-_+=]")


def message_id(idempotency_key: str, sender: str) -> str:
    """A Message-ID that is the same on every attempt: ``<key@sender-domain>``.

    Mail clients and many servers drop a second message with the same Message-ID, so a
    re-sent alert shows once.
    """
    local = MESSAGE_ID_UNSAFE.sub("_", idempotency_key) or "social-crm"
    domain = MESSAGE_ID_UNSAFE.sub("", sender.rpartition("@")[2]) or "social-crm.invalid"
    return f"<{local}@{domain}>"


class EmailNotifier:
    """Sends each alert as one plain-text email to the channel's recipients."""

    def __init__(self, channel: EmailChannel) -> None:
        self.name = channel.name
        self._channel = channel

    def build(self, message: Message) -> EmailMessage:
        """The email for ``message``: one-line subject, text/plain UTF-8 body, stable Message-ID."""
        channel = self._channel
        subject, body = message.render("text")
        email = EmailMessage()
        email["From"] = channel.sender
        email["To"] = ", ".join(channel.recipients)
        email["Subject"] = one_line(subject, limit=300)  # never a CR or LF: no header injection
        email["Date"] = formatdate(usegmt=True)
        if message.idempotency_key:
            email["Message-ID"] = message_id(message.idempotency_key, channel.sender)
            email["X-Social-CRM-Idempotency-Key"] = message.idempotency_key
        if isinstance(message, AlertMessage):
            email["X-Social-CRM-Alert"] = str(message.alert_id)
        email.set_content(body, subtype="plain", charset="utf-8")
        return email

    def send(self, message: Message) -> None:
        """Send the alert email; DeliveryError on any SMTP or network failure."""
        channel = self._channel
        email = self.build(message)
        try:
            with smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_seconds) as smtp:
                if channel.starttls:
                    smtp.starttls()
                if channel.username and channel.password:
                    smtp.login(channel.username, channel.password.get_secret_value())
                smtp.send_message(email)
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"email to {channel.host}:{channel.port} failed: {exc}") from exc
