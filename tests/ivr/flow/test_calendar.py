"""Business hours and holidays, in the hotline's own time zone."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from ivr.flow.calendar import BusinessCalendar
from ivr.flow.models import BusinessHours


def calendar(**settings: object) -> BusinessCalendar:
    return BusinessCalendar.from_settings(BusinessHours.model_validate(settings))


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def test_no_hours_means_always_open_except_holidays() -> None:
    always = calendar(holidays=[{"date": "2026-12-25"}])
    assert always.is_open(utc(2026, 3, 1, 3, 0))
    assert not always.is_open(utc(2026, 12, 25, 12, 0))
    assert always.holiday(utc(2026, 12, 25, 12, 0)) == ""


def test_hours_are_local_to_the_time_zone() -> None:
    dubai = calendar(timezone="Asia/Dubai", hours={"mon-fri": ["08:00-20:00"]})
    assert not dubai.is_open(utc(2026, 3, 2, 3, 59))  # Monday 07:59 in Dubai
    assert dubai.is_open(utc(2026, 3, 2, 4, 0))  # 08:00
    assert not dubai.is_open(utc(2026, 3, 2, 16, 0))  # 20:00: the window's end is open
    assert not dubai.is_open(utc(2026, 3, 7, 8, 0))  # Saturday


def test_day_ranges_wrap_around_the_week() -> None:
    week = calendar(hours={"sun-thu": ["09:00-17:00"]})
    open_days = [d for d in range(1, 8) if week.is_open(utc(2026, 3, d, 12, 0))]
    assert open_days == [1, 2, 3, 4, 5]  # 2026-03-01 is a Sunday ... Thursday the 5th


def test_a_window_past_midnight_runs_into_the_next_day() -> None:
    nights = calendar(hours={"fri": ["22:00-06:00"], "sat": ["10:00-24:00"]})
    assert nights.is_open(utc(2026, 3, 6, 23, 0))  # Friday 23:00
    assert nights.is_open(utc(2026, 3, 7, 5, 59))  # Saturday 05:59
    assert not nights.is_open(utc(2026, 3, 7, 6, 0))
    assert nights.is_open(utc(2026, 3, 7, 23, 59))


def test_a_holiday_closes_by_local_date() -> None:
    dubai = calendar(
        timezone="Asia/Dubai",
        hours={"mon-sun": ["00:00-24:00"]},
        holidays=[{"date": "2026-12-02", "name": "National Day"}],
    )
    assert dubai.holiday(utc(2026, 12, 1, 20, 0)) == "National Day"  # 00:00 on the 2nd there
    assert not dubai.is_open(utc(2026, 12, 1, 20, 0))
    assert dubai.is_open(utc(2026, 12, 1, 19, 59))


@pytest.mark.parametrize(
    ("hours", "reason"),
    [
        ({"mon": ["08:00-08:00"]}, "is empty"),
        ({"mon": ["25:00-26:00"]}, "impossible time"),
        ({"monday": ["08:00-09:00"]}, "is not a day"),
        ({"mon-fri": ["08:00-09:00"], "fri": ["10:00-11:00"]}, "fri is in both"),
    ],
)
def test_hours_that_make_no_sense_are_refused(hours: object, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        BusinessHours.model_validate({"hours": hours})


def test_the_clock_must_know_its_time_zone() -> None:
    with pytest.raises(ValueError, match="aware"):
        calendar().is_open(dt.datetime(2026, 3, 2, 9, 0))
