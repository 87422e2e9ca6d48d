"""The database and engine of a process that is not the web app (rq workers, cron), built once from settings."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from schulden.db import Database
from schulden.processes import build_engine
from schulden.settings import Settings
from workflows import Engine


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    database: Database
    engine: Engine


@cache
def runtime() -> Runtime:
    """Read the settings from the environment once per process and connect."""
    settings = Settings.from_env()
    database = Database()
    database.configure(settings.database_url)
    return Runtime(settings, database, build_engine(settings))
