"""Send a PDF by e-mail through the configured SMTP relay."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.utils import formatdate

from schulden.settings import Settings


class MailNotConfigured(Exception):
    """SMTP_HOST is not set: e-mail letters wait until it is (they are swept up again later)."""


def send_pdf(
    settings: Settings, *, to: str, subject: str, body: str, pdf: bytes, filename: str, message_id: str
) -> None:
    """One message with one PDF attached. Raises on any SMTP failure (the job records it and retries)."""
    if not settings.smtp_host:
        raise MailNotConfigured("SMTP_HOST is niet ingesteld")
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    # Fixed per letter: a resend after a crash carries the same id, so it can be recognised as a duplicate.
    message["Message-ID"] = message_id
    message.set_content(body)
    message.add_attachment(pdf, maintype="application", subtype="pdf", filename=filename)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user and settings.smtp_password:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)
