"""Unbound shared objects; create_app binds them (cookiecutter-flask's extensions idiom)."""

from __future__ import annotations

from dataclasses import dataclass, field

from schulden.db import Database
from schulden.processes import build_engine
from workflows import Engine

database = Database()


@dataclass
class WorkflowHolder:
    """Holds the engine configured from the app's settings (the referral window is a setting)."""

    engine: Engine = field(default_factory=build_engine)


workflow = WorkflowHolder()
