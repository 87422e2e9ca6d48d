"""Small pieces every API module uses: roles, versions (ETag / If-Match), the audit origin, PDF downloads."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response, request
from werkzeug.exceptions import Forbidden, PreconditionFailed, PreconditionRequired

from schulden.actors import UserActor
from schulden.http.clients import client_address
from schulden.roles import Role


def require_role(actor: UserActor, roles: Iterable[Role], what: str = "deze actie") -> None:
    """403 when the actor's role may not do this at all (function level; object scope answers 404)."""
    if actor.role not in set(roles):
        raise Forbidden(f"Uw rol mag {what} niet uitvoeren.")


def etag_for(version: int) -> str:
    return f'"{version}"'


def check_if_match(current_version: int) -> None:
    """A write must name the version it was based on (If-Match); a stale one is refused, never overwritten."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired('Stuur de versie mee in If-Match (de ETag uit de laatste GET), bijv. If-Match: "3".')
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if "*" not in wanted and etag_for(current_version) not in wanted:
        raise PreconditionFailed(
            f"Dit is intussen gewijzigd (huidige versie {current_version}); "
            "haal het opnieuw op en probeer het nog eens."
        )


def origin() -> str | None:
    """The client's address for the audit row (schulden.http.clients, proxy-aware as the login limits are)."""
    return client_address()


def pdf_response(data: bytes, filename: str) -> Response:
    """A PDF download. The name is ours (ids and references), never a person's name or BSN (security.md 14)."""
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
