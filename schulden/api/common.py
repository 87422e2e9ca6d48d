"""Small pieces every API module uses: roles, versions (ETag / If-Match), keyset cursors, the audit origin."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable
from typing import Any

from flask import Response, request
from marshmallow import fields, validate
from werkzeug.exceptions import Forbidden, PreconditionFailed, PreconditionRequired

from schulden.actors import UserActor
from schulden.errors import ValidationFailed
from schulden.fields import DutchSchema
from schulden.roles import Role


def require_role(actor: UserActor, roles: Iterable[Role], what: str = "deze actie") -> None:
    """403 when the actor's role may not do this at all (function level; object scope answers 404)."""
    if actor.role not in set(roles):
        raise Forbidden(f"Uw rol mag {what} niet uitvoeren.")


def etag_for(version: int) -> str:
    return f'"{version}"'


def with_etag(response: Response, version: int) -> Response:
    response.headers["ETag"] = etag_for(version)
    return response


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


BAD_CURSOR = "Ongeldige cursor; gebruik de waarde van 'next' uit het vorige antwoord."


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationFailed(
            {"after": ["Ongeldige cursor; gebruik de waarde van 'next' uit het vorige antwoord."]}
        ) from None
    if not isinstance(values, list) or len(values) != size or any(isinstance(v, str) and "\x00" in v for v in values):
        raise ValidationFailed({"after": [BAD_CURSOR]})
    return values


class PageArgs(DutchSchema):
    """Keyset pagination: `limit` rows after the opaque cursor `after` (no OFFSET, no exact count)."""

    limit = fields.Integer(
        load_default=50, validate=validate.Range(min=1, max=200, error="Kies een limit van 1 tot en met 200.")
    )
    after = fields.String(load_default=None, validate=validate.Length(max=500, error="Maximaal 500 tekens."))


def origin() -> str | None:
    return request.remote_addr


def pdf_response(data: bytes, filename: str) -> Response:
    """A PDF download. The name is ours (ids and references), never a person's name or BSN (security.md 14)."""
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
