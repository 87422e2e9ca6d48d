"""Mail to creditors and municipalities (referral mails carry the BSN) goes encrypted when SMTP_TLS says so, to a
relay whose certificate checks out, or not at all: never a quiet fall-back to plain text (docs/operations.md)."""

from __future__ import annotations

import shutil
import smtplib
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from integrations.mail.client import send_pdf
from schulden.settings import Settings
from tests.conftest import SmtpServer

PDF = b"%PDF-1.4 test"


def _settings(port: int, tls: str) -> Settings:
    return Settings(database_url="sqlite://", redis_url=None, secret_key="x", environment="test",
                    smtp_host="127.0.0.1", smtp_port=port, smtp_tls=tls)  # fmt: skip


def _send(settings: Settings) -> None:
    send_pdf(settings, to="schuldhulp@gemeente.example", subject="Aanmelding", body="Zie bijlage.", pdf=PDF,
             filename="overdracht.pdf", message_id="<test@schuldroute>")  # fmt: skip


@dataclass
class TlsServer:
    port: int
    messages: list[Any]
    certificate: Path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    """aiosmtpd offering STARTTLS with a self-signed certificate for 127.0.0.1 (made with the openssl tool)."""
    from aiosmtpd.controller import Controller

    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
            received.append(envelope.content)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Handler(), hostname="127.0.0.1", port=port, tls_context=context)
    controller.start()
    try:
        yield TlsServer(port, received, cert)
    finally:
        controller.stop()


def test_starttls_refuses_a_relay_that_offers_no_tls(smtp_server: SmtpServer) -> None:
    with pytest.raises(smtplib.SMTPNotSupportedError):
        _send(_settings(smtp_server.port, "starttls"))
    assert smtp_server.messages == []


def test_implicit_tls_refuses_a_plain_relay(smtp_server: SmtpServer) -> None:
    with pytest.raises((ssl.SSLError, smtplib.SMTPServerDisconnected, ConnectionError)):
        _send(_settings(smtp_server.port, "implicit"))
    assert smtp_server.messages == []


def test_starttls_checks_the_relays_certificate(tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # A certificate nobody vouches for (a relay in the middle): nothing is sent.
    with pytest.raises(ssl.SSLCertVerificationError):
        _send(_settings(tls_server.port, "starttls"))
    assert tls_server.messages == []

    # Once the certificate is trusted (OpenSSL's SSL_CERT_FILE), the message goes, encrypted.
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.certificate))
    _send(_settings(tls_server.port, "starttls"))
    assert len(tls_server.messages) == 1


def test_without_tls_a_local_development_relay_still_works(smtp_server: SmtpServer) -> None:
    _send(_settings(smtp_server.port, "none"))
    assert len(smtp_server.messages) == 1
