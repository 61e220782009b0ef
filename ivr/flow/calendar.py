"""Business hours and holidays in the hotline's time zone: is it open now?

The clock is injected (an aware ``datetime``), so tests and the simulator choose the time.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

from ivr.flow.fields import parse_window
from ivr.flow.models import BusinessHours, expand_days

Clock = Callable[[], dt.datetime]

_MIDNIGHT = dt.time(0, 0)


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class _Window:
    start: dt.time
    end: dt.time | None  # None: end of day


@dataclass(frozen=True)
class BusinessCalendar:
    timezone: zoneinfo.ZoneInfo
    #: weekday (Monday 0) -> windows that day, in local time (overnight ones split)
    days: dict[int, tuple[_Window, ...]]
    holidays: dict[dt.date, str]
    always_open: bool

    @classmethod
    def from_settings(cls, settings: BusinessHours) -> BusinessCalendar:
        days: dict[int, list[_Window]] = {}
        for spec, windows in settings.hours.items():
            for day in expand_days(spec):
                for text in windows:
                    start, end = parse_window(text)
                    if end is not None and end <= start:  # past midnight: split in two
                        days.setdefault(day, []).append(_Window(start, None))
                        days.setdefault((day + 1) % 7, []).append(_Window(_MIDNIGHT, end))
                    else:
                        days.setdefault(day, []).append(_Window(start, end))
        return cls(
            timezone=zoneinfo.ZoneInfo(settings.timezone),
            days={day: tuple(windows) for day, windows in days.items()},
            holidays={holiday.date: holiday.name for holiday in settings.holidays},
            always_open=not settings.hours,
        )

    def local(self, now: dt.datetime) -> dt.datetime:
        if now.tzinfo is None:
            raise ValueError("the clock must give aware datetimes")
        return now.astimezone(self.timezone)

    def holiday(self, now: dt.datetime) -> str | None:
        """The holiday's name (possibly "") if today is one, else None."""
        return self.holidays.get(self.local(now).date())

    def is_open(self, now: dt.datetime) -> bool:
        if self.holiday(now) is not None:
            return False
        if self.always_open:
            return True
        local = self.local(now)
        clock = local.time().replace(tzinfo=None)
        return any(
            window.start <= clock and (window.end is None or clock < window.end)
            for window in self.days.get(local.weekday(), ())
        )

    def today(self, now: dt.datetime) -> dt.date:
        return self.local(now).date()
