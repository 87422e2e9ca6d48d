"""Dutch formats for the pages (ecosystem.md 7): amounts in euros and dates, through Babel with locale nl_NL.

Templates use `{{ debt.amount_cents | euro }}` (€ 1.234,50, with a no-break space after the sign),
`{{ case.expected_release | datum }}` (27 april 2025: dates in prose, ux.md) and `| datum_kort` (27-04-2025, for a
column of many dates, where the eye compares them). Timestamps are shown in
Dutch time: flask-babel converts an aware datetime (ours are UTC) to Europe/Amsterdam before taking its date.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache

import flask_babel
from babel.numbers import format_currency
from flask import Flask
from markupsafe import Markup, escape

LOCALE = "nl_NL"
TIMEZONE = "Europe/Amsterdam"

babel = flask_babel.Babel()


def euro(cents: int | None) -> str:
    """Cents as a Dutch euro amount: 123450 -> '€\\xa01.234,50'; None (unknown) -> ''."""
    if cents is None:
        return ""
    return _euro(cents)


@lru_cache(maxsize=16384)
def _euro(cents: int) -> str:
    # Babel's currency formatting costs ~40 µs a call and a case page shows ~90 amounts (bench/pages.py found it
    # half the page's rendering time). The locale is fixed, so the result depends on the amount alone: cache it.
    return str(format_currency(Decimal(cents) / 100, "EUR", locale=LOCALE))


def datum(value: date | datetime | None) -> str:
    """A written-out Dutch date: 27 april 2025."""
    if value is None:
        return ""
    return str(flask_babel.format_date(value, "long"))


def datum_kort(value: date | datetime | None) -> str:
    """A short Dutch date: 27-04-2025."""
    if value is None:
        return ""
    return str(flask_babel.format_date(value, "short"))


def datum_tijd(value: datetime | None) -> str:
    """A Dutch date and time in Dutch time: 27 april 2025 om 14:05."""
    if value is None:
        return ""
    return str(flask_babel.format_datetime(value, "d MMMM yyyy 'om' HH:mm"))


def breakable(text: object) -> Markup:
    """The text, escaped, with a line-break opportunity after each "/": "Belastingdienst/Toeslagen" in a heading
    on a phone breaks after the slash, not in the middle of a word."""
    return Markup(str(escape(str(text))).replace("/", "/<wbr>"))  # noqa: S704 - escaped first, only <wbr> added


def init_app(app: Flask) -> None:
    # One locale and one time zone for everyone: the service is Dutch only.
    babel.init_app(app, default_locale=LOCALE, default_timezone=TIMEZONE)
    app.jinja_env.filters.update(
        euro=euro, datum=datum, datum_lang=datum, datum_kort=datum_kort, datum_tijd=datum_tijd, breakable=breakable
    )
