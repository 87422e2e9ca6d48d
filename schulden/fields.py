"""Schema building blocks with Dutch messages, and the identifier and amount fields of our domain.

Every message names the rule that was broken, so the caller knows what to change.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

from marshmallow import Schema, ValidationError, fields, pre_load, validate
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.nl import bsn as stdnum_bsn
from stdnum.nl import postcode as stdnum_postcode

from schulden.amounts import MAX_CENTS

DUTCH_FIELD_MESSAGES = {
    "required": "Dit veld is verplicht.",
    "null": "Dit veld mag niet leeg (null) zijn.",
    "validator_failed": "Ongeldige waarde.",
    "invalid": "Ongeldige waarde voor dit soort veld.",
    "invalid_utf8": "Geen geldige UTF-8-tekst.",
    "too_large": "Getal te groot.",
    "format": "Kan niet als datum worden weergegeven.",
    "type": "Ongeldig type.",
    "special": "Speciale getallen (NaN, oneindig) zijn niet toegestaan.",
}
# Per field class, the 'invalid' message says what was expected.
INVALID_BY_CLASS = {
    fields.Integer: "Geen geldig geheel getal.",
    fields.Date: "Geen geldige datum; gebruik JJJJ-MM-DD, bijvoorbeeld 2026-11-28.",
    fields.Boolean: "Geen geldige waarde ja/nee (true of false).",
    fields.String: "Geen geldige tekst.",
    fields.List: "Geen geldige lijst.",
    fields.Email: "Geen geldig e-mailadres.",
    fields.Dict: "Geen geldig object.",
}


class DutchSchema(Schema):
    """Base schema: unknown fields are refused, and every message is Dutch."""

    class Meta:
        ordered = True

    error_messages = {"unknown": "Onbekend veld.", "type": "Ongeldige invoer: verwacht een JSON-object."}  # noqa: RUF012

    @pre_load
    def _refuse_nul(self, data: Any, **kwargs: Any) -> Any:
        """A NUL character has no place in any text we take, and PostgreSQL refuses it: say so per field."""
        items = data.items() if hasattr(data, "items") else []
        errors = {
            str(key): ["Bevat een NUL-teken (\\x00); dat is niet toegestaan."]
            for key, value in items
            if _has_nul(value) or _has_nul(key)
        }
        if errors:
            raise ValidationError(errors)
        return data

    def on_bind_field(self, field_name: str, field_obj: fields.Field[Any]) -> None:
        messages = dict(field_obj.error_messages)
        for key in messages:
            if key in DUTCH_FIELD_MESSAGES:
                messages[key] = DUTCH_FIELD_MESSAGES[key]
        for cls, text in INVALID_BY_CLASS.items():
            if isinstance(field_obj, cls) and "invalid" in messages:
                messages["invalid"] = text
        field_obj.error_messages = messages
        # Email and Url build their validator (with its English message) when the field is made: rebuild it.
        if isinstance(field_obj, fields.Email):
            field_obj.validators = [
                v if not isinstance(v, validate.Email) else validate.Email(error=str(messages["invalid"]))
                for v in field_obj.validators
            ]
        if isinstance(field_obj, fields.Url):
            field_obj.validators = [
                v if not isinstance(v, validate.URL) else validate.URL(error="Geen geldige URL.", schemes=v.schemes)
                for v in field_obj.validators
            ]


def _has_nul(value: Any) -> bool:
    # Nested objects are checked by their own (nested) schema, which can then name the exact field.
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(isinstance(v, str) and "\x00" in v for v in value)
    return False


def length(minimum: int | None = None, maximum: int | None = None) -> validate.Length:
    """A length rule with a Dutch message."""
    if minimum and maximum:
        text = f"Lengte moet tussen {minimum} en {maximum} tekens liggen."
    elif maximum:
        text = f"Maximaal {maximum} tekens."
    else:
        text = f"Minimaal {minimum} teken(s)."
    return validate.Length(min=minimum, max=maximum, error=text)


def one_of(choices: list[str] | tuple[str, ...]) -> validate.OneOf:
    """A choice rule with a Dutch message listing the options."""
    return validate.OneOf(choices, error="Kies een van: " + ", ".join(choices) + ".")


# Control characters (C0/C1), bidirectional overrides and other format characters have no place in a name:
# they can disguise text in letters and logs.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


class Name(fields.String):
    """A person's name: NFC-normalised (the IJ ligature and accents kept), trimmed, no control characters."""

    def __init__(self, *, maximum: int = 200, **kwargs: Any) -> None:
        super().__init__(validate=length(1, maximum), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = unicodedata.normalize("NFC", super()._deserialize(value, attr, data, **kwargs)).strip()
        if _FORBIDDEN.search(text):
            raise ValidationError("Bevat onzichtbare of stuurtekens; typ de naam zonder die tekens.")
        if not any(ch.isalpha() for ch in text):
            raise ValidationError("Een naam bevat minstens één letter.")
        return text


class PlainText(fields.String):
    """Free text: NFC, no control characters except line breaks and tabs."""

    def __init__(self, *, maximum: int = 5000, **kwargs: Any) -> None:
        super().__init__(validate=length(None, maximum), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = unicodedata.normalize("NFC", super()._deserialize(value, attr, data, **kwargs))
        # Line breaks and tabs are fine in a note; other control and direction characters are not.
        if _FORBIDDEN.search(text.replace("\n", " ").replace("\r", " ").replace("\t", " ")):
            raise ValidationError("Bevat onzichtbare of stuurtekens.")
        return text.strip()


class Bsn(fields.String):
    """A BSN: accepted with spaces, dots or dashes, checked with the 11-proef, stored compact (9 digits)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise ValidationError('Geef het BSN als tekst, bijvoorbeeld "111222333".')
        raw = value.strip()
        # Digits with single spaces, dots or dashes between them (1112.22.333), nothing before or after.
        if not re.fullmatch(r"[0-9](?:[ .\-]?[0-9]){7,8}", raw):
            raise ValidationError("Een BSN bestaat uit 9 cijfers (spaties, punten en streepjes mogen).")
        try:
            return str(stdnum_bsn.validate(raw))
        except StdnumError:
            raise ValidationError("Dit BSN klopt niet: de elfproef faalt.") from None


class Postcode(fields.String):
    """A Dutch postcode, stored as '1234 AB' (python-stdnum's canonical form)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str) or not re.fullmatch(r"[0-9]{4} ?[A-Za-z]{2}", value.strip()):
            raise ValidationError("Een postcode is 4 cijfers en 2 letters, bijvoorbeeld 1234 AB.")
        try:
            return str(stdnum_postcode.validate(value.strip()))
        except StdnumError:
            raise ValidationError(
                "Deze postcode bestaat niet (geen 0 vooraan; SA, SD en SS worden niet uitgegeven)."
            ) from None


#: The largest id a URL or a field may name: PostgreSQL's integer. Beyond it a URL matches no route (404) and a
#: field is refused (422), instead of overflowing in the database.
MAX_ID = 2**31 - 1


class Id(fields.Integer):
    """A reference to a row by its id: a whole JSON number from 1 to MAX_ID."""

    def __init__(self, *, strict: bool = True, **kwargs: Any) -> None:
        # strict: a JSON body must send a number; a query string (strict=False) can only send text.
        super().__init__(
            strict=strict,
            validate=validate.Range(min=1, max=MAX_ID, error=f"Een id is een geheel getal van 1 tot en met {MAX_ID}."),
            **kwargs,
        )


class Cents(fields.Integer):
    """An amount in euro cents: a whole, non-negative JSON number (12,50 euro is 1250)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            strict=True,
            validate=validate.Range(
                min=0, max=MAX_CENTS, error=f"Bedrag in centen tussen 0 en {MAX_CENTS} (dus 12,50 euro is 1250)."
            ),
            **kwargs,
        )

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("Bedrag in hele centen als getal, zonder komma of punt (12,50 euro is 1250).")
        return int(super()._deserialize(value, attr, data, **kwargs))


class Day(fields.Date):
    """A calendar date within a sane range (no year 0, no year 9999 typos)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        day: date = super()._deserialize(value, attr, data, **kwargs)
        if not date(1900, 1, 1) <= day <= date(2100, 12, 31):
            raise ValidationError("Datum buiten het bereik 1900-2100.")
        return day


class DjiNumber(fields.String):
    """DJI's registration number: opaque, but printable and short."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            validate=validate.Regexp(
                r"^[A-Za-z0-9./ -]{1,40}$", error="Letters, cijfers, punt, streep of spatie; maximaal 40 tekens."
            ),
            **kwargs,
        )
