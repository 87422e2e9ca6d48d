"""Who does something: passed explicitly to every service, recorded in history and audit rows."""

from __future__ import annotations

from dataclasses import dataclass

from schulden.roles import Role
from workflows import SYSTEM, SystemActor

__all__ = ["SYSTEM", "CreditorActor", "SystemActor", "UserActor"]


@dataclass(frozen=True)
class UserActor:
    """A signed-in user. The history refers to people by internal id only, never by name."""

    user_id: int
    role: Role
    organisation_id: int | None = None

    @property
    def actor_id(self) -> str:
        return f"user:{self.user_id}"

    @property
    def roles(self) -> frozenset[str]:
        return frozenset({self.role.value})


@dataclass(frozen=True)
class CreditorActor:
    """A creditor answering one letter through its reply code or QR link; no account, scope is that letter."""

    letter_id: int
    organisation_id: None = None

    @property
    def actor_id(self) -> str:
        return f"creditor:letter:{self.letter_id}"

    @property
    def roles(self) -> frozenset[str]:
        return frozenset({"creditor"})
