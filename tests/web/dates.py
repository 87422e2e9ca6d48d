"""Dates as three boxes dag / maand / jaar (ux.md "Dates", the macro forms.date_field) in the web tests: fill them
in a browser, post them with the test client, and read back what a page shows in them."""

from __future__ import annotations

import html
import re
from datetime import date
from typing import Any

PARTS = (("dag", "Dag"), ("maand", "Maand"), ("jaar", "Jaar"))
#: A field's name (detention.start, from) rather than its legend (Begin detentie, Van): legends start upper case.
_FIELD_NAME = re.compile(r"[a-z][a-z0-9_.]*")


def _day(day: date | str) -> date:
    return day if isinstance(day, date) else date.fromisoformat(day)


def fill_date(page: Any, legend_or_name: str, day: date | str) -> None:
    """Type `day` (a date or ISO text) into the three boxes of the date field with this legend ("Begin detentie",
    exact) or this field name ("detention.start"), as a person does: day, month and year without leading zeros."""
    day = _day(day)
    for box, value in zip(_boxes(page, legend_or_name), (day.day, day.month, day.year), strict=True):
        box.fill(str(value))


def _boxes(page: Any, legend_or_name: str) -> list[Any]:
    """The Dag, Maand and Jaar boxes of the date field with this legend or field name (see fill_date)."""
    if _FIELD_NAME.fullmatch(legend_or_name):
        field = "veld-" + legend_or_name.replace(".", "-")
        return [page.locator(f"#{field}-{part}") for part, _ in PARTS]
    group = page.get_by_role("group", name=legend_or_name, exact=True)
    return [group.get_by_label(label, exact=True) for _, label in PARTS]


def read_date(page: Any, legend_or_name: str) -> date:
    """The date the three boxes of this date field show (a date the page proposes, or one typed)."""
    day, month, year = (int(box.input_value()) for box in _boxes(page, legend_or_name))
    return date(year, month, day)


def date_form(name: str, day: date | str) -> dict[str, str]:
    """The form fields a browser posts for `day` typed into the boxes of field `name`."""
    day = _day(day)
    return {f"{name}-dag": str(day.day), f"{name}-maand": str(day.month), f"{name}-jaar": str(day.year)}


def box_values(page: str, name: str) -> tuple[str, str, str]:
    """What the boxes of date field `name` show on this HTML page: (dag, maand, jaar), empty for an empty box."""
    found = []
    for part, _ in PARTS:
        tag = re.search(rf'<input[^>]*\bname="{re.escape(name)}-{part}"[^>]*>', page)
        assert tag is not None, f"no box {name}-{part} on the page"
        value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
        found.append(html.unescape(value.group(1)) if value else "")
    return found[0], found[1], found[2]


def shown(day: date) -> tuple[str, str, str]:
    """The boxes' values when a page proposes or shows back `day`: no leading zeros."""
    return str(day.day), str(day.month), str(day.year)
