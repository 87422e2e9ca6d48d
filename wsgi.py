"""gunicorn entry point: `gunicorn wsgi:app`.

The settings come from the environment, which must name SCHULDROUTE_ENV: gunicorn never starts as development
with the embedded default's key. In production the app refuses unsafe settings and a database that holds the demo
accounts before the first request (docs/operations.md).
"""

from schulden.app import create_app

app = create_app()
