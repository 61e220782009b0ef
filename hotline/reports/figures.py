"""A historical report's figures: the event log folded a local day at a time
(``acd.kpi_report.DayFold``, the live page's definitions), days added into the report's
periods (15-minute interval, day, ISO week, month), and FCR and CSAT from the history store
(``HistoryRepository.fcr_by_channel`` and ``.csat``, as the live page reads them).

Only one day's events are in memory at once: each day is read in batches
(``history.event_log.events_since`` with its day's bounds), folded, and reduced to the
cells of its periods. A closed day's cells are kept in memory (``CACHE_DAYS``, least
recently used first out; per SL policy), so a month's report reads only the days it has
not folded before; nothing is stored (a restart folds them again). Days are local days of
the report's time zone, as the live page's *today* is; a day's figures are those the live
page showed at its end (today's: now).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncEngine

from acd.kpi import SlPolicy
from acd.kpi_recount import CapacityOf
from acd.kpi_report import ALL, DayFold, Figures, Row, figures_row
from acd.logged_events import record_of, run_of
from history.event_log import events_since
from history.inputs import Channel
from history.records import FcrRate
from history.satisfaction import FCR_WINDOW_DAYS, QualityStore
from hotline.web.supervisor.kpi_log import KPI_KINDS

__all__ = [
    "GRAINS",
    "MAX_DAYS",
    "MAX_INTERVAL_DAYS",
    "Grain",
    "Quality",
    "Report",
    "ReportFigures",
    "ReportRequest",
    "period_start",
]

Grain = Literal["interval", "day", "week", "month"]
GRAINS: tuple[Grain, ...] = ("interval", "day", "week", "month")
INTERVAL_S = 900.0
#: The longest range one report covers, and at 15-minute intervals.
MAX_DAYS = 400
MAX_INTERVAL_DAYS = 7
#: Closed days kept folded in memory (a few hundred kB each), and when a day is closed.
CACHE_DAYS = 62
CLOSED_AFTER = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class ReportRequest:
    first: date
    last: date
    grain: Grain = "day"
    by: str = "queue"

    def __post_init__(self) -> None:
        days = (self.last - self.first).days + 1
        if days < 1:
            raise ValueError("the range ends before it starts")
        limit = MAX_INTERVAL_DAYS if self.grain == "interval" else MAX_DAYS
        if days > limit:
            raise ValueError(f"at most {limit} days at this grain")

    def days(self) -> Iterator[date]:
        day = self.first
        while day <= self.last:
            yield day
            day += timedelta(days=1)


@dataclass(frozen=True, slots=True)
class Quality:
    """FCR and CSAT of a period (and grouping key) from the history."""

    fcr: float | None = None
    fcr_contacts: int = 0
    csat: float | None = None
    csat_responses: int = 0


@dataclass(slots=True)
class Report:
    request: ReportRequest
    tz: tzinfo
    #: When the figures were taken (today's run up to then).
    as_of: datetime
    #: (period start, local) in order, and each row of the table.
    periods: list[datetime] = field(default_factory=list)
    rows: list[tuple[Row, Quality]] = field(default_factory=list)
    events: int = 0
    #: Days whose figures came from the cache of closed days (their events not read again).
    cached_days: int = 0
    wall_s: float = 0.0


def period_start(at: datetime, grain: Grain) -> datetime:
    """The start of the period ``at`` (local, with its zone) falls in."""
    if grain == "interval":
        minute = at.minute - at.minute % 15
        return at.replace(minute=minute, second=0, microsecond=0)
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    if grain == "day":
        return day
    if grain == "week":
        return _local(day.date() - timedelta(days=day.weekday()), at.tzinfo)
    return day.replace(day=1)


def _local(day: date, tz: tzinfo | None) -> datetime:
    """Local midnight of ``day`` (its UTC offset for that date, DST included)."""
    naive = datetime(day.year, day.month, day.day)
    return naive.replace(tzinfo=tz) if tz is not None else naive.astimezone()


class ReportFigures:
    """Reports from the event log (``engine``) and the history (``quality``)."""

    def __init__(
        self,
        engine: AsyncEngine,
        quality: QualityStore,
        *,
        policy: Callable[[], SlPolicy],
        capacity: CapacityOf | None = None,
        now: Callable[[], datetime] = lambda: datetime.now().astimezone(),
        batch: int = 5000,
        cache_days: int = CACHE_DAYS,
    ) -> None:
        self._engine = engine
        self._quality = quality
        self._policy = policy
        self._capacity = capacity
        self._now = now
        self._batch = batch
        self.unreadable = 0
        #: Closed days' figures per interval (and events read), most recently used last.
        self._closed: OrderedDict[tuple[float, str], tuple[dict[float, Figures], int]] = (
            OrderedDict()
        )
        self._cache_days = cache_days

    async def report(
        self, request: ReportRequest, tz: tzinfo | None = None, *, as_of: datetime | None = None
    ) -> Report:
        """``as_of``: the figures as they were then (not after now): today's figures move
        with the clock, and a CSV asked for after the page must hold the page's figures."""
        started = time.perf_counter()
        now = self._now()
        if as_of is not None and as_of < now:
            now = as_of
        tz = tz or now.tzinfo
        assert tz is not None
        policy = self._policy()
        periods: dict[datetime, Figures] = {}
        report = Report(request, tz, now)
        for day in request.days():
            lo = _local(day, tz)
            hi = _local(day + timedelta(days=1), tz)
            if lo > now:
                break
            if request.grain != "interval":  # a quiet day is a row of zeros, not no row
                periods.setdefault(period_start(lo, request.grain), Figures())
            intervals, events = await self._day(lo, hi, now, policy, report)
            report.events += events
            for interval, figures in intervals.items():
                local = datetime.fromtimestamp(interval, tz)
                periods.setdefault(period_start(local, request.grain), Figures()).add(figures)
        for start in sorted(periods):
            figures = periods[start]
            report.periods.append(start)
            until = min(self._period_end(start, request.grain, tz), now)
            keys = [k for k in figures.keys(request.by) if k != ALL]
            quality = await self._quality_of(start, until, request.by, keys, now)
            # first the centre's row (every channel: ``acd.kpi``'s ``all``), then the groups
            total = figures_row(start.timestamp(), figures, "channel", ALL, policy)
            report.rows.append((total, quality.get(ALL, Quality())))
            for key in keys:
                row = figures_row(start.timestamp(), figures, request.by, key, policy)
                report.rows.append((row, quality.get(key, Quality())))
        report.wall_s = time.perf_counter() - started
        return report

    async def _day(
        self, lo: datetime, hi: datetime, now: datetime, policy: SlPolicy, report: Report
    ) -> tuple[dict[float, Figures], int]:
        """A day's figures per interval: a closed day's from the cache when it was folded
        before with the same policy (a day is closed ``CLOSED_AFTER`` past its end: events
        a stopped writer spooled are in the log by then), else folded from the log."""
        key = (lo.timestamp(), repr(policy))
        closed = hi + CLOSED_AFTER <= now
        if closed and (found := self._closed.get(key)) is not None:
            self._closed.move_to_end(key)
            report.cached_days += 1
            return found
        fold = await self.fold_day(lo, hi, min(hi, now), policy)
        day = fold.intervals(), fold.events
        if closed and self._cache_days > 0:
            self._closed[key] = day
            while len(self._closed) > self._cache_days:
                self._closed.popitem(last=False)
        return day

    async def fold_day(
        self, lo: datetime, hi: datetime, end: datetime, policy: SlPolicy
    ) -> DayFold:
        """One local day of the log, read in batches and folded."""
        fold = DayFold(
            lo.timestamp(),
            hi.timestamp(),
            end.timestamp(),
            policy,
            interval_s=INTERVAL_S,
            capacity=self._capacity,
        )
        batches = events_since(self._engine, lo, until=hi, kinds=KPI_KINDS, batch=self._batch)
        async for rows in batches:
            for row in rows:
                record = record_of(row)
                if record is None:
                    self.unreadable += 1
                    continue
                fold.add(record, run_of(row.key))
        return fold

    @staticmethod
    def _period_end(start: datetime, grain: Grain, tz: tzinfo) -> datetime:
        if grain == "interval":
            return start + timedelta(seconds=INTERVAL_S)
        if grain == "day":
            return _local(start.date() + timedelta(days=1), tz)
        if grain == "week":
            return _local(start.date() + timedelta(days=7), tz)
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        return _local(date(year, month, 1), tz)

    async def _quality_of(
        self, since: datetime, until: datetime, by: str, keys: list[str], now: datetime
    ) -> dict[str, Quality]:
        """FCR and CSAT where the history has them: the whole centre and, by channel, each
        channel (by the channel of the contact); a queue, an agent or an intent has none."""
        if until <= since:
            return {}
        fcr = await self._quality.fcr_by_channel(since, until, window_days=FCR_WINDOW_DAYS, now=now)
        out: dict[str, Quality] = {}
        for key in [ALL, *(keys if by == "channel" else ())]:
            if key == ALL:
                rate = FcrRate.total(since, until, FCR_WINDOW_DAYS, fcr.values())
                csat = await self._quality.csat(since, until)
            else:
                try:
                    channel = Channel(key)
                except ValueError:
                    continue  # an ACD channel the history does not keep (callback, transfer)
                rate = fcr.get(key) or FcrRate.total(since, until, FCR_WINDOW_DAYS, ())
                csat = await self._quality.csat(since, until, channel=channel)
            out[key] = Quality(rate.rate, rate.contacts, csat.average, csat.responses)
        return out
