"""Unbound shared objects; create_app binds them (cookiecutter-flask's extensions idiom)."""

from __future__ import annotations

from schulden.db import Database

#: The process's database. One object for every app the process builds: create_app configures it again, which
#: disposes of the previous app's connection pool instead of leaving it open. Reach it through the app's Runtime
#: (schulden/http/ports.py); the engine and the other ports live only there.
database = Database()
