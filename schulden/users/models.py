"""A user account. One role per account; the organisation sets the scope of what the user may see."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, false
from sqlalchemy.orm import Mapped, mapped_column

from schulden.db import Base
from schulden.roles import Role
from workflows.store import utcnow

_ROLE_VALUES = ", ".join(f"'{r.value}'" for r in Role)


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    organisation_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id", ondelete="RESTRICT"))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A password an administrator chose (CLI or Beheer) is changed by its user at the first login (docs/accounts.md).
    must_change_password: Mapped[bool] = mapped_column(default=False, server_default=false())
    # TOTP (RFC 6238): the secret encrypted with a key derived from SECRET_KEY (schulden/users/totp.py); set but
    # not confirmed while enrolment is under way. The last accepted time step makes each code single-use.
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_confirmed_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None]

    __table_args__ = (CheckConstraint(f"role IN ({_ROLE_VALUES})", name="role_known"),)

    @property
    def totp_enabled(self) -> bool:
        return self.totp_secret is not None and self.totp_confirmed_at is not None


class RecoveryCode(Base):
    """A single-use recovery code for the second factor; only a scrypt hash is stored (ASVS 6.5.2: < 112 bits)."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class ApiToken(Base):
    """A bearer token for machines. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="RESTRICT"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]


class LoginAttempt(Base):
    """Every login attempt, for rate limiting across processes and for the security log (ASVS 16.3.1)."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    remote_addr: Mapped[str | None] = mapped_column(String(45))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    success: Mapped[bool]
    # Refused unchecked because a limit held: logged, but not counted, so hammering a lock does not extend it.
    refused: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (
        Index("ix_login_attempt_username_at", "username", "at"),
        Index("ix_login_attempt_remote_addr_at", "remote_addr", "at"),
    )
