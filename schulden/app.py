"""The application factory: the one place that assembles Flask, the domain and the integrations."""

from __future__ import annotations

from flask import Flask

from schulden.extensions import database, workflow
from schulden.logs import configure_logging
from schulden.processes import build_engine
from schulden.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    """Build a configured app. Tests pass their own Settings; otherwise they come from the environment."""
    # The composition root may import integrations; the domain modules never do.
    from integrations.queue import make_queue

    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = Flask(__name__, instance_path=str(settings.instance_path.resolve()))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # Bigger bodies are refused with 413 before they are parsed (security.md scenario 41).
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    # Keep the order of the schemas (id first, then the fields as documented), not alphabetical order.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["schuldroute.settings"] = settings
    database.configure(settings.database_url)
    workflow.engine = build_engine(settings)
    app.extensions["schuldroute.queue"] = make_queue(settings.redis_url)

    _register_web(app)
    from schulden.api import make_api

    app.extensions["schuldroute.api"] = make_api(app)
    return app


def _register_web(app: Flask) -> None:
    from schulden.web import errors, health, home, requests

    requests.init_app(app)
    errors.init_app(app)
    app.register_blueprint(health.blp)
    app.register_blueprint(home.blp)
