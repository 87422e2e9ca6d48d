"""Error answers: RFC 9457 problem+json for API and machine routes, a short Dutch page elsewhere."""

from __future__ import annotations

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

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
    429: "Te veel verzoeken",
    500: "Interne fout",
    503: "Dienst niet beschikbaar",
}


def wants_problem_json() -> bool:
    return request.path.startswith(("/api/", "/healthz")) or request.accept_mimetypes.best == "application/json"


def problem(status: int, detail: str | None = None, **extra: object) -> Response:
    body = {"type": "about:blank", "title": DUTCH_TITLES.get(status, "Fout"), "status": status}
    if detail:
        body["detail"] = detail
    body.update(extra)
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response | tuple[str, int]:
        status = exc.code or 500
        if wants_problem_json():
            return problem(status)
        return render_template("error.html", status=status, title=DUTCH_TITLES.get(status, "Fout")), status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response | tuple[str, int]:
        app.logger.error("unhandled error", extra={"error": type(exc).__name__, "path": request.path})
        if wants_problem_json():
            return problem(500)
        return render_template("error.html", status=500, title=DUTCH_TITLES[500]), 500
