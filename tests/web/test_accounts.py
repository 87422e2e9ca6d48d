"""Staff accounts in the web pages (docs/accounts.md): the forced password change of a new account, two-step
verification (enrolment, the code step, recovery codes, a forced enrolment) and its reset in Beheer.

security.md scenario 10 (MFA), BIO2 5.17.01/5.17.03: what a user or an attacker would notice in the pages.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from schulden.actors import SYSTEM
from schulden.app import create_app
from schulden.audit import AuditEntry
from schulden.roles import Role
from schulden.users.models import ApiToken, LoginAttempt, RecoveryCode, User
from schulden.users.services import create_user
from tests.conftest import make_settings
from tests.factories import make_pi
from workflows.store import utcnow

PASSWORD = "koffie-met-melk-en-suiker"
NEW_PASSWORD = "thee zonder suiker graag"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = re.compile(r'<code id="totp-sleutel">([A-Z2-7 ]+)</code>')
RECOVERY = re.compile(r'<code class="sr-recovery-code">([A-Z0-9-]+)</code>')


@pytest.fixture
def accounts(committed: sessionmaker[Session]) -> Iterator[dict[str, int]]:
    """An administrator and a casemanager whose password the administrator chose (must change it)."""
    with committed() as session:
        pi = make_pi(session, name="PI Account")
        admin = create_user(
            session, actor=SYSTEM, username="beheer.a", display_name="Anna Beheer", role=Role.ADMIN,
            password=PASSWORD, organisation=None,
        )  # fmt: skip
        new = create_user(
            session, actor=SYSTEM, username="nieuw.pi", display_name="Niels Nieuw", role=Role.PI_STAFF,
            password=PASSWORD, organisation=pi, set_by_administrator=True,
        )  # fmt: skip
        session.commit()
        ids = {"admin": admin.id, "new": new.id}
    yield ids
    with committed() as session:
        session.execute(delete(LoginAttempt))
        session.commit()


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def csrf_of(client: FlaskClient, path: str) -> str:
    match = CSRF.search(text(client.get(path, follow_redirects=True)))
    assert match, f"no CSRF field on {path}"
    return match.group(1)


def log_in(client: FlaskClient, username: str, password: str = PASSWORD) -> TestResponse:
    token = csrf_of(client, "/aanmelden")
    return client.post("/aanmelden", data={"username": username, "password": password, "csrf_token": token})


def post(client: FlaskClient, path: str, **data: str) -> TestResponse:
    return client.post(path, data={"csrf_token": csrf_of(client, path), **data})


def change(client: FlaskClient) -> TestResponse:
    """Change the password from PASSWORD to NEW_PASSWORD on the page."""
    fields = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "repeat_password": NEW_PASSWORD}
    return post(client, "/account/wachtwoord", **fields)


def audit_actions(committed: sessionmaker[Session], user_id: int) -> list[tuple[str, str]]:
    with committed() as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.result)
            .where(AuditEntry.object_type == "user", AuditEntry.object_id == str(user_id))
            .order_by(AuditEntry.id)
        ).all()
    return [(row.action, row.result) for row in rows]


def enrol_in_pages(client: FlaskClient) -> tuple[str, list[str]]:
    page = text(client.get("/account/tweestapsverificatie"))
    assert 'src="data:image/svg+xml' in page  # the QR code, as a data: URL the CSP allows
    match = SECRET.search(page)
    assert match
    secret = match.group(1).replace(" ", "")
    previous = pyotp.TOTP(secret).at(utcnow() - timedelta(seconds=30))  # now's code stays free for the login
    wrong = post(client, "/account/tweestapsverificatie", code="12345")
    assert wrong.status_code == 422
    done = post(client, "/account/tweestapsverificatie", code=previous)
    assert done.status_code == 200
    codes = RECOVERY.findall(text(done))
    assert len(codes) == 10
    return secret, codes


# -- first login --------------------------------------------------------------------------------------------------


def test_a_new_account_changes_its_password_before_anything_else(
    client: FlaskClient, committed: sessionmaker[Session], accounts: dict[str, int]
) -> None:
    response = log_in(client, "nieuw.pi")
    assert response.status_code == 302
    assert client.get("/").headers["Location"] == "/account/wachtwoord"
    assert client.get("/dossiers").headers["Location"] == "/account/wachtwoord"
    page = text(client.get("/account/wachtwoord"))
    assert "Kies nu een eigen" in page
    assert "Minimaal 12" in page

    weak = post(
        client, "/account/wachtwoord", current_password=PASSWORD, new_password="welkom2026!!", repeat_password="x"
    )
    assert weak.status_code == 422
    assert "veelgebruikte wachtwoorden" in text(weak)
    assert "niet gelijk" in text(weak)
    wrong_current = post(
        client,
        "/account/wachtwoord",
        current_password="niet-het-wachtwoord",
        new_password=NEW_PASSWORD,
        repeat_password=NEW_PASSWORD,
    )
    assert wrong_current.status_code == 422
    assert "huidige wachtwoord is onjuist" in text(wrong_current)
    assert client.get("/").status_code == 302  # still not through

    done = post(
        client,
        "/account/wachtwoord",
        current_password=PASSWORD,
        new_password=NEW_PASSWORD,
        repeat_password=NEW_PASSWORD,
    )
    assert done.status_code == 303
    assert done.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    with committed() as session:
        assert not session.get_one(User, accounts["new"]).must_change_password
    assert ("user.password_change", "ok") in audit_actions(committed, accounts["new"])

    client.post("/afmelden", data={"csrf_token": csrf_of(client, "/")})
    assert log_in(client, "nieuw.pi").status_code == 422  # the old password is gone
    assert log_in(client, "nieuw.pi", NEW_PASSWORD).headers["Location"] == "/"


def test_changing_the_password_ends_the_other_sessions(
    app: Flask, committed: sessionmaker[Session], accounts: dict[str, int]
) -> None:
    other, this = app.test_client(), app.test_client()
    log_in(other, "beheer.a")
    log_in(this, "beheer.a")
    assert other.get("/").status_code == 200
    done = change(this)
    assert done.status_code == 303
    assert this.get("/").status_code == 200
    assert other.get("/").headers["Location"] == "/aanmelden"


# -- two-step verification ----------------------------------------------------------------------------------------


def test_enrolled_sign_in_asks_for_the_code_and_the_half_signed_in_browser_sees_nothing(
    client: FlaskClient, committed: sessionmaker[Session], accounts: dict[str, int]
) -> None:
    log_in(client, "beheer.a")
    secret, codes = enrol_in_pages(client)
    assert ("user.totp_enrol", "ok") in audit_actions(committed, accounts["admin"])
    with committed() as session:
        stored = session.scalars(select(RecoveryCode.code_hash).where(RecoveryCode.user_id == accounts["admin"])).all()
    assert len(stored) == 10
    assert not set(codes) & set(stored)
    client.post("/afmelden", data={"csrf_token": csrf_of(client, "/")})

    response = log_in(client, "beheer.a")
    assert response.headers["Location"] == "/aanmelden/code"
    # Password right, code not yet given: no page opens.
    for path in ("/", "/beheer/gebruikers", "/account", "/account/wachtwoord"):
        assert client.get(path).headers["Location"].startswith("/aanmelden"), path
    wrong = post(client, "/aanmelden/code", code="000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
    assert wrong.status_code == 422
    assert "onjuist" in text(wrong)
    code = pyotp.TOTP(secret).now()
    done = post(client, "/aanmelden/code", code=code)
    assert done.headers["Location"] == "/"
    assert client.get("/beheer/gebruikers").status_code == 200
    client.post("/afmelden", data={"csrf_token": csrf_of(client, "/")})

    # The same code again (within its 30 seconds) is refused; a recovery code works, once.
    log_in(client, "beheer.a")
    assert post(client, "/aanmelden/code", code=code).status_code == 422
    assert post(client, "/aanmelden/code", code=codes[0]).headers["Location"] == "/"
    assert "herstelcode" in text(client.get("/"))
    assert "nog 9 herstelcodes ongebruikt" in " ".join(text(client.get("/account")).split())
    client.post("/afmelden", data={"csrf_token": csrf_of(client, "/")})
    log_in(client, "beheer.a")
    assert post(client, "/aanmelden/code", code=codes[0]).status_code == 422
    with committed() as session:
        methods = session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "login", AuditEntry.result == "ok")
        ).all()
    assert [m["method"] for m in methods][-2:] == ["password+totp", "password+recovery_code"]


def test_a_role_that_must_use_totp_is_sent_to_enrolment_after_the_password(
    committed_url: str, committed: sessionmaker[Session], accounts: dict[str, int]
) -> None:
    app = create_app(make_settings(committed_url, totp_required_roles=("admin",)))
    client = app.test_client()
    assert log_in(client, "beheer.a").headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/account/tweestapsverificatie"
    assert client.get("/beheer/gebruikers").headers["Location"] == "/account/tweestapsverificatie"
    page = text(client.get("/account/tweestapsverificatie"))
    assert "moet zich aanmelden met een wachtwoord én een code" in page
    _secret, _codes = enrol_in_pages(client)
    assert client.get("/beheer/gebruikers").status_code == 200


def test_an_administrator_resets_a_lost_second_factor(
    app: Flask, committed: sessionmaker[Session], accounts: dict[str, int]
) -> None:
    user = app.test_client()
    log_in(user, "nieuw.pi")
    post(
        user, "/account/wachtwoord", current_password=PASSWORD, new_password=NEW_PASSWORD, repeat_password=NEW_PASSWORD
    )
    enrol_in_pages(user)

    admin = app.test_client()
    log_in(admin, "beheer.a")
    page = text(admin.get("/beheer/gebruikers"))
    assert "Opnieuw laten instellen" in page
    reset = post(admin, f"/beheer/gebruikers/{accounts['new']}/tweestaps-opnieuw")
    assert reset.status_code == 303
    assert ("user.totp_reset", "ok") in audit_actions(committed, accounts["admin"]) + audit_actions(
        committed, accounts["new"]
    )
    with committed() as session:
        account = session.get_one(User, accounts["new"])
        assert account.totp_secret is None
        assert session.scalar(select(RecoveryCode.id).where(RecoveryCode.user_id == account.id)) is None
        live = session.scalars(
            select(ApiToken.id).where(ApiToken.user_id == account.id, ApiToken.revoked_at.is_(None))
        ).all()
    assert live == []  # the user's sessions ended
    assert user.get("/").headers["Location"] == "/aanmelden"
    assert log_in(user, "nieuw.pi", NEW_PASSWORD).headers["Location"] == "/"  # no code asked any more


def test_beheer_creates_accounts_under_the_password_rule(
    app: Flask, committed: sessionmaker[Session], accounts: dict[str, int]
) -> None:
    admin = app.test_client()
    log_in(admin, "beheer.a")
    form = {"username": "nog.een", "display_name": "Nog Een", "role": "admin", "organisation": ""}
    refused = post(admin, "/beheer/gebruikers", password="wachtwoord", **form)
    assert refused.status_code == 422
    assert "minimaal 12 tekens" in text(refused)
    common = post(admin, "/beheer/gebruikers", password="qwerty123456", **form)
    assert "veelgebruikte wachtwoorden" in text(common)
    made = post(admin, "/beheer/gebruikers", password="zes lange woorden op rij", **form)
    assert made.status_code == 303
    with committed() as session:
        assert session.scalars(select(User.must_change_password).where(User.username == "nog.een")).one()


def test_the_password_step_of_an_enrolled_account_ends_the_session_the_browser_had(
    app: Flask, committed: sessionmaker[Session], accounts: dict[str, int]
) -> None:
    enrolling = app.test_client()
    log_in(enrolling, "beheer.a")
    enrol_in_pages(enrolling)

    shared = app.test_client()  # a shared PC: someone else is still signed in
    log_in(shared, "nieuw.pi")
    assert shared.get("/").headers["Location"] == "/account/wachtwoord"
    assert log_in(shared, "beheer.a").headers["Location"] == "/aanmelden/code"
    with committed() as session:
        live = session.scalars(
            select(ApiToken.id).where(ApiToken.user_id == accounts["new"], ApiToken.revoked_at.is_(None))
        ).all()
    assert live == []
