"""Typed settings, read once from the environment. Tests build their own Settings and pass it to create_app."""

from __future__ import annotations

import ipaddress
import math
import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schulden.retention import RetentionTerms

#: The secret key of the embedded default. Production refuses to start with it.
DEVELOPMENT_SECRET_KEY = "schuldroute-development-only-not-secret"  # noqa: S105 - refused in production
#: Keys that are public because they are in this repository (the embedded default, the tests' key) or in every
#: tutorial. Production refuses them whatever their length.
KNOWN_SECRET_KEYS = frozenset(
    {
        DEVELOPMENT_SECRET_KEY,
        "test-secret-key-that-is-long-enough-0123456789",
        "changeme",
        "change-me",
        "secret",
        "dev",
        "development",
    }
)
MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_BITS = 128
#: How an SMTP connection is protected: `starttls` upgrades port 25/587, `implicit` is TLS from the first byte (465).
SMTP_TLS_MODES = ("none", "starttls", "implicit")


class ConfigurationError(Exception):
    """The environment describes a configuration we refuse to run (e.g. production with a default secret)."""


#: Where PDFs are kept (integrations/letters/storage.py).
FILE_STORES = ("folder", "database")


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
    # "folder" (LETTER_STORE) or "database" (no shared disk between machines; production's default, issue 14).
    file_store: str = "folder"
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
    # none, starttls or implicit (SMTP_TLS_MODES); production refuses none, since referral mails carry the BSN.
    smtp_tls: str = "none"
    mail_from: str = "brieven@schuldroute.example"
    # Staff sessions in the browser (security.md 13, ASVS 7.3.1/7.3.2): ended after this long without a request,
    # and this long after login whatever happens. Seconds here; the environment gives minutes and hours.
    session_idle_seconds: float = 30 * 60
    session_lifetime_seconds: float = 12 * 60 * 60
    # Roles that must sign in with TOTP (docs/accounts.md); production adds "admin" whatever is listed here.
    totp_required_roles: tuple[str, ...] = ()
    # Where `npm ci` put the NL Design System CSS (node_modules); None = the checkout's own node_modules.
    assets_path: Path | None = None
    # How many proxies in front of the app append to X-Forwarded-For/-Proto (the load balancer: 1). 0 trusts
    # nobody: the headers are ignored and the client address is the TCP peer's.
    trusted_proxies: int = 0
    # PostgreSQL (issue 14): a request must not wait for a database that does not answer for as long as it hangs.
    # Connecting gives up after this many seconds, a statement is cancelled by the server after its own limit, and
    # a request that finds every pooled connection busy waits at most the pool timeout; each ends in a 503 with
    # Retry-After. Workers and the scheduler use the same limits; migrations do not (an index may take longer).
    database_connect_timeout: float = 5.0
    database_statement_timeout: float = 30.0
    database_pool_timeout: float = 5.0
    # Who may read /metrics and /status (docs/monitoring.md): these networks, or anyone with the bearer token.
    metrics_networks: tuple[str, ...] = ("127.0.0.0/8", "::1/128")
    metrics_token: str | None = None
    # How long each record type is kept (schulden/retention.py, docs/privacy.md section 4): RETENTION_* variables.
    retention: RetentionTerms = field(default_factory=lambda: _retention_terms({}))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, allow_unnamed_development: bool = False) -> Settings:
        """Read the settings from environment variables (see docs/operations.md for the list).

        SCHULDROUTE_ENV must be set: a process that forgot it must not quietly run as development with the key
        written above. Only callers that can only be a developer's machine pass `allow_unnamed_development`
        (`schuldroute run` on a loopback address and the maintenance commands of `make run`, schulden/cli.py).
        """
        env = os.environ if environ is None else environ
        environment = env.get("SCHULDROUTE_ENV") or None
        if environment is None:
            if not allow_unnamed_development:
                raise ConfigurationError(
                    "SCHULDROUTE_ENV is not set: set it to production, test or development "
                    "(only `schuldroute run --host 127.0.0.1`, i.e. `make run`, assumes development)"
                )
            environment = "development"
        instance = Path(env.get("SCHULDROUTE_INSTANCE", "instance")).resolve()
        settings = cls(
            database_url=env.get("DATABASE_URL") or f"sqlite:///{instance / 'schuldroute.db'}",
            redis_url=env.get("REDIS_URL") or None,
            secret_key=env.get("SECRET_KEY") or DEVELOPMENT_SECRET_KEY,
            environment=environment,
            instance_path=instance,
            tick_interval_seconds=float(env.get("TICK_INTERVAL", "30")),
            log_level=env.get("LOG_LEVEL", "INFO").upper(),
            referral_window_weeks=int(env.get("REFERRAL_WINDOW_WEEKS", "6")),
            letter_store=Path(env["LETTER_STORE"]).resolve() if env.get("LETTER_STORE") else instance / "letters",
            file_store=(env.get("FILE_STORE") or ("database" if environment == "production" else "folder")).lower(),
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
            # SMTP_STARTTLS=true is the older spelling of SMTP_TLS=starttls.
            smtp_tls=(env.get("SMTP_TLS") or ("starttls" if _true(env.get("SMTP_STARTTLS")) else "none")).lower(),
            mail_from=env.get("MAIL_FROM", "brieven@schuldroute.example"),
            session_idle_seconds=float(env.get("SESSION_IDLE_MINUTES", "30")) * 60,
            session_lifetime_seconds=float(env.get("SESSION_LIFETIME_HOURS", "12")) * 3600,
            totp_required_roles=tuple(r.strip() for r in env.get("TOTP_REQUIRED_ROLES", "").split(",") if r.strip()),
            assets_path=Path(env["ASSETS_DIR"]).resolve() if env.get("ASSETS_DIR") else None,
            trusted_proxies=_integer(env, "TRUSTED_PROXIES", "0"),
            database_connect_timeout=_seconds(env, "DATABASE_CONNECT_TIMEOUT", "5"),
            database_statement_timeout=_seconds(env, "DATABASE_STATEMENT_TIMEOUT", "30"),
            database_pool_timeout=_seconds(env, "DATABASE_POOL_TIMEOUT", "5"),
            metrics_networks=tuple(
                n.strip() for n in env.get("METRICS_NETWORKS", "127.0.0.0/8,::1/128").split(",") if n.strip()
            ),
            metrics_token=env.get("METRICS_TOKEN") or None,
            retention=_retention_terms(env),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Refuse configurations that would be unsafe, with a message naming the variable."""
        if self.environment not in {"development", "test", "production"}:
            raise ConfigurationError(
                f"SCHULDROUTE_ENV must be development, test or production, not {self.environment!r}"
            )
        if self.smtp_tls not in SMTP_TLS_MODES:
            raise ConfigurationError(f"SMTP_TLS must be one of {', '.join(SMTP_TLS_MODES)}, not {self.smtp_tls!r}")
        if not 0 <= self.trusted_proxies <= 5:
            raise ConfigurationError("TRUSTED_PROXIES must be the number of proxies in front of the app (0 to 5)")
        if self.is_production:
            problem = secret_key_problem(self.secret_key)
            if problem:
                raise ConfigurationError(f"SECRET_KEY {problem}; generate one with: python -c "
                                         "'import secrets; print(secrets.token_urlsafe(32))'")  # fmt: skip
            if self.database_url.startswith("sqlite"):
                raise ConfigurationError("DATABASE_URL must point to PostgreSQL in production")
            if not self.redis_url:
                raise ConfigurationError("REDIS_URL must be set in production (jobs run on rq workers)")
            if self.smtp_host and self.smtp_tls == "none":
                raise ConfigurationError(
                    "SMTP_TLS must be starttls or implicit in production: referral mails carry the BSN"
                )
        self._validate_file_store()
        for network in self.metrics_networks:
            try:
                ipaddress.ip_network(network)
            except ValueError:
                raise ConfigurationError(f"METRICS_NETWORKS: {network!r} is not a network such as 10.0.0.0/8") from None
        if self.metrics_token is not None and len(self.metrics_token) < 24:
            raise ConfigurationError("METRICS_TOKEN must be at least 24 characters")
        if self.referral_window_weeks < 1:
            raise ConfigurationError("REFERRAL_WINDOW_WEEKS must be at least 1")
        if not 0 < self.session_idle_seconds <= self.session_lifetime_seconds:
            raise ConfigurationError(
                "SESSION_IDLE_MINUTES must be positive and at most SESSION_LIFETIME_HOURS (as minutes)"
            )
        for variable, reason in self.retention.problems():
            raise ConfigurationError(f"{variable} {reason}")

    def _validate_file_store(self) -> None:
        if self.file_store not in FILE_STORES:
            raise ConfigurationError(f"FILE_STORE must be one of {', '.join(FILE_STORES)}, not {self.file_store!r}")
        if self.file_store == "database" and self.database_url.startswith("sqlite"):
            # SQLite lets one writer in at a time, and our sessions begin IMMEDIATE: a request that reads a PDF
            # while its own transaction is open would wait for itself. The embedded default keeps the folder.
            raise ConfigurationError("FILE_STORE=database needs PostgreSQL; with SQLite use FILE_STORE=folder")

    @property
    def database_engine_options(self) -> dict[str, Any]:
        """The engine's timeouts for this process (schulden/db.py make_engine; PostgreSQL only)."""
        return {
            "connect_timeout": self.database_connect_timeout,
            "statement_timeout": self.database_statement_timeout,
            "pool_timeout": self.database_pool_timeout,
        }

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


def secret_key_problem(key: str) -> str | None:
    """Why `key` is not fit to sign production sessions, or None.

    The estimate is deliberately crude and errs towards refusing human-made keys: length times log2 of the
    alphabet the key's distinct characters suggest (rounded up to a power of two, so 32 hex digits count as 128
    bits), counting only one period of a repeated key, and refusing keys that mostly step by one fixed amount
    ("aaaa…", "abcd…"). Anything from `secrets.token_urlsafe(32)` or `token_hex(32)` passes by a wide margin.
    """
    if key in KNOWN_SECRET_KEYS:
        return "is a published default (it is in the repository or in every tutorial)"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"must be at least {MIN_SECRET_KEY_LENGTH} random characters"
    steps = Counter(ord(b) - ord(a) for a, b in pairwise(key))
    if steps.most_common(1)[0][1] * 2 > len(key) - 1:
        return "is a run of one repeated step (e.g. one character repeated, or abcd…), not random"
    # The shortest piece that, repeated at least twice, makes the key ("Tr0ub4dor&3" * 3); the key itself if none.
    period = next((p for p in range(1, len(key) // 2 + 1) if key[p:] == key[: len(key) - p]), len(key))
    distinct = len(set(key[:period]))
    bits = period * math.log2(1 << max(distinct - 1, 0).bit_length())
    if bits < MIN_SECRET_KEY_BITS:
        return f"holds about {bits:.0f} bits, fewer than {MIN_SECRET_KEY_BITS}: too short a pattern or alphabet"
    return None


def _true(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def _seconds(env: Mapping[str, str], name: str, default: str) -> float:
    try:
        value = float(env.get(name) or default)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds") from None
    if not 0 < value <= 3600:
        raise ConfigurationError(f"{name} must be more than 0 and at most 3600 seconds")
    return value


def _retention_terms(env: Mapping[str, str]) -> RetentionTerms:
    """The RETENTION_* variables over the defaults; each a whole number (months or days, as its name says)."""
    # Imported here: schulden.retention imports the models, which may import the settings.
    from schulden.retention import ENVIRONMENT, RetentionTerms

    given: dict[str, int] = {}
    for name, variable in ENVIRONMENT.items():
        if env.get(variable):
            unit = "days" if name.endswith("_days") else "months"
            try:
                given[name] = int(env[variable])
            except ValueError:
                raise ConfigurationError(f"{variable} must be a whole number of {unit}") from None
    return RetentionTerms(**given)


def _integer(env: Mapping[str, str], name: str, default: str) -> int:
    try:
        return int(env.get(name) or default)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number") from None
