"""Error answers: RFC 9457 problem+json (Dutch) for the API and machine routes, a short Dutch page elsewhere.

Domain errors map to one status each: ValidationFailed 422 (a message per field), NotFound 404 (and an
`authz_denied` audit row, since out of scope and absent answer alike), TransitionRefused 409 (with the reason),
ConcurrentUpdate and stale versions 409, a wrong If-Match 412, a missing If-Match 428.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from schulden.errors import NotFound, ValidationFailed
from workflows import ConcurrentUpdate, TransitionRefused

log = logging.getLogger(__name__)

#: Seconds a client is told to wait after a 503 of an unreachable database: about the pool and connect timeouts.
RETRY_AFTER_SECONDS = 5

DUTCH_TITLES = {
    400: "Ongeldig verzoek",
    401: "Niet aangemeld",
    403: "Geen toegang",
    404: "Niet gevonden",
    405: "Methode niet toegestaan",
    409: "Conflict",
    412: "Voorwaarde niet vervuld",
    413: "Verzoek te groot",
    415: "Type niet ondersteund",
    422: "Ongeldige invoer",
    428: "Voorwaarde vereist",
    429: "Te veel verzoeken",
    500: "Interne fout",
    503: "Dienst niet beschikbaar",
}
DUTCH_DETAILS = {
    405: "Deze methode is niet toegestaan op dit adres.",
    413: "Het verzoek is groter dan 1 MB.",
    415: "Stuur JSON met Content-Type: application/json.",
}


def wants_problem_json() -> bool:
    return request.path.startswith(("/api/", "/healthz")) or request.accept_mimetypes.best == "application/json"


def problem(status: int, detail: str | None = None, **extra: Any) -> Response:
    """An RFC 9457 problem document with a Dutch title."""
    body: dict[str, Any] = {"type": "about:blank", "title": DUTCH_TITLES.get(status, "Fout"), "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    response.headers["Cache-Control"] = "no-store"
    return response


def field_errors(messages: Any) -> dict[str, list[str]]:
    """webargs nests errors by location ({"json": {"field": [...]}}); callers want field -> messages."""
    if isinstance(messages, dict) and set(messages) <= {"json", "query", "headers", "form", "files", "path"}:
        flat: dict[str, list[str]] = {}
        for location_errors in messages.values():
            flat.update(field_errors(location_errors))
        return flat
    if isinstance(messages, dict):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            if isinstance(value, dict):
                for sub, sub_msgs in field_errors(value).items():
                    out[f"{key}.{sub}"] = sub_msgs
            else:
                out[str(key)] = [str(v) for v in (value if isinstance(value, list) else [value])]
        return out
    return {"_schema": [str(messages)]}


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | tuple[str, int]:
        status = exc.code or 500
        data = getattr(exc, "data", None)
        if wants_problem_json():
            if status == 422 and data and "messages" in data:
                return problem(422, "Controleer de invoer.", errors=field_errors(data["messages"]))
            if status == 400 and data and "messages" in data:
                return problem(400, "Het verzoek is geen geldige JSON.", errors=field_errors(data["messages"]))
            detail = DUTCH_DETAILS.get(status) or (exc.description if status in (401, 403, 412, 428, 429) else None)
            if status == 403:
                # A function-level refusal (the role may never do this), logged apart from the 404s of scope.
                record_denied(NotFound("route", None), action="authz_forbidden")  # the endpoint is in details
            response = problem(status, detail)
            if status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            return response
        return render_template("error.html", status=status, title=DUTCH_TITLES.get(status, "Fout")), status

    @app.errorhandler(ValidationFailed)
    def _invalid(exc: ValidationFailed) -> Response:
        return problem(422, "Controleer de invoer.", errors=exc.errors)

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Response | tuple[str, int]:
        record_denied(exc)
        if wants_problem_json():
            return problem(404)
        # A page gets the Dutch 404 page, the same for absent and out of scope.
        return render_template("error.html", status=404, title=DUTCH_TITLES.get(404, "Niet gevonden")), 404

    @app.errorhandler(TransitionRefused)
    def _refused(exc: TransitionRefused) -> Response | tuple[str, int]:
        if wants_problem_json():
            return problem(409, exc.reason, event=exc.event, code=exc.code)
        return render_template("error.html", status=409, title=DUTCH_TITLES.get(409, "Niet mogelijk"),
                               detail=exc.reason), 409  # fmt: skip

    @app.errorhandler(ConcurrentUpdate)
    @app.errorhandler(StaleDataError)
    def _conflict(exc: Exception) -> Response:
        return problem(409, "Iemand anders heeft dit zojuist gewijzigd; haal het opnieuw op en probeer het nog eens.")

    app.register_error_handler(OperationalError, database_unavailable)
    app.register_error_handler(InterfaceError, database_unavailable)
    app.register_error_handler(PoolTimeout, database_unavailable)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response | tuple[str, int]:
        # With the traceback's frames but not the exception's message, and without anything from the request but
        # its method and path (reply tokens in the path are redacted): schulden/logs.py, security.md 13 and 17.
        log.error("unhandled error", exc_info=exc, extra={"method": request.method, "path": request.path})
        if wants_problem_json():
            return problem(500)
        return render_template("error.html", status=500, title=DUTCH_TITLES[500]), 500


def database_unavailable(exc: Exception) -> Response | tuple[str, int, dict[str, str]]:
    """The database is down, did not answer within the timeouts (Settings.database_*_timeout), cancelled a statement
    that ran too long, or every pooled connection is busy: 503 with Retry-After, never a 500 (issue 14). The request
    is safe to repeat, since nothing of it was committed."""
    cause = getattr(exc, "orig", None) or exc
    log.warning("database unavailable",
                extra={"error": type(cause).__name__, "method": request.method, "path": request.path})  # fmt: skip
    detail = "De database is even niet bereikbaar. Probeer het over enkele seconden opnieuw; er is niets opgeslagen."
    if wants_problem_json():
        response = problem(503, detail)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    page = render_template("error.html", status=503, title=DUTCH_TITLES[503], detail=detail)
    return page, 503, {"Retry-After": str(RETRY_AFTER_SECONDS), "Cache-Control": "no-store"}


def record_denied(exc: NotFound, action: str = "authz_denied") -> None:
    """An out-of-scope (or absent) object was asked for: log it. The request's own transaction is rolled back
    first (nothing else of the request may be kept) and the audit row is committed on its own."""
    actor = g.get("actor")
    if actor is None:
        return
    from schulden.audit import record
    from schulden.http.requests import db_session

    # The request's session, not a second one: on SQLite a second writer would wait for this one's lock.
    session = db_session()
    session.rollback()
    record(
        session,
        actor=actor,
        action=action,
        object_type=exc.object_type,
        object_id=exc.object_id,
        result="denied",
        origin=request.remote_addr,
        details={"method": request.method, "endpoint": request.endpoint or ""},
    )
    session.commit()
