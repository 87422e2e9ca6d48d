"""Send a PDF by e-mail through the configured SMTP relay."""

from __future__ import annotations

import smtplib
import ssl
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
    with _connect(settings) as smtp:
        if settings.smtp_user and settings.smtp_password:
            smtp.login(settings.smtp_user, settings.smtp_password)
        smtp.send_message(message)


class SmtpMailer:
    """The mailer port (schulden.ports.Mailer) over the SMTP relay that `settings` name."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send_pdf(self, *, to: str, subject: str, body: str, pdf: bytes, filename: str, message_id: str) -> None:
        send_pdf(self.settings, to=to, subject=subject, body=body, pdf=pdf, filename=filename, message_id=message_id)


def _connect(settings: Settings) -> smtplib.SMTP:
    """A connection protected as SMTP_TLS says, with the relay's certificate and host name verified.

    `starttls` fails when the relay does not offer STARTTLS instead of carrying on in plain text: a message that
    cannot go encrypted waits and is retried. Without a context, smtplib would not check the certificate at all.
    """
    assert settings.smtp_host is not None
    if settings.smtp_tls == "implicit":
        return smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=30, context=ssl.create_default_context()
        )
    smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30)
    if settings.smtp_tls == "starttls":
        try:
            smtp.starttls(context=ssl.create_default_context())
        except BaseException:
            smtp.close()
            raise
    return smtp
