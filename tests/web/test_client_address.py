"""Behind the load balancer the client's address comes from X-Forwarded-For, as far as TRUSTED_PROXIES reaches.

Every request reaches the app from the balancer. The login limit (per address) and the audit log's origin must see
the client: the address the balancer appended, the last hop. What the client wrote into the header itself is
never believed, and with no trusted proxy (the default) the header is ignored altogether (security.md 10, 15, 20).
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schulden.actors import SYSTEM
from schulden.app import create_app
from schulden.audit import AuditEntry
from schulden.roles import Role
from schulden.users.models import LoginAttempt
from schulden.users.services import create_user
from tests.conftest import make_settings
from tests.factories import make_pi

PASSWORD = "adres-wachtwoord-1234"
BALANCER = "10.0.0.5"
CLIENT = "198.51.100.7"
OTHER_CLIENT = "198.51.100.8"
FORGED = "203.0.113.66"


@pytest.fixture
def username(committed: sessionmaker[Session]) -> str:
    with committed() as session:
        pi = make_pi(session, name="PI Adres")
        create_user(session, actor=SYSTEM, username="adres_pi", display_name="Ad Res", role=Role.PI_STAFF,
                    password=PASSWORD, organisation=pi)  # fmt: skip
        session.commit()
    return "adres_pi"


def _client(committed_url: str, proxies: int) -> tuple[Flask, FlaskClient]:
    app = create_app(make_settings(committed_url, trusted_proxies=proxies))
    return app, app.test_client()


def _token(client: FlaskClient, username: str, password: str, client_address: str) -> int:
    """POST /api/v1/auth/token through the balancer for `client_address`, which forged a header of its own."""
    response = client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password},
        headers={"X-Forwarded-For": f"{FORGED}, {client_address}"},
        environ_base={"REMOTE_ADDR": BALANCER},
    )
    return response.status_code


def _seen(committed: sessionmaker[Session]) -> tuple[set[str | None], set[str | None]]:
    """The addresses of the login attempts and of the audit rows of a refused case read."""
    with committed() as session:
        attempts = set(session.scalars(select(LoginAttempt.remote_addr)))
        origins = set(session.scalars(select(AuditEntry.origin).where(AuditEntry.action == "authz_denied")))
    return attempts, origins


def _login_and_ask_for_a_case_out_of_reach(client: FlaskClient, username: str) -> None:
    assert _token(client, username, "fout-wachtwoord", CLIENT) == 401
    response = client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": PASSWORD},
        headers={"X-Forwarded-For": f"{FORGED}, {CLIENT}"},
        environ_base={"REMOTE_ADDR": BALANCER},
    )
    assert response.status_code == 201, response.get_json()
    bearer = {"Authorization": f"Bearer {response.get_json()['access_token']}"}
    missing = client.get("/api/v1/cases/999999", headers={**bearer, "X-Forwarded-For": f"{FORGED}, {CLIENT}"},
                         environ_base={"REMOTE_ADDR": BALANCER})  # fmt: skip
    assert missing.status_code == 404


def test_with_one_trusted_proxy_the_login_limit_and_the_audit_log_see_the_client(
    committed_url: str, committed: sessionmaker[Session], username: str
) -> None:
    _, client = _client(committed_url, proxies=1)

    _login_and_ask_for_a_case_out_of_reach(client, username)

    attempts, origins = _seen(committed)
    assert attempts == {CLIENT}
    assert origins == {CLIENT}


def test_without_a_trusted_proxy_the_header_is_ignored(
    committed_url: str, committed: sessionmaker[Session], username: str
) -> None:
    _, client = _client(committed_url, proxies=0)

    _login_and_ask_for_a_case_out_of_reach(client, username)

    attempts, origins = _seen(committed)
    assert attempts == {BALANCER}  # the TCP peer; never the forged address
    assert origins == {BALANCER}


def test_one_client_guessing_passwords_does_not_lock_out_the_others(
    committed_url: str, committed: sessionmaker[Session], username: str
) -> None:
    from schulden.users.logins import MAX_FAILURES_PER_ADDRESS

    _, client = _client(committed_url, proxies=1)
    for number in range(MAX_FAILURES_PER_ADDRESS):
        assert _token(client, f"geraden_{number}", "fout-wachtwoord", CLIENT) == 401
    assert _token(client, "geraden_x", "fout-wachtwoord", CLIENT) == 429

    # A colleague behind the same balancer signs in as usual.
    assert _token(client, username, PASSWORD, OTHER_CLIENT) == 201
