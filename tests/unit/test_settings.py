"""Configuration comes from the environment once; unsafe production settings are refused with the variable named."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from schulden.settings import DEVELOPMENT_SECRET_KEY, ConfigurationError, Settings

PRODUCTION = {
    "SCHULDROUTE_ENV": "production",
    "DATABASE_URL": "postgresql+psycopg://app@db/schuldroute",
    "REDIS_URL": "redis://queue:6379/0",
    "SECRET_KEY": "kV3q9ZtR0w-L7mYpX2cF_8sNbJ4hGdE1uAoTiWe6",
}


def test_the_embedded_default_needs_no_configuration_when_the_caller_allows_it(tmp_path: Path) -> None:
    settings = Settings.from_env({"SCHULDROUTE_INSTANCE": str(tmp_path)}, allow_unnamed_development=True)

    assert settings.environment == "development"
    assert settings.database_url == f"sqlite:///{tmp_path}/schuldroute.db"
    assert settings.jobs_in_process
    assert settings.secret_key == DEVELOPMENT_SECRET_KEY
    assert settings.referral_window_weeks == 6
    assert settings.trusted_proxies == 0


@pytest.mark.parametrize("value", [None, ""])
def test_an_unnamed_environment_is_refused(value: str | None) -> None:
    # What `gunicorn wsgi:app`, the worker and the ticker get: no quiet fall-back to development and its known key.
    env = {"DATABASE_URL": "postgresql+psycopg://app@db/schuldroute", "SECRET_KEY": "x"}
    if value is not None:
        env["SCHULDROUTE_ENV"] = value
    with pytest.raises(ConfigurationError, match="SCHULDROUTE_ENV is not set"):
        Settings.from_env(env)


def test_a_named_environment_is_never_overridden_by_the_allowance() -> None:
    settings = Settings.from_env(PRODUCTION, allow_unnamed_development=True)
    assert settings.is_production


def test_production_settings_are_accepted() -> None:
    settings = Settings.from_env(PRODUCTION)
    assert settings.is_production
    assert not settings.jobs_in_process


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"DATABASE_URL": "sqlite:///x.db"}, "DATABASE_URL"),
        ({"REDIS_URL": ""}, "REDIS_URL"),
        ({"SCHULDROUTE_ENV": "staging"}, "SCHULDROUTE_ENV"),
        ({"REFERRAL_WINDOW_WEEKS": "0"}, "REFERRAL_WINDOW_WEEKS"),
        ({"SMTP_HOST": "smtp.example.nl"}, "SMTP_TLS"),
        ({"SMTP_HOST": "smtp.example.nl", "SMTP_TLS": "none"}, "SMTP_TLS"),
        ({"SMTP_HOST": "smtp.example.nl", "SMTP_TLS": "ssl"}, "SMTP_TLS"),
        ({"TRUSTED_PROXIES": "-1"}, "TRUSTED_PROXIES"),
        ({"TRUSTED_PROXIES": "one"}, "TRUSTED_PROXIES"),
    ],
)
def test_unsafe_production_settings_are_refused(change: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env({**PRODUCTION, **change})


@pytest.mark.parametrize(
    "key",
    [
        DEVELOPMENT_SECRET_KEY,
        "test-secret-key-that-is-long-enough-0123456789",  # the tests' key: it is in the repository
        "x" * 40,
        "ab" * 20,
        "abcdefghijklmnopqrstuvwxyzABCDEF",
        "0123456789" * 4,
        "Tr0ub4dor&3" * 3,  # a short password repeated to length
        "kV3q9ZtR0w-L7mYpX2cF_8sNbJ4hGdE",  # random, but 31 characters
        "01" * 8 + "10" * 8,  # 32 characters of a two-letter alphabet
    ],
)
def test_production_refuses_a_secret_key_an_attacker_could_guess(key: str) -> None:
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        Settings.from_env({**PRODUCTION, "SECRET_KEY": key})


@pytest.mark.parametrize("make", [lambda: secrets.token_urlsafe(32), lambda: secrets.token_hex(16)])
def test_production_accepts_any_generated_secret_key(make: object) -> None:
    for _ in range(500):
        key = make()  # type: ignore[operator]
        assert Settings.from_env({**PRODUCTION, "SECRET_KEY": key}).secret_key == key


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({"SMTP_TLS": "starttls"}, "starttls"),
        ({"SMTP_TLS": "implicit", "SMTP_PORT": "465"}, "implicit"),
        ({"SMTP_STARTTLS": "true"}, "starttls"),  # the older spelling
    ],
)
def test_production_sends_mail_only_over_tls(env: dict[str, str], mode: str) -> None:
    settings = Settings.from_env({**PRODUCTION, "SMTP_HOST": "smtp.example.nl", **env})
    assert settings.smtp_tls == mode


def test_development_may_use_a_plain_smtp_server_on_this_machine() -> None:
    env = {"SCHULDROUTE_ENV": "development", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": "8025"}
    assert Settings.from_env(env).smtp_tls == "none"


def test_the_number_of_trusted_proxies_is_read() -> None:
    assert Settings.from_env({**PRODUCTION, "TRUSTED_PROXIES": "1"}).trusted_proxies == 1
