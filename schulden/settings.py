"""Typed settings, read once from the environment. Tests build their own Settings and pass it to create_app."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

#: The secret key of the embedded default. Production refuses to start with it.
DEVELOPMENT_SECRET_KEY = "schuldroute-development-only-not-secret"  # noqa: S105 - refused in production


class ConfigurationError(Exception):
    """The environment describes a configuration we refuse to run (e.g. production with a default secret)."""


@dataclass(frozen=True)
class Settings:
    """Everything configurable. `environment` is development (default), test or production."""

    database_url: str
    redis_url: str | None
    secret_key: str
    environment: str = "development"
    instance_path: Path = Path("instance")
    tick_interval_seconds: float = 30.0
    log_level: str = "INFO"
    referral_window_weeks: int = 6
    # Letters: where PDFs are stored, the public address of the reply page (in the QR code), the sender block.
    letter_store: Path | None = None
    public_url: str = "http://127.0.0.1:5000"
    sender_name: str = "Schuldroute"
    sender_address: tuple[str, ...] = ("Postbus 0000", "0000 AA  NERGENS")
    sender_phone: str = "088 000 00 00"
    sender_email: str = "schuldhulp@schuldroute.example"
    # E-mail (letters to creditors that take e-mail): an SMTP relay. Unset host = e-mail letters wait.
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "brieven@schuldroute.example"
    # Staff sessions in the browser (security.md 13, ASVS 7.3.1/7.3.2): ended after this long without a request,
    # and this long after login whatever happens. Seconds here; the environment gives minutes and hours.
    session_idle_seconds: float = 30 * 60
    session_lifetime_seconds: float = 12 * 60 * 60
    # Where `npm ci` put the NL Design System CSS (node_modules); None = the checkout's own node_modules.
    assets_path: Path | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from environment variables (see docs/operations.md for the list)."""
        env = os.environ if environ is None else environ
        instance = Path(env.get("SCHULDROUTE_INSTANCE", "instance")).resolve()
        settings = cls(
            database_url=env.get("DATABASE_URL") or f"sqlite:///{instance / 'schuldroute.db'}",
            redis_url=env.get("REDIS_URL") or None,
            secret_key=env.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY,
            environment=env.get("SCHULDROUTE_ENV", "development"),
            instance_path=instance,
            tick_interval_seconds=float(env.get("TICK_INTERVAL", "30")),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            referral_window_weeks=int(env.get("REFERRAL_WINDOW_WEEKS", "6")),
            letter_store=Path(env["LETTER_STORE"]).resolve() if env.get("LETTER_STORE") else instance / "letters",
            public_url=env.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/"),
            sender_name=env.get("SENDER_NAME", "Schuldroute"),
            sender_address=tuple(
                line.strip() for line in env.get("SENDER_ADDRESS", "Postbus 0000|0000 AA  NERGENS").split("|")
            ),
            sender_phone=env.get("SENDER_PHONE", "088 000 00 00"),
            sender_email=env.get("SENDER_EMAIL", "schuldhulp@schuldroute.example"),
            smtp_host=env.get("SMTP_HOST") or None,
            smtp_port=int(env.get("SMTP_PORT", "25")),
            smtp_user=env.get("SMTP_USER") or None,
            smtp_password=env.get("SMTP_PASSWORD") or None,
            smtp_starttls=env.get("SMTP_STARTTLS", "").lower() in ("1", "true", "yes"),
            mail_from=env.get("MAIL_FROM", "brieven@schuldroute.example"),
            session_idle_seconds=float(env.get("SESSION_IDLE_MINUTES", "30")) * 60,
            session_lifetime_seconds=float(env.get("SESSION_LIFETIME_HOURS", "12")) * 3600,
            assets_path=Path(env["ASSETS_DIR"]).resolve() if env.get("ASSETS_DIR") else None,
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse configurations that would be unsafe, with a message naming the variable."""
        if self.environment not in {"development", "test", "production"}:
            raise ConfigurationError(
                f"SCHULDROUTE_ENV must be development, test or production, not {self.environment!r}"
            )
        if self.is_production:
            if self.secret_key == DEVELOPMENT_SECRET_KEY or len(self.secret_key) < 32:
                raise ConfigurationError("SECRET_KEY must be set to a random value of at least 32 characters")
            if self.database_url.startswith("sqlite"):
                raise ConfigurationError("DATABASE_URL must point to PostgreSQL in production")
            if not self.redis_url:
                raise ConfigurationError("REDIS_URL must be set in production (jobs run on rq workers)")
        if self.referral_window_weeks < 1:
            raise ConfigurationError("REFERRAL_WINDOW_WEEKS must be at least 1")
        if not 0 < self.session_idle_seconds <= self.session_lifetime_seconds:
            raise ConfigurationError(
                "SESSION_IDLE_MINUTES must be positive and at most SESSION_LIFETIME_HOURS (as minutes)"
            )

    @property
    def letter_store_path(self) -> Path:
        return self.letter_store or self.instance_path / "letters"

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def cookie_secure(self) -> bool:
        """Session cookies only over HTTPS in production; development and tests run on plain http://127.0.0.1."""
        return self.is_production

    @property
    def jobs_in_process(self) -> bool:
        """Without Redis, jobs and timers run inside the web process (the embedded default)."""
        return self.redis_url is None

    def with_changes(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests)."""
        return replace(self, **changes)  # type: ignore[arg-type]
