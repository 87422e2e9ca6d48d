"""Amounts in euro as people type them, read into whole cents: the one parser for every form (and any caller).

The rule (docs/input.md): digits with Dutch separators and nothing else.

- a comma separates the cents: `12,5` and `12,50` are € 12,50; at most two digits after it;
- a dot followed by exactly three digits separates thousands: `1.234` and `1.234,50`; the groups must be complete
  (`12.34.567` is refused) and the first group does not start with 0;
- a dot followed by exactly two digits, in an amount without a comma or other dots, is read as the decimal sign
  (`12.50` is € 12,50): it cannot be a thousands separator, and it is what a copied English-style amount looks like;
- an optional `€` in front, and spaces around (also no-break spaces);
- from € 0,00 to € 10.000.000,00 (MAX_CENTS), the bound the API's `Cents` fields take too; the columns are BIGINT,
  so every accepted amount fits.

Everything else is refused with a ValueError whose Dutch message names the rule: signs, exponents (`1e3`, `1,5e3`),
`NaN`, `Infinity`, `sNaN`, spaces between digits, digits other than 0-9 (full-width, Arabic-Indic), more than two
decimals. No Decimal or float is ever made of the input, so no special value can slip through.
"""

from __future__ import annotations

import re

#: The largest amount we accept anywhere (web forms and API): ten million euro, far above any detainee's debt and
#: far below the 2^63 cents a BIGINT column holds.
MAX_CENTS = 1_000_000_000

# [0-9], not \d: in Python \d also matches full-width and Arabic-Indic digits.
_GROUPED = re.compile(r"(?P<euros>[1-9][0-9]{0,2}(?:\.[0-9]{3})+)(?:,(?P<cents>[0-9]{1,2}))?")
_PLAIN = re.compile(r"(?P<euros>[0-9]+)(?:,(?P<cents>[0-9]{1,2}))?")
_DOT_DECIMAL = re.compile(r"(?P<euros>[0-9]+)\.(?P<cents>[0-9]{2})")
_TOO_MANY_DECIMALS = re.compile(r"[0-9.]*,[0-9]{3,}")
#: Longer than any amount up to MAX_CENTS can be written ("€ 10.000.000,00" plus spaces): refused unread.
_MAX_LENGTH = 40
_SEPARATED_DIGITS = frozenset("0123456789.,")

RULE = (
    "Vul een bedrag in euro in met alleen cijfers, een komma voor de centen en eventueel punten tussen de "
    "duizendtallen, bijvoorbeeld 1.234,50."
)
TOO_MANY_DECIMALS = "Vul een bedrag in euro in met hooguit twee cijfers achter de komma, bijvoorbeeld 1.234,50."
NEGATIVE = "Vul een bedrag in euro in zonder min- of plusteken; een bedrag is nooit negatief."


def format_euro(cents: int) -> str:
    """Whole cents as the Dutch text the parser reads back: 123450 -> '1.234,50' (no currency sign)."""
    if cents < 0:
        raise ValueError("een bedrag is nooit negatief")
    euros, rest = divmod(cents, 100)
    return f"{euros:,}".replace(",", ".") + f",{rest:02d}"


TOO_LARGE = f"Vul een bedrag in euro in van hoogstens € {format_euro(MAX_CENTS)}."


def euro_to_cents(text: str) -> int:
    """An amount as typed ('€ 1.234,50', '12,5', '12.50', '0') in whole cents; ValueError with a Dutch message."""
    if not isinstance(text, str):
        raise ValueError(RULE)
    value = text.strip()
    if value.startswith("€"):
        value = value[1:].lstrip()
    if len(value) > _MAX_LENGTH:
        raise ValueError(TOO_LARGE if set(value) <= _SEPARATED_DIGITS else RULE)
    match = _GROUPED.fullmatch(value) or _PLAIN.fullmatch(value) or _DOT_DECIMAL.fullmatch(value)
    if match is None:
        if value[:1] in ("-", "+", "\u2212"):
            raise ValueError(NEGATIVE)
        if _TOO_MANY_DECIMALS.fullmatch(value):
            raise ValueError(TOO_MANY_DECIMALS)
        raise ValueError(RULE)
    euros = int(match["euros"].replace(".", ""))
    cents = euros * 100 + int((match["cents"] or "0").ljust(2, "0"))
    if cents > MAX_CENTS:
        raise ValueError(TOO_LARGE)
    return cents
