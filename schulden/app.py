"""The application factory: the one place that assembles Flask, the domain and the integrations."""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

# The composition root may import integrations; the domain modules never do.
from integrations import runtime
from integrations.assembly import build_runtime
from schulden.extensions import database
from schulden.http import ports
from schulden.logs import configure_logging
from schulden.processes import build_engine
from schulden.settings import Settings


def create_app(settings: Settings | None = None, *, check_database: bool = True) -> Flask:
    """Build a configured app. Tests pass their own Settings; otherwise they come from the environment, which
    must name its SCHULDROUTE_ENV (gunicorn's wsgi.py). In production the database is checked before anything is
    served (schulden/startup_checks.py); the CLI's maintenance commands pass check_database=False."""
    settings = settings or Settings.from_env()
    configure_logging(settings.log_level)
    app = Flask(__name__, instance_path=str(settings.instance_path.resolve()))
    if settings.trusted_proxies:
        # Behind the load balancer every TCP peer is the balancer. Each trusted proxy appends the address it saw
        # to X-Forwarded-For; take the one the outermost trusted proxy saw, so that a client cannot pick its own
        # address by sending the header itself (security.md 20). With 0, the headers are ignored.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.config.update(
        SECRET_KEY=settings.secret_key,
        # Bigger bodies are refused with 413 before they are parsed (security.md scenario 41).
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    # Keep the order of the schemas (id first, then the fields as documented), not alphabetical order.
    app.json.sort_keys = False  # type: ignore[attr-defined]
    database.configure(settings.database_url, **settings.database_engine_options)
    if settings.is_production and check_database:
        from schulden.startup_checks import check_production_database

        check_production_database(database.engine)
    # The app's ports, database and engine, bound once: the pages and the API read them through
    # schulden/http/ports.py. Jobs of this process (the in-process queue of the embedded default, or enqueueing to
    # Redis) use the same runtime; letters asked for in a request are enqueued when its transaction commits.
    rt = build_runtime(settings, database=database, engine=build_engine(settings))
    ports.bind(app, rt)
    runtime.configure(rt)

    _register_web(app)
    from schulden.api import jsonbody, make_api

    jsonbody.init_app(app)  # duplicate keys in a JSON body are refused (security.md 41)

    make_api(app)
    return app


def _register_web(app: Flask) -> None:
    from schulden.http import errors, requests
    from schulden.web import (
        access_export,
        account,
        admin,
        answers,
        assets,
        auth,
        cases,
        conditions,
        failed_letters,
        figures,
        filters,
        health,
        home,
        identity,
        insurance,
        intake,
        knooppunt,
        legal_hold,
        letter_texts,
        letters,
        metrics,
        municipality_settings,
        organisation_setup,
        referral_inbox,
        referrals,
        release,
        replies,
        security,
    )

    requests.init_app(app)
    errors.init_app(app)
    # CSRF is checked before the session is loaded: a form posted after the session expired still carries its
    # valid token, so it leads to the login page instead of being refused.
    security.init_app(app)
    auth.init_app(app)
    filters.init_app(app)
    assets.init_app(app)
    metrics.init_app(app)
    for pages in (
        health, home, account, cases, replies, admin, letter_texts, figures, intake, letters, referrals,
        referral_inbox, conditions, knooppunt, insurance, release, answers, municipality_settings, organisation_setup,
        metrics, legal_hold, identity,
    ):  # fmt: skip
        app.register_blueprint(pages.blp)
    app.register_blueprint(failed_letters.blp)
    access_export.init_app(app)  # the detainee's access overview, and the case page's section about it
