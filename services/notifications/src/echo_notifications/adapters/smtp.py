"""Email over SMTP with aiosmtplib: a stable Message-ID per delivery, .ics for sessions."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

import aiosmtplib

from echo_notifications.adapters.calendar import ics
from echo_notifications.domain.ports import DeliveryError, OutgoingMessage
from echo_notifications.settings import NotificationsSettings


def message_id(message: OutgoingMessage, domain: str) -> str:
    """The same delivery always carries the same Message-ID, so a resend is recognisable."""
    return f"<{message.delivery_id}@{domain}>"


def build_email(message: OutgoingMessage, settings: NotificationsSettings) -> EmailMessage:
    """The MIME message of one delivery."""
    email = EmailMessage()
    email["Message-ID"] = message_id(message, settings.message_id_domain)
    email["From"] = settings.mail_from
    email["To"] = formataddr((message.recipient_name or "", message.address))
    email["Subject"] = message.subject
    email["Date"] = format_datetime(datetime.now(UTC))
    email["X-Echo-Delivery"] = str(message.delivery_id)
    email["X-Echo-Template"] = message.template
    email.set_content(message.text)
    if message.calendar is not None:
        method = "CANCEL" if message.calendar.cancelled else "REQUEST"
        email.add_attachment(
            ics(message.calendar),
            subtype="calendar",
            filename="session.ics",
            params={"method": method},
        )
    # After the body: setting content replaces every Content-* header.
    email["Content-Language"] = message.language
    return email


class FileMailer:
    """Development email: each message is written as `<delivery id>.eml` into a directory.

    A resend overwrites the same file, so the directory holds each message once.
    """

    def __init__(self, settings: NotificationsSettings, directory: Path) -> None:
        self.settings = settings
        self.directory = directory

    async def send(self, message: OutgoingMessage) -> None:
        data = build_email(message, self.settings).as_bytes()
        try:
            await asyncio.to_thread(self._write, f"{message.delivery_id}.eml", data)
        except OSError:
            raise DeliveryError("mail_drop_unwritable") from None

    def _write(self, name: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.directory / f".{name}.partial"
        partial.write_bytes(data)
        partial.replace(self.directory / name)


class SmtpMailer:
    """The email channel."""

    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings

    async def send(self, message: OutgoingMessage) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                build_email(message, s),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username,
                password=s.smtp_password,
                use_tls=s.smtp_tls,
                start_tls=s.smtp_starttls,
                timeout=s.smtp_timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused:
            raise DeliveryError("smtp_recipient_refused", permanent=True) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"smtp_{exc.code}", permanent=500 <= exc.code < 600) from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError):
            raise DeliveryError("smtp_unavailable") from None
