"""Dutch working-day calendar per the Algemene termijnenwet (Atw).

A working day is Monday to Friday that is not an "algemeen erkende feestdag": the days listed in
Atw art. 3 lid 1 plus Good Friday, which art. 3 lid 2 puts on the same footing. Days the Crown
equates by decree under art. 3 lid 3 (e.g. the Friday after Ascension Day in some years) are not
derived automatically; pass them as ``extra_closed_days``.
"""

import functools
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from itertools import accumulate
from types import MappingProxyType
from typing import Final

import holidays

# The Atw days as named by python-holidays with language="en_US", mapped to the Dutch names we
# expose. Only these are kept: the package may add more days to "public"/"optional" later, and
# those must not silently close our working days.
#
# Why filter by name rather than by dates we compute ourselves: self-computed dates would freeze
# today's rules, while the package is maintained to follow the law (e.g. art. 3 lid 1 says "the
# day on which the King's birthday is celebrated", which moves with the monarch). The weak spot
# of names is a rename in the package, which would silently drop a holiday and make deadlines
# too early; _atw_holidays therefore fails loudly when a required day is missing.
# The language is passed explicitly because without it the package picks its output language
# from the process environment (LANGUAGE, LC_ALL, LC_MESSAGES, LANG).
_ATW_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "New Year's Day": "Nieuwjaarsdag",
        "Good Friday": "Goede Vrijdag",  # art. 3 lid 2
        "Easter Monday": "Tweede Paasdag",
        "King's Day": "Koningsdag",  # since 2014: 27 April, 26 April when the 27th is a Sunday
        "Queen's Day": "Koninginnedag",  # until 2013: 30 April, 29 April when the 30th is a Sunday
        "Liberation Day": "Bevrijdingsdag",  # every year, not only in lustrum years
        "Ascension Day": "Hemelvaartsdag",
        "Pentecost Monday": "Tweede Pinksterdag",
        "Christmas Day": "Eerste Kerstdag",
        "Second Day of Christmas": "Tweede Kerstdag",
    }
)
# Each year has exactly one royal day (Koningsdag or Koninginnedag) and all of the others.
_ROYAL_DAYS: Final = frozenset({"Koningsdag", "Koninginnedag"})
_REQUIRED_DAYS: Final = frozenset(_ATW_NAMES.values()) - _ROYAL_DAYS
# 5 May was added to art. 3 lid 1 in 1982; from then on every year must have all the days.
_COMPLETE_FROM_YEAR: Final = 1982


@functools.cache
def _atw_holidays(year: int) -> Mapping[date, str]:
    """Return the Atw days of ``year`` with Dutch names (cached: building them takes ~0.1 ms)."""
    # The package lists 5 May under "public" only in lustrum years (2025, 2030, ...) and under
    # "optional" every year since 1982, so both categories are needed.
    found = holidays.country_holidays("NL", categories=("public", "optional"), years=year, language="en_US")
    # Past its end_year (2100 in 0.109) the package returns no days at all; refuse rather than
    # treat Christmas as a working day.
    if year > found.end_year:
        raise ValueError(f"no holiday data for {year}; the holidays package stops at {found.end_year}")
    days: dict[date, str] = {}
    names: set[str] = set()
    for day in sorted(found):
        # Days can coincide (5 May was Ascension Day in 2005 and 2016); the package then joins the
        # names with "; ", so ask for the list instead of matching the joined string.
        on_day = found.get_list(day)
        if dutch := [nl for en, nl in _ATW_NAMES.items() if en in on_day]:
            days[day] = " en ".join(dutch)
            names.update(dutch)
    missing = _REQUIRED_DAYS - names | ({"Koningsdag"} if names.isdisjoint(_ROYAL_DAYS) else set())
    if year >= _COMPLETE_FROM_YEAR and missing:
        raise RuntimeError(f"holidays package lacks Atw days for {year}: {sorted(missing)}")
    return MappingProxyType(days)


class BusinessCalendar:
    """Working days per Algemene termijnenwet.

    Dates after the last year the holidays package covers (2100) raise ValueError.
    """

    def __init__(self, *, extra_closed_days: Iterable[date] = ()) -> None:
        """Create a calendar; ``extra_closed_days`` are additional days off (closures, art. 3 lid 3)."""
        self._extra_closed: frozenset[date] = frozenset(extra_closed_days)
        # Per year: running count of working days from 1 January up to and including each day.
        # This turns counting into a subtraction and "N-th working day" into a binary search, so a
        # timer tick computing thousands of deadlines never walks day by day. Concurrent builds of
        # the same year produce equal tuples, so an unlocked dict is safe.
        self._running: dict[int, tuple[int, ...]] = {}

    def is_working_day(self, day: date) -> bool:
        """Return whether ``day`` is Monday-Friday and neither an Atw day nor an extra closed day."""
        return day.weekday() < 5 and day not in _atw_holidays(day.year) and day not in self._extra_closed

    def holiday_name(self, day: date) -> str | None:
        """Return the Dutch name of the Atw day on ``day`` (also on weekends), else None."""
        return _atw_holidays(day.year).get(day)

    def holidays_in(self, year: int) -> dict[date, str]:
        """Return the Atw days of ``year`` with their Dutch names, whether on a weekday or not."""
        return dict(_atw_holidays(year))

    def add_working_days(self, day: date, n: int) -> date:
        """Return the n-th working day strictly after ``day``; ``day`` itself never counts, n=0 returns it."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        if n == 0:
            return day
        year, running = day.year, self._running_count(day.year)
        target = running[self._index(day)] + n
        while target > running[-1]:
            target -= running[-1]
            year += 1
            running = self._running_count(year)
        # The first index reaching the target count is the day that made it: a working day.
        return date(year, 1, 1) + timedelta(days=bisect_left(running, target))

    def add_weeks(self, day: date, n: int) -> date:
        """Return the same weekday ``n`` weeks later, moved to the next working day if needed."""
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return self.next_working_day(day + timedelta(weeks=n))

    def next_working_day(self, day: date) -> date:
        """Return ``day`` if it is a working day, else the first working day after it."""
        return day if self.is_working_day(day) else self.add_working_days(day, 1)

    def working_days_between(self, start: date, end: date) -> int:
        """Return the number of working days d with start < d <= end (0 if end <= start)."""
        if end <= start:
            return 0
        full_years = sum(self._running_count(year)[-1] for year in range(start.year, end.year))
        return (
            full_years
            + self._running_count(end.year)[self._index(end)]
            - self._running_count(start.year)[self._index(start)]
        )

    @staticmethod
    def _index(day: date) -> int:
        return day.toordinal() - date(day.year, 1, 1).toordinal()

    def _running_count(self, year: int) -> tuple[int, ...]:
        running = self._running.get(year)
        if running is None:
            jan1 = date(year, 1, 1)
            length = (date(year, 12, 31) - jan1).days + 1
            flags = (int(self.is_working_day(jan1 + timedelta(days=i))) for i in range(length))
            running = self._running[year] = tuple(accumulate(flags))
        return running


@functools.cache
def dutch_calendar() -> BusinessCalendar:
    """Return the shared default calendar (Atw days only, no extra closed days)."""
    return BusinessCalendar()
