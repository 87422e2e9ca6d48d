"""One database session per request, rolled back and closed when the request ends."""

from __future__ import annotations

from flask import Flask, g
from sqlalchemy.orm import Session

from schulden.http.ports import runtime


def db_session() -> Session:
    """The request's session; a view ends with one commit (the transaction boundary)."""
    if "db_session" not in g:
        g.db_session = runtime().database.session()
    session: Session = g.db_session
    return session


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.rollback()
            session.close()
