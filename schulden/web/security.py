"""Headers on every response and CSRF protection for every web form (security.md 18-20, scenarios 11 and 12).

CSRF is a synchronizer token of our own rather than flask-wtf: the forms are validated by the marshmallow schemas
the API uses, so WTForms (which flask-wtf brings) would only be carried along, and flask-wtf's tokens expire after an
hour by default, which loses a long intake form typed in a PI. Ours is 256 random bits kept in the signed session
cookie, replaced at every login (the session is cleared then), compared in constant time, and checked on every
unsafe method outside the JSON API. The API is exempt: it authenticates with bearer tokens only, never with the
cookie, so a cross-site request cannot borrow a user's rights there.

The CSRF check reads the form, so the size limit of a request must be known before it runs: the app-wide
MAX_CONTENT_LENGTH (1 MB) holds for every view except those marked with `body_limit` (the creditor's PDF
upload), whose own limit is set on the request before anything touches the body.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, Response, current_app, render_template, request, session
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import BadRequest

from schulden.http import ports
from schulden.settings import Settings

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_CSRF_SESSION_KEY = "csrf"
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Paths that authenticate with bearer tokens only (never the session cookie), so CSRF cannot reach them.
CSRF_EXEMPT_PREFIXES = ("/api/",)

# No inline script or style anywhere: the pages link only our own files. The Utrecht CSS draws its checkbox and
# select icons as data: SVG images, hence img-src data:.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
    ]
)
HSTS = "max-age=31536000; includeSubDomains"
#: Endpoints whose answers are the same for everyone (CSS): these may be cached, everything else is no-store.
CACHEABLE_ENDPOINTS = frozenset({"static", "vendor.file"})
_BODY_LIMIT_ATTRIBUTE = "schuldroute_body_limit"

View = TypeVar("View", bound=Callable[..., ResponseReturnValue])


def body_limit(max_bytes: int) -> Callable[[View], View]:
    """Let this view take a request body of up to `max_bytes` instead of MAX_CONTENT_LENGTH (put it under the
    route decorator). Werkzeug then refuses a bigger body with 413 when the form is first read, before it is
    read into memory; the view's blueprint may turn that 413 into a page of its own."""

    def mark(view: View) -> View:
        setattr(view, _BODY_LIMIT_ATTRIBUTE, max_bytes)
        return view

    return mark


def _apply_body_limit() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, _BODY_LIMIT_ATTRIBUTE, None)
    if isinstance(limit, int):
        request.max_content_length = limit


class CsrfRefused(BadRequest):
    """A form came without this session's token: from another site, a stale tab, or an expired session."""

    description = (
        "Het formulier kon niet worden verwerkt: het is verlopen of niet vanaf deze site verstuurd. "
        "Ga terug, vernieuw de pagina en probeer het opnieuw."
    )


def csrf_token() -> str:
    """This session's CSRF token, made on first use (templates call it through the csrf_field macro)."""
    token = session.get(_CSRF_SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[_CSRF_SESSION_KEY] = token
    return token


def _check_csrf() -> None:
    if request.method not in _UNSAFE_METHODS or request.path.startswith(CSRF_EXEMPT_PREFIXES):
        return
    expected = session.get(_CSRF_SESSION_KEY)
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not isinstance(expected, str) or not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise CsrfRefused()


def _set_headers(response: Response) -> Response:
    settings: Settings = ports.settings()
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    # No page's address (case ids, a reply link's token) leaves in a Referer header.
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")  # for browsers older than frame-ancestors
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    # Pages and API answers may hold personal data; a view that knows better (reference data) sets its own.
    if request.endpoint not in CACHEABLE_ENDPOINTS and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    if settings.is_production:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    """Check CSRF before any view (and before the session is loaded), set the headers after every response."""
    # First of all: the CSRF check reads the form, which must already be under the view's own size limit.
    app.before_request_funcs.setdefault(None, []).insert(0, _apply_body_limit)
    app.before_request(_check_csrf)
    app.after_request(_set_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csrf_field_name"] = CSRF_FIELD

    @app.errorhandler(CsrfRefused)
    def _csrf_refused(exc: CsrfRefused) -> ResponseReturnValue:
        from schulden.http.errors import problem, wants_problem_json

        if wants_problem_json():
            return problem(400, exc.description)
        return render_template("auth/csrf.html", message=exc.description), 400
