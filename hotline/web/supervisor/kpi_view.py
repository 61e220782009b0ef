"""The supervisor's KPIs: running sums fed live, today's earlier figures rebuilt from the log.

``KpiView`` is the hub's KPI part. It keeps ``acd.kpi_aggregate.KpiAggregate`` on the wall
clock (the ACD's clock readings shifted by one offset taken at start), so *today* starts
at local midnight and intervals start on the quarter hour, and builds the snapshot's KPI
part from it at most every ``every_s`` (and at each new interval): today's, the current and
the last complete interval's figures (inbound calls, per queue, per channel and every
channel together as ``channels["all"]``), the rolling 15/30/60-minute windows, today's
figures per queue and channel, the callbacks, the occupancy (digital work included), the
use of digital capacity per channel, and the interval series for the charts (with each
channel's figures and backlog at the interval's end). A report adds cells up; it never
rescans tasks. ``acd.kpi`` defines every figure; the page shows "AHT" (handle time per
task) and "agent time" (the agent's time divided among tasks held at once) side by side.

**After a restart** today's figures are rebuilt from the persistent event log (a
``KpiLog``: the events since local midnight, in order, in batches) by the view's own task,
while the current run's records are folded live as they come: records are folded with
the run that logged them, and the log's records of the current run are skipped (they
arrived live), so nothing counts twice. Earlier runs are closed once the log is read
(``KpiAggregate.close_run``). ``status`` says how far that got: ``rebuilding``, ``ok``, or
``stale`` (the log could not be read: the figures hold this run's events only; the view
tries again, resuming after the last event it folded). It is in the snapshot as
``kpi_status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, replace
from datetime import datetime, tzinfo
from typing import Any, Protocol

from acd.events import CallQueued, EventRecord
from acd.kpi import ALL_CHANNELS, CallKpis, CapacityUse, KpiReport, SlPolicy
from acd.kpi_aggregate import ROLLING_WINDOWS_S, CapacityOf, KpiAggregate
from hotline.web.supervisor.quality import day_start

log = logging.getLogger(__name__)

__all__ = ["INTERVAL_S", "KpiLog", "KpiView"]

#: The KPI interval: the charts' bars and the "last interval" figures.
INTERVAL_S = 900.0
#: Waits between attempts to read the event log at start (doubling up to ``REBUILD_MAX_S``).
REBUILD_FIRST_S = 1.0
REBUILD_MAX_S = 30.0


class KpiLog(Protocol):
    """The persistent event log, as the KPIs' rebuild reads it."""

    #: The current run's id: its records reach the view live, never from the log.
    run: str

    def since(
        self, start: datetime, *, after: int = 0
    ) -> AsyncIterator[list[tuple[int, str, EventRecord]]]:
        """Batches of (log position, run, record on the wall clock) logged since ``start``
        and after position ``after``, in log order."""
        ...


class KpiView:
    def __init__(
        self,
        wall: Callable[[], datetime],
        offset: float,
        *,
        kpi_log: KpiLog | None = None,
        policy: SlPolicy | None = None,
        capacity: CapacityOf | None = None,
        every_s: float = 1.0,
        changed: Callable[[], None] = lambda: None,
    ) -> None:
        self._wall = wall
        #: wall-clock epoch seconds minus the ACD's clock: KPI times are wall times
        self._offset = offset
        self._today = day_start(wall()).timestamp()
        self._every_s = every_s
        self._changed = changed
        self._kpis = KpiAggregate(
            policy, interval_s=INTERVAL_S, day_start=self._today, capacity=capacity
        )
        self._log = kpi_log
        self._run = "" if kpi_log is None else kpi_log.run
        self._reported: tuple[float, float, dict[str, Any]] | None = None
        self._task: asyncio.Task[None] | None = None
        self._state_changed = asyncio.Event()
        #: Whether today's figures are whole: ``rebuilding`` (the log is being read) and
        #: ``stale`` (it could not be) hold this run's figures only.
        self.status: dict[str, Any] = {
            "state": "ok" if kpi_log is None else "rebuilding",
            "stale": kpi_log is not None,
            "reason": None if kpi_log is None else "rebuilding today's figures from the log",
            "since": datetime.fromtimestamp(self._today, wall().tzinfo).isoformat(),
            "events_rebuilt": 0,
            "rebuild_wall_s": None,
            "rebuild_cpu_s": None,
        }

    def add(self, record: EventRecord) -> None:
        """One record of this run, on the ACD's clock: constant time."""
        self._kpis.add(self._on_wall(record), self._run)

    def start(self) -> None:
        if self._log is not None and self._task is None:
            self._task = asyncio.create_task(self._rebuild(), name="supervisor-kpi-log")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def state(self, state: str) -> None:
        """Wait until ``status["state"]`` is ``state`` (``ok``: today's figures whole)."""
        while self.status["state"] != state:
            self._state_changed.clear()
            await self._state_changed.wait()

    def payload(self, wall: float) -> dict[str, Any]:
        """The snapshot's KPI part at ``wall`` (epoch seconds); ``queues`` by name, ``""``
        for a queue with no figures. The previous one within ``every_s`` of an interval."""
        current = math.floor(wall / INTERVAL_S) * INTERVAL_S
        if self._reported is not None:
            at, interval, reports = self._reported
            if interval == current and wall - at < self._every_s:
                return reports
        reports = self._compute(wall)
        self._reported = (wall, current, reports)
        return reports

    def _compute(self, wall: float) -> dict[str, Any]:
        tz = self._wall().tzinfo
        midnight = day_start(datetime.fromtimestamp(wall, tz)).timestamp()
        if midnight > self._today:  # a new day: yesterday's figures are let go
            self._today = midnight
            self._kpis.start_day(midnight)
            self.status["since"] = datetime.fromtimestamp(midnight, tz).isoformat()
        kpis = self._kpis
        current = math.floor(wall / INTERVAL_S) * INTERVAL_S
        today = kpis.day(wall)
        now = kpis.interval(current, wall)
        last = kpis.interval(current - INTERVAL_S, wall)
        rolling = [(window, kpis.rolling(window, wall)) for window in ROLLING_WINDOWS_S]
        series = [
            {**_span(r, tz), **_volume(r.calls), "channels": _volumes(r)}
            for r in kpis.intervals(wall)
        ]
        cells = kpis.by_queue_channel(wall)
        queues: dict[str, dict[str, Any]] = {}
        for name in {*today.by_queue, *(q for q, _ in cells), ""}:
            queues[name] = {
                "kpis": _kpis(today.by_queue.get(name)),
                "current_interval": _kpis(now.by_queue.get(name)),
                "last_interval": _kpis(last.by_queue.get(name)),
                "rolling": [
                    {"window_min": round(w / 60), **_kpis(r.by_queue.get(name))} for w, r in rolling
                ],
                "channels": {ch: _kpis(k) for (q, ch), k in sorted(cells.items()) if q == name},
            }
        return {
            "queues": queues,
            "kpis": _kpis(today.calls),
            "current_interval": {**_kpis(now.calls), **_span(now, tz), **_channels(now)},
            "last_interval": {**_kpis(last.calls), **_span(last, tz), **_channels(last)},
            "rolling": [
                {
                    "window_min": round(w / 60),
                    "start": datetime.fromtimestamp(r.start, tz).isoformat(),
                    "label": datetime.fromtimestamp(r.start, tz).strftime("%H:%M"),
                    **_kpis(r.calls),
                    **_channels(r),
                }
                for w, r in rolling
            ],
            **_channels(today),
            "contacts": [
                {"queue": q, "channel": ch, **_kpis(k)} for (q, ch), k in sorted(cells.items())
            ],
            "callbacks": asdict(today.callbacks),
            #: each agent's occupancy today (``acd.kpi``), for the agents' table
            "agent_occupancy": {a.agent_id: a.occupancy for a in today.agents},
            "intervals": series,
            "kpi_status": dict(self.status),
        }

    # the event log's side: today's earlier figures, once ---------------------------------
    async def _rebuild(self) -> None:
        """Fold today's events of earlier runs from the log; on a failure keep what was
        folded, mark the figures stale, and resume after the last event folded."""
        assert self._log is not None
        status, delay, after = self.status, REBUILD_FIRST_S, 0
        started, cpu = time.perf_counter(), time.process_time()
        since = datetime.fromtimestamp(self._today, self._wall().tzinfo)
        while True:
            try:
                async for batch in self._log.since(since, after=after):
                    for position, run, record in batch:
                        if run != self._run:
                            self._kpis.add(record, run)
                            status["events_rebuilt"] += 1
                        after = position
                    await asyncio.sleep(0)  # a batch at a time: the ACD's records go on
                break
            except Exception as error:  # noqa: BLE001 (any store failure: keep the page going)
                if status["state"] != "stale":
                    log.warning(
                        "supervisor KPIs: today's event log not read (%s); "
                        "showing this run's figures, marked stale; again in %g s",
                        error,
                        delay,
                    )
                status.update(
                    state="stale",
                    stale=True,
                    reason=f"the event log could not be read: {type(error).__name__}",
                )
                self._told()
                await asyncio.sleep(delay)
                delay = min(delay * 2, REBUILD_MAX_S)
        for run in self._kpis.runs:
            if run != self._run:
                self._kpis.close_run(run)
        status.update(
            state="ok",
            stale=False,
            reason=None,
            rebuild_wall_s=round(time.perf_counter() - started, 3),
            rebuild_cpu_s=round(time.process_time() - cpu, 3),
        )
        self._told()
        log.info(
            "supervisor KPIs: %d events of today rebuilt from the log in %.2f s",
            status["events_rebuilt"],
            status["rebuild_wall_s"],
        )

    def _told(self) -> None:
        """The status changed: the next snapshot recomputes and pages are sent it."""
        self._reported = None
        self._state_changed.set()
        self._changed()

    def _on_wall(self, record: EventRecord) -> EventRecord:
        """The record with its times on the wall clock (epoch seconds)."""
        event = record.event
        if isinstance(event, CallQueued):
            event = replace(event, entry_time=event.entry_time + self._offset)
        return EventRecord(record.seq, record.at + self._offset, event)


def _span(report: KpiReport, tz: tzinfo | None) -> dict[str, Any]:
    start = datetime.fromtimestamp(report.start, tz)
    end = datetime.fromtimestamp(math.floor(report.start / INTERVAL_S + 1) * INTERVAL_S, tz)
    return {
        "start": start.isoformat(),
        "label": start.strftime("%H:%M"),
        "until": end.strftime("%H:%M"),
    }


def _volume(k: CallKpis) -> dict[str, Any]:
    return {
        "offered": k.offered,
        "answered": k.answered,
        "abandoned": k.abandoned,
        "service_level": k.service_level,
    }


def _volumes(r: KpiReport) -> dict[str, dict[str, Any]]:
    """An interval's volume per channel, and its backlog at the interval's end."""
    return {
        ch: {**_volume(k), "backlog": k.backlog, "oldest_age_s": k.oldest_age_s}
        for ch, k in _by_channel(r).items()
    }


def _by_channel(r: KpiReport) -> dict[str, CallKpis]:
    """Each channel's figures, and every channel's together (``all``: callbacks apart)."""
    return {**r.by_channel, ALL_CHANNELS: r.overall}


def _channels(r: KpiReport) -> dict[str, Any]:
    """A report's figures per channel and overall, its occupancy and use of capacity."""
    return {
        "channels": {ch: _kpis(k) for ch, k in _by_channel(r).items()},
        "occupancy": r.occupancy,
        "capacity": {ch: _use(u) for ch, u in r.capacity.items()},
    }


def _use(u: CapacityUse) -> dict[str, Any]:
    return {"used_s": u.used_s, "slots_s": u.slots_s, "utilisation": u.utilisation}


_COUNTS = (
    "offered",
    "answered",
    "abandoned",
    "abandoned_ringing",
    "short_abandoned",
    "left",
    "waiting",
    "longest_wait",
    "backlog",
)


_RATIOS = ("service_level", "asa", "aht", "agent_time", "abandon_rate", "oldest_age_s")


def _kpis(k: CallKpis | None) -> dict[str, Any]:
    if k is None:
        return dict.fromkeys(_RATIOS, None) | dict.fromkeys(_COUNTS, 0) | {"exits": {}}
    return {
        "offered": k.offered,
        "answered": k.answered,
        "abandoned": k.abandoned,
        "abandoned_ringing": k.abandoned_ringing,
        "short_abandoned": k.short_abandoned,
        "left": k.left,
        "exits": dict(k.exits),
        "waiting": k.waiting,
        "service_level": k.service_level,
        "asa": k.asa,
        "aht": k.aht,
        "agent_time": k.agent_time,
        "abandon_rate": k.abandon_rate,
        "longest_wait": k.longest_wait,
        "backlog": k.backlog,
        "oldest_age_s": k.oldest_age_s,
    }
