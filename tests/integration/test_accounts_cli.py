"""`schuldroute users create` applies the password rule and makes the new user change the password at first login
(docs/accounts.md)."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from schulden.cli import main
from schulden.users.models import User


def _create(database_url: str, password: str) -> tuple[int, str]:
    env = {"DATABASE_URL": database_url, "SCHULDROUTE_ENV": "test", "LOG_LEVEL": "WARNING", "REDIS_URL": ""}
    args = ["users", "create", "--username", "eerste.beheer", "--display-name", "Eerste Beheerder", "--role", "admin"]
    result = CliRunner().invoke(main, [*args, "--password-stdin"], env=env, input=password + "\n")
    return result.exit_code, result.output


def test_users_create_refuses_a_weak_password_and_forces_a_change(
    committed_url: str, committed: sessionmaker[Session]
) -> None:
    short = _create(committed_url, "beheer2026")
    common = _create(committed_url, "iloveyou12345")
    good = _create(committed_url, "vijf woorden voor de start")

    assert short[0] != 0
    assert "password: Een wachtwoord heeft minimaal 12 tekens." in short[1]
    assert common[0] != 0
    assert "veelgebruikte wachtwoorden" in common[1]
    assert good[0] == 0, good[1]
    with committed() as session:
        assert session.scalars(select(User.must_change_password).where(User.username == "eerste.beheer")).one()
