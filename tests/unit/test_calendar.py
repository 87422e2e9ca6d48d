"""Tests for the Dutch working-day calendar (Algemene termijnenwet art. 3)."""

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import holidays
import pytest
from dateutil.easter import easter
from hypothesis import given, settings
from hypothesis import strategies as st

import workflows.calendar as calendar_module
from workflows.calendar import BusinessCalendar, dutch_calendar

ORACLE_YEARS = range(2000, 2041)
# Hypothesis stays inside the oracle's years: 600 working days is under 2.5 years.
days = st.dates(min_value=date(2000, 1, 1), max_value=date(2038, 12, 31))
counts = st.integers(min_value=0, max_value=600)
# Deadlines are never timed: the first call for a year builds caches, which must not trip a deadline.
untimed = settings(deadline=None)


def atw_oracle(year: int) -> dict[date, list[str]]:
    """Atw art. 3 days computed independently of the holidays package, from dateutil's Easter."""
    sunday = easter(year)
    if year >= 2014:
        royal, royal_name = date(year, 4, 27), "Koningsdag"
    else:
        royal, royal_name = date(year, 4, 30), "Koninginnedag"
    if royal.weekday() == 6:  # Celebrated on the Saturday before when it falls on a Sunday.
        royal -= timedelta(days=1)
    result: dict[date, list[str]] = {}
    for day, name in [
        (date(year, 1, 1), "Nieuwjaarsdag"),
        (sunday - timedelta(days=2), "Goede Vrijdag"),
        (sunday + timedelta(days=1), "Tweede Paasdag"),
        (royal, royal_name),
        (date(year, 5, 5), "Bevrijdingsdag"),
        (sunday + timedelta(days=39), "Hemelvaartsdag"),
        (sunday + timedelta(days=50), "Tweede Pinksterdag"),
        (date(year, 12, 25), "Eerste Kerstdag"),
        (date(year, 12, 26), "Tweede Kerstdag"),
    ]:
        result.setdefault(day, []).append(name)
    return result


ORACLE_CLOSED = frozenset(day for year in range(1999, 2045) for day in atw_oracle(year))


def oracle_working(day: date) -> bool:
    return day.weekday() < 5 and day not in ORACLE_CLOSED


def oracle_add(day: date, n: int) -> date:
    """Walk day by day: slow but obviously right."""
    while n > 0:
        day += timedelta(days=1)
        n -= oracle_working(day)
    return day


@pytest.fixture
def cal() -> BusinessCalendar:
    return dutch_calendar()


# --- Examples a user would recognise -------------------------------------------------------------


def test_ten_working_days_over_christmas_and_new_year(cal: BusinessCalendar) -> None:
    # Fri 18 Dec 2026: 21-24 Dec (4), 25 Dec Christmas (Fri), 26 Dec Boxing Day (Sat), 28-31 Dec (8),
    # 1 Jan New Year (Fri), Mon 4 Jan (9), Tue 5 Jan (10).
    assert cal.add_working_days(date(2026, 12, 18), 10) == date(2027, 1, 5)


def test_three_working_days_after_23_december(cal: BusinessCalendar) -> None:
    # Thu 24 (1), Fri 25 Christmas, weekend, Mon 28 (2), Tue 29 (3).
    assert cal.add_working_days(date(2026, 12, 23), 3) == date(2026, 12, 29)


def test_easter_2026(cal: BusinessCalendar) -> None:
    # Thu 2 Apr; Good Friday 3 Apr, weekend, Easter Monday 6 Apr; then Tue 7 (1), Wed 8 (2), Thu 9 (3).
    start = date(2026, 4, 2)
    assert cal.add_working_days(start, 1) == date(2026, 4, 7)
    assert cal.add_working_days(start, 2) == date(2026, 4, 8)
    assert cal.add_working_days(start, 3) == date(2026, 4, 9)
    assert cal.holiday_name(date(2026, 4, 3)) == "Goede Vrijdag"
    assert cal.holiday_name(date(2026, 4, 6)) == "Tweede Paasdag"


def test_zero_working_days_returns_the_day_itself_even_when_closed(cal: BusinessCalendar) -> None:
    assert cal.add_working_days(date(2026, 4, 3), 0) == date(2026, 4, 3)  # Good Friday
    assert cal.add_working_days(date(2026, 4, 4), 0) == date(2026, 4, 4)  # Saturday


def test_start_day_never_counts(cal: BusinessCalendar) -> None:
    assert cal.add_working_days(date(2026, 3, 2), 1) == date(2026, 3, 3)  # Mon -> Tue
    assert cal.add_working_days(date(2026, 3, 6), 1) == date(2026, 3, 9)  # Fri -> Mon
    assert cal.add_working_days(date(2026, 3, 7), 1) == date(2026, 3, 9)  # Sat -> Mon


def test_kings_day_2025_is_saturday_26_april(cal: BusinessCalendar) -> None:
    # 27 April 2025 is a Sunday, so King's Day is celebrated on Saturday 26 April.
    assert cal.holidays_in(2025)[date(2025, 4, 26)] == "Koningsdag"
    assert cal.holiday_name(date(2025, 4, 26)) == "Koningsdag"  # named even though it is a Saturday
    assert cal.holiday_name(date(2025, 4, 27)) is None
    assert not cal.is_working_day(date(2025, 4, 26))
    # No substitute day: Monday 28 April 2025 is an ordinary working day.
    assert cal.is_working_day(date(2025, 4, 28))
    assert cal.add_working_days(date(2025, 4, 25), 1) == date(2025, 4, 28)


def test_queens_day_before_2014(cal: BusinessCalendar) -> None:
    assert cal.holiday_name(date(2013, 4, 30)) == "Koninginnedag"
    assert cal.holiday_name(date(2006, 4, 29)) == "Koninginnedag"  # 30 April 2006 was a Sunday


@pytest.mark.parametrize("year", [2025, 2026, 2027, 2028, 2029, 2030])
def test_liberation_day_every_year(cal: BusinessCalendar, year: int) -> None:
    liberation = date(year, 5, 5)
    assert cal.holiday_name(liberation) == "Bevrijdingsdag"
    assert liberation in cal.holidays_in(year)
    if liberation.weekday() < 5:
        assert not cal.is_working_day(liberation)


def test_liberation_day_2026_and_2027_are_not_working_days(cal: BusinessCalendar) -> None:
    assert not cal.is_working_day(date(2026, 5, 5))  # Tuesday
    assert not cal.is_working_day(date(2027, 5, 5))  # Wednesday
    assert cal.add_working_days(date(2026, 5, 4), 1) == date(2026, 5, 6)


def test_coinciding_days_keep_both_names(cal: BusinessCalendar) -> None:
    # Easter 2016 was 27 March, so Ascension Day fell on 5 May.
    assert cal.holiday_name(date(2016, 5, 5)) == "Bevrijdingsdag en Hemelvaartsdag"


def test_holidays_in_2026(cal: BusinessCalendar) -> None:
    assert cal.holidays_in(2026) == {
        date(2026, 1, 1): "Nieuwjaarsdag",
        date(2026, 4, 3): "Goede Vrijdag",
        date(2026, 4, 6): "Tweede Paasdag",
        date(2026, 4, 27): "Koningsdag",
        date(2026, 5, 5): "Bevrijdingsdag",
        date(2026, 5, 14): "Hemelvaartsdag",
        date(2026, 5, 25): "Tweede Pinksterdag",
        date(2026, 12, 25): "Eerste Kerstdag",
        date(2026, 12, 26): "Tweede Kerstdag",
    }


def test_sundays_of_easter_and_pentecost_are_not_listed(cal: BusinessCalendar) -> None:
    assert cal.holiday_name(date(2026, 4, 5)) is None  # Easter Sunday: a Sunday anyway
    assert cal.holiday_name(date(2026, 5, 24)) is None  # Whit Sunday


def test_holidays_in_returns_a_copy(cal: BusinessCalendar) -> None:
    cal.holidays_in(2026).clear()
    assert len(cal.holidays_in(2026)) == 9


def test_weeks_landing_on_kings_day_move_to_next_working_day(cal: BusinessCalendar) -> None:
    # Mon 30 March 2026 + 4 weeks = Mon 27 April 2026, King's Day -> Tue 28 April.
    assert cal.add_weeks(date(2026, 3, 30), 4) == date(2026, 4, 28)


def test_weeks_landing_on_good_friday_skip_the_whole_easter_weekend(cal: BusinessCalendar) -> None:
    # Fri 6 March 2026 + 4 weeks = Good Friday 3 April; Easter Monday 6 April is closed too.
    assert cal.add_weeks(date(2026, 3, 6), 4) == date(2026, 4, 7)


def test_weeks_on_ordinary_days(cal: BusinessCalendar) -> None:
    assert cal.add_weeks(date(2026, 3, 4), 2) == date(2026, 3, 18)  # Wednesday stays Wednesday
    assert cal.add_weeks(date(2026, 3, 4), 0) == date(2026, 3, 4)
    assert cal.add_weeks(date(2026, 3, 7), 1) == date(2026, 3, 16)  # Saturday rolls to Monday
    assert cal.add_weeks(date(2026, 4, 30), 2) == date(2026, 5, 15)  # Ascension Day -> Friday


def test_next_working_day(cal: BusinessCalendar) -> None:
    assert cal.next_working_day(date(2026, 3, 4)) == date(2026, 3, 4)
    assert cal.next_working_day(date(2026, 4, 3)) == date(2026, 4, 7)  # Good Friday
    assert cal.next_working_day(date(2026, 12, 25)) == date(2026, 12, 28)


def test_working_days_between(cal: BusinessCalendar) -> None:
    assert cal.working_days_between(date(2026, 12, 18), date(2027, 1, 5)) == 10
    assert cal.working_days_between(date(2026, 4, 2), date(2026, 4, 9)) == 3
    assert cal.working_days_between(date(2026, 3, 6), date(2026, 3, 9)) == 1  # Fri -> Mon
    assert cal.working_days_between(date(2026, 3, 9), date(2026, 3, 9)) == 0
    assert cal.working_days_between(date(2026, 3, 9), date(2026, 3, 2)) == 0
    # 2026: 261 weekdays, of which 8 are Atw days (Boxing Day is a Saturday).
    assert cal.working_days_between(date(2025, 12, 31), date(2026, 12, 31)) == 253


@pytest.mark.parametrize("method", ["add_working_days", "add_weeks"])
def test_negative_n_is_rejected(cal: BusinessCalendar, method: str) -> None:
    with pytest.raises(ValueError, match="n must be >= 0"):
        getattr(cal, method)(date(2026, 3, 4), -1)


def test_extra_closed_days() -> None:
    # E.g. the Friday after Ascension Day, equated to a holiday by decree (Atw art. 3 lid 3).
    bridge = date(2026, 5, 15)
    cal = BusinessCalendar(extra_closed_days=[bridge])
    assert not cal.is_working_day(bridge)
    assert cal.holiday_name(bridge) is None  # not an Atw day by itself
    assert bridge not in cal.holidays_in(2026)
    assert cal.add_working_days(date(2026, 5, 13), 1) == date(2026, 5, 18)
    assert dutch_calendar().add_working_days(date(2026, 5, 13), 1) == bridge


def test_dutch_calendar_is_shared() -> None:
    assert dutch_calendar() is dutch_calendar()


def test_dates_beyond_the_package_range_are_refused() -> None:
    with pytest.raises(ValueError, match="2101"):
        BusinessCalendar().is_working_day(date(2101, 1, 3))


# --- Independent oracle ----------------------------------------------------------------------------


@pytest.mark.parametrize("year", ORACLE_YEARS)
def test_holidays_match_independent_oracle(cal: BusinessCalendar, year: int) -> None:
    expected = atw_oracle(year)
    actual = cal.holidays_in(year)
    assert set(actual) == set(expected)
    for day, names in expected.items():
        assert set(actual[day].split(" en ")) == set(names), day


# --- Guarding against changes in the holidays package -----------------------------------------------


@pytest.fixture
def fresh_holiday_cache() -> Iterator[None]:
    calendar_module._atw_holidays.cache_clear()
    yield
    calendar_module._atw_holidays.cache_clear()


@pytest.mark.usefixtures("fresh_holiday_cache")
def test_unknown_package_days_are_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    real = holidays.country_holidays

    def with_extra_day(*args: Any, **kwargs: Any) -> holidays.HolidayBase:
        found = real(*args, **kwargs)
        found[date(2026, 6, 29)] = "Veterans Day"  # a Monday
        return found

    monkeypatch.setattr(holidays, "country_holidays", with_extra_day)
    cal = BusinessCalendar()
    assert cal.is_working_day(date(2026, 6, 29))
    assert set(cal.holidays_in(2026)) == set(atw_oracle(2026))


@pytest.mark.usefixtures("fresh_holiday_cache")
def test_renamed_package_day_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    real = holidays.country_holidays

    def with_renamed_day(*args: Any, **kwargs: Any) -> holidays.HolidayBase:
        found = real(*args, **kwargs)
        found.pop(date(2026, 5, 25))
        found[date(2026, 5, 25)] = "Whit Monday"
        return found

    monkeypatch.setattr(holidays, "country_holidays", with_renamed_day)
    with pytest.raises(RuntimeError, match="Tweede Pinksterdag"):
        BusinessCalendar().is_working_day(date(2026, 5, 25))


# --- Properties ------------------------------------------------------------------------------------


@untimed
@given(day=days, n=counts)
def test_add_working_days_matches_day_by_day_walk(day: date, n: int) -> None:
    assert dutch_calendar().add_working_days(day, n) == oracle_add(day, n)


@untimed
@given(day=days, n=st.integers(min_value=1, max_value=600))
def test_add_working_days_lands_on_working_day_after_start(day: date, n: int) -> None:
    cal = dutch_calendar()
    result = cal.add_working_days(day, n)
    assert result > day
    assert cal.is_working_day(result)


@untimed
@given(day=days, n=counts)
def test_working_days_between_inverts_add(day: date, n: int) -> None:
    cal = dutch_calendar()
    assert cal.working_days_between(day, cal.add_working_days(day, n)) == n


@untimed
@given(day=days, a=counts, b=counts)
def test_add_working_days_is_monotonic(day: date, a: int, b: int) -> None:
    cal = dutch_calendar()
    low, high = sorted((a, b))
    if low < high:
        assert cal.add_working_days(day, low) < cal.add_working_days(day, high)
    else:
        assert cal.add_working_days(day, low) == cal.add_working_days(day, high)


@untimed
@given(day=days, a=st.integers(0, 300), b=st.integers(0, 300))
def test_add_working_days_composes(day: date, a: int, b: int) -> None:
    cal = dutch_calendar()
    assert cal.add_working_days(day, a + b) == cal.add_working_days(cal.add_working_days(day, a), b)


@untimed
@given(start=days, end=days)
def test_working_days_between_counts_day_by_day(start: date, end: date) -> None:
    expected = sum(oracle_working(start + timedelta(days=i)) for i in range(1, (end - start).days + 1))
    assert dutch_calendar().working_days_between(start, end) == expected


@untimed
@given(day=days, n=st.integers(min_value=0, max_value=100))
def test_add_weeks_rolls_forward_to_first_working_day(day: date, n: int) -> None:
    cal = dutch_calendar()
    target = day + timedelta(weeks=n)
    result = cal.add_weeks(day, n)
    assert cal.is_working_day(result)
    # At most Thu-Sun (Christmas on Thursday) or Fri-Mon (Easter) is closed in a row.
    assert 0 <= (result - target).days <= 4
    assert not any(cal.is_working_day(target + timedelta(days=i)) for i in range((result - target).days))


@untimed
@given(day=days)
def test_next_working_day_is_first_working_day_from_day(day: date) -> None:
    cal = dutch_calendar()
    result = cal.next_working_day(day)
    assert result == cal.add_working_days(day - timedelta(days=1), 1)
    assert cal.is_working_day(result)
    assert oracle_working(result)


@untimed
@given(day=days, n=counts, closed=st.frozensets(days, max_size=20))
def test_extra_closed_days_are_never_deadlines(day: date, n: int, closed: frozenset[date]) -> None:
    cal = BusinessCalendar(extra_closed_days=closed)
    result = cal.add_working_days(day, n)
    assert n == 0 or result not in closed
    assert cal.working_days_between(day, result) == n
