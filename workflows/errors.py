"""Errors the engine raises; each carries a message a user can read (Dutch) and a stable code."""

from __future__ import annotations


class WorkflowError(Exception):
    """Base class for everything the engine refuses or cannot do."""


class UnknownProcess(WorkflowError):
    """No process definition with that name (and version) is registered."""


class DefinitionError(WorkflowError):
    """A process definition contradicts itself (unknown state, duplicate transition, ...)."""


class TransitionRefused(WorkflowError):
    """The event may not fire now. `code` says why in one word, `reason` in a sentence for the user.

    Codes: ``unknown_event``, ``state`` (not possible in the current state), ``role`` (the actor's roles may not
    fire it), ``guard`` (a business rule refused), ``reason_required``.
    """

    def __init__(self, event: str, code: str, reason: str) -> None:
        super().__init__(f"{event}: {reason}")
        self.event = event
        self.code = code
        self.reason = reason


class ConcurrentUpdate(WorkflowError):
    """Another transaction changed the instance first; reload and try again.

    Raised instead of overwriting: two fires on one instance can never both win.
    """

    def __init__(self, instance_id: int | None) -> None:
        super().__init__(
            f"Dit dossier is zojuist door iemand anders gewijzigd (instantie {instance_id}); laad het opnieuw."
        )
        self.instance_id = instance_id


class ReplayError(WorkflowError):
    """A stored history cannot be replayed under its process definition."""
