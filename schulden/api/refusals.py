"""The domain's refusals as HTTP answers, for resources whose operation may refuse by role or by state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from werkzeug.exceptions import Conflict, Forbidden

from schulden.errors import NotPermitted


@contextmanager
def http_refusals(*conflicts: type[Exception]) -> Iterator[None]:
    """A role that may never do this answers 403 (as api.common.require_role); the `conflicts` (a transition not
    possible from the object's state, nothing to do) answer 409, each with its Dutch text."""
    try:
        yield
    except NotPermitted as exc:
        raise Forbidden(str(exc)) from exc
    except conflicts as exc:
        raise Conflict(str(exc)) from exc
