"""Checks a production process makes against its database before it serves a request or runs a job.

Settings.validate checks what the environment says; this checks what the database holds. The web app
(create_app, so gunicorn's wsgi.py) and the rq worker (integrations/worker.py) run it in production. The CLI's
maintenance commands do not: `schuldroute db upgrade` must work on an empty database.
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect, select

from schulden.settings import ConfigurationError


def check_production_database(engine: Engine | None) -> None:
    """The checks a production web app or worker makes before it starts; on refusal its connections are closed."""
    assert engine is not None, "configure the database first"
    try:
        refuse_demo_accounts(engine)
    except Exception:
        engine.dispose()  # close the checked connection: this process does not start
        raise


def refuse_demo_accounts(engine: Engine) -> None:
    """Refuse a database that holds the demo's accounts: anyone who read the README knows their password.

    Fails closed: a database without our schema, or one that cannot be reached, stops the start as well.
    """
    # Imported here: the demo module pulls in the domain services, which the settings layer must not need.
    from schulden.demo import DEMO_USERS
    from schulden.users.models import User

    with engine.connect() as connection:
        if not inspect(connection).has_table(User.__tablename__):
            raise ConfigurationError(
                "the database has no Schuldroute schema: run `schuldroute db upgrade` before starting"
            )
        found = connection.scalars(
            select(User.username).where(User.username.in_([username for username, *_ in DEMO_USERS]))
        ).all()
    if found:
        raise ConfigurationError(
            f"the database holds the demo accounts ({', '.join(sorted(found))}, password 'demo'): it was seeded "
            "with `schuldroute seed-demo` and must not serve production. Point DATABASE_URL at the production "
            "database, or start from an empty one (`schuldroute db upgrade`, `schuldroute reference load`)"
        )
