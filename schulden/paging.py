"""Keyset pagination shared by the pages and the API: the query arguments and the opaque cursor.

A cursor is the sort key of the last row shown, base64 of its JSON; there is no OFFSET and no exact count, so a
list stays fast on 30,000 cases and a page does not shift when rows are added before it.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from marshmallow import fields, validate

from schulden.errors import ValidationFailed
from schulden.fields import DutchSchema

BAD_CURSOR = "Ongeldige cursor; gebruik de waarde van 'next' uit het vorige antwoord."


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values, default=str).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValidationFailed({"after": [BAD_CURSOR]}) from None
    if not isinstance(values, list) or len(values) != size or any(isinstance(v, str) and "\x00" in v for v in values):
        raise ValidationFailed({"after": [BAD_CURSOR]})
    return values


class PageArgs(DutchSchema):
    """Keyset pagination: `limit` rows after the opaque cursor `after` (no OFFSET, no exact count)."""

    limit = fields.Integer(
        load_default=50, validate=validate.Range(min=1, max=200, error="Kies een limit van 1 tot en met 200.")
    )
    after = fields.String(load_default=None, validate=validate.Length(max=500, error="Maximaal 500 tekens."))
