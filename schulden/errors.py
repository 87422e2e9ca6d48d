"""Domain exceptions. The web layer maps each to one HTTP answer (RFC 9457 problem JSON in the API)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DomainError(Exception):
    """Base of the errors a user can cause and read about."""


class ValidationFailed(DomainError):
    """Input broke a rule; `errors` maps each field to its Dutch messages."""

    def __init__(self, errors: Mapping[str, Sequence[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = {k: list(v) for k, v in errors.items()}


class NotPermitted(DomainError):
    """The actor's role may never do this (function level: 403); an object out of scope is NotFound instead."""


class NotFound(DomainError):
    """The object does not exist, or is outside the actor's scope (the same answer for both)."""

    def __init__(self, object_type: str, object_id: int | str | None) -> None:
        super().__init__(f"{object_type} {object_id} not found")
        self.object_type = object_type
        self.object_id = object_id
