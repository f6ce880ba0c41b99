"""Alerts by SMTP email (the standard library's smtplib), plain text in UTF-8."""

from __future__ import annotations

import re
import smtplib
import threading
import time
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
    """Sends each alert as one plain-text email to the channel's recipients.

    One SMTP session is kept between sends: a message sent within ``KEEP_SECONDS`` of the
    last one goes through it once the server answered a NOOP; an older or broken session is
    closed and a new one opened, so no message is ever sent twice.
    """

    # How long an unused SMTP session is kept (servers drop idle ones after some minutes).
    KEEP_SECONDS = 30.0

    def __init__(self, channel: EmailChannel) -> None:
        self.name = channel.name
        self._channel = channel
        self._lock = threading.Lock()
        self._smtp: smtplib.SMTP | None = None
        self._used_at = 0.0  # time.monotonic() of the session's last send

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
        with self._lock:
            try:
                smtp = self._session()
                smtp.send_message(email)
            except (smtplib.SMTPException, OSError) as exc:
                self._drop()
                raise DeliveryError(
                    f"email to {channel.host}:{channel.port} failed: {exc}"
                ) from exc
            self._used_at = time.monotonic()

    def _session(self) -> smtplib.SMTP:
        """The kept SMTP session if it is recent and answers, else a new one."""
        smtp = self._smtp
        if smtp is not None:
            if time.monotonic() - self._used_at <= self.KEEP_SECONDS:
                try:
                    if smtp.noop()[0] == 250:
                        return smtp
                except (smtplib.SMTPException, OSError):
                    pass
            self._drop()
        channel = self._channel
        smtp = smtplib.SMTP(channel.host, channel.port, timeout=channel.timeout_seconds)
        self._smtp = smtp
        if channel.starttls:
            smtp.starttls()
        if channel.username and channel.password:
            smtp.login(channel.username, channel.password.get_secret_value())
        return smtp

    def _drop(self) -> None:
        """Close the kept session, politely if the server still listens."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
