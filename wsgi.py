"""gunicorn entry point: `gunicorn wsgi:app`."""

from schulden.app import create_app

app = create_app()
