"""Login limits, the second factor and the password rule through the API's token endpoint (docs/accounts.md).

security.md scenario 10: wrong passwords lock an account and an address; a lock is not extended by the attempts
it refuses; on PostgreSQL parallel wrong passwords cannot race past the count; TOTP codes are single-use;
every attempt is in the audit log without what was typed for an account that does not exist.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from schulden.actors import SYSTEM, UserActor
from schulden.app import create_app
from schulden.audit import AuditEntry
from schulden.errors import ValidationFailed
from schulden.roles import Role
from schulden.users import logins, totp
from schulden.users.account import confirm_enrolment, enrolment_secret
from schulden.users.models import LoginAttempt, RecoveryCode, User
from schulden.users.passwords import PASSWORD_RULE, password_problems
from schulden.users.services import create_user
from tests.conftest import DatabaseUnderTest, make_settings
from tests.factories import make_pi
from workflows.store import utcnow

PASSWORD = "lange-zin-voor-de-test"
SECRET_KEY = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture
def user_id(committed: sessionmaker[Session]) -> Iterator[int]:
    with committed() as session:
        pi = make_pi(session, name="PI Limiet")
        user = create_user(
            session,
            actor=SYSTEM,
            username="limiet.pi",
            display_name="Lotte Limiet",
            role=Role.PI_STAFF,
            password=PASSWORD,
            organisation=pi,
        )
        session.commit()
        uid = user.id
    yield uid
    with committed() as session:
        session.execute(delete(LoginAttempt))
        session.commit()


def token(
    client: FlaskClient, username: str = "limiet.pi", password: str = PASSWORD, **extra: str
) -> tuple[int, dict[str, Any]]:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": password, **extra})
    return response.status_code, response.get_json()


def enrol(committed: sessionmaker[Session], user_id: int) -> tuple[str, list[str]]:
    """Enrol the user's second factor as the web page does; the TOTP secret and the recovery codes."""
    with committed() as session:
        user = session.get_one(User, user_id)
        secret = enrolment_secret(session, user=user, secret_key=SECRET_KEY)
        # The code of the step before now: the login tests then use the current one (a code is used once).
        now = utcnow()
        code = pyotp.TOTP(secret).at(now - timedelta(seconds=30))
        actor = UserActor(user.id, Role(user.role), user.organisation_id)
        codes = confirm_enrolment(
            session, actor=actor, user=user, code=code, address=None, now=now, secret_key=SECRET_KEY
        )
        session.commit()
    return secret, codes


# -- the password rule ------------------------------------------------------------------------------------------------


def test_password_rule_refuses_short_common_and_username_passwords() -> None:
    assert password_problems("kort-maar", username="x") == ["Een wachtwoord heeft minimaal 12 tekens."]
    assert password_problems("a" * 129, username="x") == ["Een wachtwoord heeft hooguit 128 tekens."]
    # On zxcvbn's list of common passwords, also with digits and symbols stuck to it.
    assert any("veelgebruikte" in p for p in password_problems("qwerty123456", username="x"))
    assert any("veelgebruikte" in p for p in password_problems("Password2026!!", username="x"))
    assert any("gebruikersnaam" in p for p in password_problems("jan.jansen-2026-x", username="jan.jansen"))
    for pattern in ("aaaaaaaaaaaa", "passwordpassword", "abcdefghijklm"):
        assert any("herhaling of een reeks" in p for p in password_problems(pattern, username="x")), pattern
    assert password_problems("paarse koffie op dinsdag", username="jan.jansen") == []
    assert "12" in PASSWORD_RULE
    assert "128" in PASSWORD_RULE


def test_an_administrator_s_password_must_meet_the_rule_and_be_changed(session: Session) -> None:
    pi = make_pi(session, name="PI Regel")
    with pytest.raises(ValidationFailed) as refused:
        create_user(
            session,
            actor=SYSTEM,
            username="regel.pi",
            display_name="R",
            role=Role.PI_STAFF,
            password="welkom12345678",
            organisation=pi,
            set_by_administrator=True,
        )
    assert "veelgebruikte" in refused.value.errors["password"][0]
    user = create_user(
        session,
        actor=SYSTEM,
        username="regel.pi",
        display_name="R",
        role=Role.PI_STAFF,
        password="paarse koffie op dinsdag",
        organisation=pi,
        set_by_administrator=True,
    )
    assert user.must_change_password
    # The demo seed and tests: no rule, no forced change (the demo's password is "demo").
    demo = create_user(
        session,
        actor=SYSTEM,
        username="demo.pi",
        display_name="D",
        role=Role.PI_STAFF,
        password="demo",
        organisation=pi,
    )
    assert not demo.must_change_password


# -- counting -------------------------------------------------------------------------------------------------------


def test_five_wrong_passwords_lock_the_account_and_the_right_one_is_refused_meanwhile(
    client: FlaskClient, user_id: int
) -> None:
    assert [token(client, password="fout-wachtwoord-123")[0] for _ in range(logins.MAX_FAILURES)] == [401] * 5
    status, body = token(client)
    assert status == 429
    assert body["detail"] == logins.TOO_MANY


def test_attempts_refused_during_a_lock_do_not_extend_it(
    client: FlaskClient, user_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = utcnow()
    clock = {"now": start}
    monkeypatch.setattr("schulden.api.auth.utcnow", lambda: clock["now"])
    for _ in range(logins.MAX_FAILURES):
        assert token(client, password="fout-wachtwoord-123")[0] == 401
    # Ten minutes on, someone keeps hammering: all refused, none checked.
    clock["now"] = start + timedelta(minutes=10)
    assert [token(client, password="fout-wachtwoord-123")[0] for _ in range(10)] == [429] * 10
    # Fifteen minutes after the failures the lock is over, whatever happened during it.
    clock["now"] = start + logins.FAILURE_WINDOW + timedelta(seconds=1)
    assert token(client)[0] == 201


def test_twenty_failures_from_one_address_lock_that_address(client: FlaskClient, user_id: int) -> None:
    statuses = [token(client, username=f"bestaat.niet.{i}", password="x")[0] for i in range(22)]
    assert statuses == [401] * logins.MAX_FAILURES_PER_ADDRESS + [429] * 2
    assert token(client)[0] == 429  # also the right password of a real account, from that address


def _parallel(app: Flask, attempts: list[dict[str, str]]) -> Counter[int]:
    """Send the attempts at once, one thread each, and count the statuses."""
    start = threading.Barrier(len(attempts))
    statuses: list[int] = []
    lock = threading.Lock()

    def one(body: dict[str, str]) -> None:
        client = app.test_client()
        start.wait()
        status = client.post("/api/v1/auth/token", json=body).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=one, args=(body,)) for body in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return Counter(statuses)


def test_parallel_wrong_passwords_cannot_race_past_the_account_limit(
    pg_database: DatabaseUnderTest, committed_url: str, user_id: int
) -> None:
    app = create_app(make_settings(committed_url))
    statuses = _parallel(app, [{"username": "limiet.pi", "password": f"fout-{i}-wachtwoord"} for i in range(12)])
    # Exactly MAX_FAILURES passwords were checked; the others were refused unchecked.
    assert statuses == Counter({401: logins.MAX_FAILURES, 429: 12 - logins.MAX_FAILURES})


def test_parallel_failures_cannot_race_past_the_address_limit(
    pg_database: DatabaseUnderTest, committed_url: str, user_id: int
) -> None:
    app = create_app(make_settings(committed_url))
    attempts = [{"username": f"onbekend.{i}", "password": "fout-wachtwoord"} for i in range(26)]
    statuses = _parallel(app, attempts)
    assert statuses == Counter({401: logins.MAX_FAILURES_PER_ADDRESS, 429: 6})


# -- recording ------------------------------------------------------------------------------------------------------


def test_failed_logins_are_audited_and_logged_without_what_was_typed(
    client: FlaskClient, committed: sessionmaker[Session], user_id: int, caplog: pytest.LogCaptureFixture
) -> None:
    typed_bsn = "111222333"  # someone typed a BSN into the username box
    with caplog.at_level(logging.WARNING, logger="schulden.users.logins"):
        assert token(client, password="fout-wachtwoord-123")[0] == 401
        assert token(client, username=typed_bsn, password="Geheim-123456")[0] == 401
    assert token(client)[0] == 201

    with committed() as session:
        rows = session.scalars(select(AuditEntry).where(AuditEntry.action == "login").order_by(AuditEntry.id)).all()
        attempts = session.scalars(select(LoginAttempt).order_by(LoginAttempt.id)).all()
    assert [(r.result, r.object_id, r.origin) for r in rows] == [
        ("fail", str(user_id), "127.0.0.1"),
        ("fail", None, "127.0.0.1"),
        ("ok", str(user_id), "127.0.0.1"),
    ]
    assert rows[0].details == {"method": "password", "channel": "api", "username": "limiet.pi"}
    assert rows[0].actor_id == "anonymous"
    assert rows[2].actor_id == f"user:{user_id}"
    assert rows[1].details["username_hash"].startswith("?")
    everything = json.dumps([r.details for r in rows]) + " ".join(a.username for a in attempts) + caplog.text
    assert typed_bsn not in everything
    assert "Geheim-123456" not in everything
    assert "fout-wachtwoord-123" not in everything
    # One warning per failure, naming the account by id only.
    failures = [r for r in caplog.records if r.getMessage() == "login fail"]
    assert [(getattr(r, "user_id", None), getattr(r, "username_hash", None) is None) for r in failures] == [
        (user_id, True),
        (None, False),
    ]
    assert "limiet.pi" not in caplog.text


# -- what the token endpoint refuses --------------------------------------------------------------------------------


def test_a_user_who_must_change_the_password_gets_no_token(
    client: FlaskClient, committed: sessionmaker[Session], user_id: int
) -> None:
    with committed() as session:
        session.get_one(User, user_id).must_change_password = True
        session.commit()
    status, body = token(client)
    assert status == 403
    assert "nieuw wachtwoord" in body["detail"]
    assert body["title"] == "Geen toegang"


def test_a_role_that_needs_totp_gets_no_token_before_enrolment(committed_url: str, user_id: int) -> None:
    app = create_app(make_settings(committed_url, totp_required_roles=("pi_staff",)))
    status, body = token(app.test_client())
    assert status == 403
    assert "tweestapsverificatie" in body["detail"]


def test_production_requires_totp_of_administrators_whatever_is_configured() -> None:
    from schulden.users.services import totp_required

    assert totp_required("admin", required_roles=(), production=True)
    assert not totp_required("admin", required_roles=(), production=False)
    assert totp_required("counsellor", required_roles=("counsellor",), production=False)
    assert not totp_required("pi_staff", required_roles=("counsellor",), production=True)


def test_totp_codes_are_needed_and_work_once(
    client: FlaskClient, committed: sessionmaker[Session], user_id: int
) -> None:
    secret, _codes = enrol(committed, user_id)
    status, body = token(client)
    assert status == 401
    assert "totp" in body["errors"]
    code = pyotp.TOTP(secret).now()
    assert token(client, totp="000000" if code != "000000" else "111111")[0] == 401
    assert token(client, totp=code)[0] == 201
    # The same code again, within its 30 seconds: refused (someone saw it over a shoulder).
    status, body = token(client, totp=code)
    assert status == 401
    assert body["detail"] == logins.WRONG_CODE


def test_a_recovery_code_works_once_and_wrong_codes_count_as_failures(
    client: FlaskClient, committed: sessionmaker[Session], user_id: int
) -> None:
    _secret, codes = enrol(committed, user_id)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert token(client, totp=codes[3].lower())[0] == 201
    assert token(client, totp=codes[3])[0] == 401
    for _ in range(logins.MAX_FAILURES - 1):
        assert token(client, totp="999999")[0] == 401
    assert token(client, totp=codes[4])[0] == 429  # five failed codes: locked like wrong passwords
    with committed() as session:
        stored = session.scalars(select(RecoveryCode.code_hash)).all()
    assert codes[4] not in " ".join(stored)


def test_totp_secret_is_stored_encrypted(committed: sessionmaker[Session], user_id: int) -> None:
    secret, _codes = enrol(committed, user_id)
    with committed() as session:
        stored = session.get_one(User, user_id).totp_secret
    assert stored is not None
    assert secret not in stored
    assert totp.unseal(stored, secret_key=SECRET_KEY) == secret
    with pytest.raises(totp.SecretUnreadable):
        totp.unseal(stored, secret_key="another-secret-key-0123456789abcdef")


def test_a_code_is_accepted_within_one_step_of_drift_only() -> None:
    secret = totp.new_secret()
    now = datetime(2026, 12, 4, 12, 0, 10).astimezone()
    generator = pyotp.TOTP(secret)
    assert totp.matching_step(secret, generator.at(now - timedelta(seconds=30)), now=now, after_step=None)
    assert totp.matching_step(secret, generator.at(now - timedelta(minutes=10)), now=now, after_step=None) is None
    step = totp.matching_step(secret, generator.at(now), now=now, after_step=None)
    assert step is not None
    assert totp.matching_step(secret, generator.at(now), now=now, after_step=step) is None
