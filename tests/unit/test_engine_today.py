"""Engine.today: the date a deadline counts from is Amsterdam's, not UTC's."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from workflows import Engine, Registry

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def _engine(at: datetime) -> Engine:
    return Engine(Registry(), clock=lambda: at)


def test_half_past_midnight_in_amsterdam_is_already_tomorrow() -> None:
    winter = datetime(2026, 12, 4, 23, 30, tzinfo=UTC)  # 00:30 CET
    summer = datetime(2026, 6, 4, 22, 30, tzinfo=UTC)  # 00:30 CEST
    assert _engine(winter).today() == date(2026, 12, 5)
    assert _engine(summer).today() == date(2026, 6, 5)


def test_a_given_moment_wins_over_the_clock() -> None:
    engine = _engine(datetime(2026, 12, 4, 12, tzinfo=UTC))
    assert engine.today(datetime(2027, 1, 1, 8, tzinfo=UTC)) == date(2027, 1, 1)


# Hypothesis's bounds are naive by its API: they bound the wall time in the given zone.
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))  # noqa: DTZ001
def test_today_is_the_wall_calendar_date_in_amsterdam(moment: datetime) -> None:
    today = _engine(moment).today()
    assert today == moment.astimezone(AMSTERDAM).date()
    assert moment.date() - timedelta(days=1) <= today <= moment.date() + timedelta(days=1)
