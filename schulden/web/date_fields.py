"""A date typed as three boxes, dag / maand / jaar (GOV.UK "Dates", ux.md), read the same way on every form.

The creditor's reply page and the counsellor's answer entry both ask dates like this; one reader gives both the
same Dutch messages. The boxes of a field `name` are posted as `name-dag`, `name-maand` and `name-jaar`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

DATE_PARTS = ("dag", "maand", "jaar")
_PART_WORDS = ("de dag", "de maand", "het jaar")


def date_from_parts(
    values: Mapping[str, str], name: str, *, iso_fallback: bool = False
) -> tuple[str | None, str | None]:
    """The three boxes as an ISO date for the schemas, or (None, a Dutch message saying what to type); (None, None)
    when all three are empty. `iso_fallback`: with the boxes empty, take an ISO date posted under `name` itself (a
    program posting the form)."""
    parts = [(values.get(f"{name}-{part}") or "").strip() for part in DATE_PARTS]
    if not any(parts):
        return ((values.get(name) or None) if iso_fallback else None), None
    missing = [word for word, typed in zip(_PART_WORDS, parts, strict=True) if not typed]
    if missing:
        return None, f"Vul ook {' en '.join(missing)} in, bijvoorbeeld 4 12 2026."
    day, month, year = parts
    if not all(p.isascii() and p.isdigit() for p in parts) or len(year) != 4:
        return None, "Vul de datum in cijfers in: dag, maand en jaar (4 cijfers), bijvoorbeeld 4 12 2026."
    try:
        return date(int(year), int(month), int(day)).isoformat(), None
    except ValueError:
        return None, "Deze datum bestaat niet. Controleer de dag en de maand, bijvoorbeeld 4 12 2026."
