"""Configuration comes from the environment once; unsafe production settings are refused with the variable named."""

from __future__ import annotations

import pytest

from schulden.settings import DEVELOPMENT_SECRET_KEY, ConfigurationError, Settings

PRODUCTION = {
    "SCHULDROUTE_ENV": "production",
    "DATABASE_URL": "postgresql+psycopg://app@db/schuldroute",
    "REDIS_URL": "redis://queue:6379/0",
    "SECRET_KEY": "x" * 40,
}


def test_the_embedded_default_needs_no_configuration(tmp_path: pytest.TempPathFactory) -> None:
    settings = Settings.from_env({"SCHULDROUTE_INSTANCE": str(tmp_path)})

    assert settings.database_url == f"sqlite:///{tmp_path}/schuldroute.db"
    assert settings.jobs_in_process
    assert settings.secret_key == DEVELOPMENT_SECRET_KEY
    assert settings.referral_window_weeks == 6


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
    ],
)
def test_unsafe_production_settings_are_refused(change: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env({**PRODUCTION, **change})
