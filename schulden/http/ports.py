"""The app's Runtime (schulden/ports.py) for the pages and the API: its ports, settings, database and engine.

The app factory binds it once (`bind`); this module is the one place that knows where Flask keeps it.
"""

from __future__ import annotations

from flask import Flask, current_app

from schulden.ports import Runtime
from schulden.settings import Settings

#: The one key under app.extensions that is ours.
_KEY = "schuldroute.runtime"


def bind(app: Flask, runtime_: Runtime) -> None:
    """Give `app` its runtime; create_app calls this once, before anything asks."""
    app.extensions[_KEY] = runtime_


def runtime(app: Flask | None = None) -> Runtime:
    """The runtime of `app`, or of the app handling the current request or command."""
    found: Runtime = (app or current_app).extensions[_KEY]
    return found


def settings(app: Flask | None = None) -> Settings:
    """The settings the app was built with."""
    return runtime(app).settings
