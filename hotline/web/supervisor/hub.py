"""One hub per service: fed by the ACD's event sink, it pushes snapshots to every page.

The ACD's listener only folds the record and sets a flag (no I/O on the ACD's path); after
a reload re-scored or re-profiled waiting calls (``PriorityWeightsUpdated``, ``QueueUpdated``)
it takes each waiting call's priority and queue from the router, once per such event. A
single task builds one snapshot per change (coalesced, at most every ``min_interval_s``, and
every ``tick_s`` so wait times advance) and offers it to each client's bounded queue; a
client whose queue is full is too slow and is dropped, so no page can slow the service.

KPIs are by wall-clock 15-minute interval: the hub shifts the ACD's clock readings onto the
wall clock (one offset taken at start), so *today* starts at local midnight and intervals
start on the quarter hour. They are kept by ``acd.kpi_aggregate.KpiAggregate`` (running
sums per minute, interval and day, by queue and channel; a snapshot adds cells up, never
rescans calls). The snapshot carries today's, the current and the last complete interval's
figures (overall and per queue), the rolling 15/30/60-minute windows, today's figures per
queue and channel and the callbacks, and, for the charts, service level and volume per
interval of today.

**After a restart** today's figures are rebuilt from the persistent event log
(``KpiLog``: the events since local midnight, in order, in batches) by the hub's own task,
while the current run's records are folded live as they come: records are folded with
the run that logged them, and the log's records of the current run are skipped (they
arrived live), so nothing counts twice. Earlier runs are closed when the log is read
(``KpiAggregate.close_run``). ``kpi_status`` says how far that got: ``rebuilding``, ``ok``,
or ``stale`` (the log could not be read: the figures hold this run's events only; the
hub tries again, resuming after the last event it folded).

FCR and CSAT come from the history store through ``ContactQuality``, fetched by
the hub's own task (never on the ACD's path), stale-flagged when the store is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, tzinfo
from typing import Any, Protocol

from acd.calls import CallFacts
from acd.events import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallMoved,
    CallOffered,
    CallPriorityChanged,
    CallQueued,
    CallRequeued,
    EventRecord,
    PriorityWeightsUpdated,
    QueueUpdated,
)
from acd.kpi import CallKpis, KpiReport
from acd.kpi_aggregate import ROLLING_WINDOWS_S, KpiAggregate
from acd.live.service import AcdService
from hotline.web.supervisor.quality import ContactQuality, day_start

log = logging.getLogger(__name__)

MAX_REMEMBERED_CALLS = 2000
#: The KPI interval: the charts' bars and the "last interval" figures.
INTERVAL_S = 900.0
Subscribe = Callable[[Callable[[EventRecord], None]], Callable[[], None]]
#: Waits between attempts to read the event log at start (then every ``REBUILD_MAX_S``).
REBUILD_FIRST_S = 1.0
REBUILD_MAX_S = 30.0


class KpiLog(Protocol):
    """The persistent event log, as the KPIs' rebuild reads it."""

    #: The current run's id: its records reach the hub live, never from the log.
    run: str

    def since(
        self, start: datetime, *, after: int = 0
    ) -> AsyncIterator[list[tuple[int, str, EventRecord]]]:
        """Batches of (log position, run, record on the wall clock) logged since ``start``
        and after position ``after``, in log order."""
        ...


@dataclass(slots=True)
class _Waiting:
    call_id: str
    queue: str
    entry_time: float
    priority: float
    call_type: str | None
    tier: str | None
    language: str | None
    intent: str | None
    ringing_agent: str | None = None


@dataclass(eq=False, slots=True)
class Client:
    """A page's mailbox. ``agent_id``: an agent's page, sent only that agent's row."""

    agent_id: str | None = None
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=8))
    dropped: asyncio.Event = field(default_factory=asyncio.Event)


class SupervisorHub:
    def __init__(
        self,
        acd: AcdService,
        subscribe: Subscribe,
        *,
        min_interval_s: float = 0.1,
        tick_s: float = 1.0,
        max_clients: int = 500,
        quality: ContactQuality | None = None,
        wall: Callable[[], datetime] | None = None,
        kpi_every_s: float = 1.0,
        kpi_log: KpiLog | None = None,
    ) -> None:
        self._acd = acd
        # The KPIs are running sums, but a report still adds up the day's cells and the
        # interval series: recomputed at most every ``kpi_every_s`` (and at each new
        # interval), while the waiting calls and agents go out with every change.
        self._kpi_every_s = kpi_every_s
        self._reported: tuple[float, float, dict[str, Any]] | None = None
        self._quality = quality
        self._quality_task: asyncio.Task[None] | None = None
        self._wall = wall or (lambda: datetime.now().astimezone())
        #: wall-clock epoch seconds minus the ACD's clock: KPI times are wall times
        self._offset = self._wall().timestamp() - acd.now()
        self._today = day_start(self._wall()).timestamp()
        self._subscribe = subscribe
        self._min_interval_s = min_interval_s
        self._tick_s = tick_s
        self._max_clients = max_clients
        self._waiting: dict[str, _Waiting] = {}
        #: What the IVR found for recent calls (for the agent's screen-pop), oldest first.
        self._facts: dict[str, CallFacts] = {}
        #: The agent each recent call was last offered to (who may see and wrap it up).
        self._offered_to: dict[str, str] = {}
        self._kpis = KpiAggregate(interval_s=INTERVAL_S, day_start=self._today)
        self._kpi_log = kpi_log
        self._run = "" if kpi_log is None else kpi_log.run
        self._rebuild_task: asyncio.Task[None] | None = None
        #: Whether today's figures are whole: ``rebuilding`` (the log is being read) and
        #: ``stale`` (it could not be) hold this run's figures only.
        self.kpi_status: dict[str, Any] = {
            "state": "ok" if kpi_log is None else "rebuilding",
            "stale": kpi_log is not None,
            "reason": None if kpi_log is None else "rebuilding today's figures from the log",
            "since": datetime.fromtimestamp(self._today, self._wall().tzinfo).isoformat(),
            "events_rebuilt": 0,
            "rebuild_wall_s": None,
            "rebuild_cpu_s": None,
        }
        self._kpi_state = asyncio.Event()
        self._clients: set[Client] = set()
        self._changed = asyncio.Event()
        self._unsubscribe: Callable[[], None] | None = None
        self._task: asyncio.Task[None] | None = None
        self.dropped_clients = 0
        #: ACD events seen since start, by type (CallOffered = routing decisions,
        #: EventRejected = events the core refused): for /metrics.
        self.event_counts: dict[str, int] = {}

    async def start(self) -> None:
        """Listen to the ACD at once (start the hub before the ACD, so no record of this run
        is missed) and rebuild today's earlier figures from the event log in the background."""
        if self._task is None:
            self._unsubscribe = self._subscribe(self._saw)
            self._task = asyncio.create_task(self._push(), name="supervisor-hub")
        if self._kpi_log is not None and self._rebuild_task is None:
            self._rebuild_task = asyncio.create_task(self._rebuild(), name="supervisor-kpi-log")
        if self._quality is not None and self._quality_task is None:
            self._quality_task = asyncio.create_task(self._quality.run(), name="supervisor-fcr")

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in (self._task, self._quality_task, self._rebuild_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._quality_task = self._rebuild_task = None
        for client in self._clients:
            client.dropped.set()
        self._clients.clear()

    async def kpi_state(self, state: str) -> None:
        """Wait until ``kpi_status["state"]`` is ``state`` (``ok``: today's figures whole)."""
        while self.kpi_status["state"] != state:
            self._kpi_state.clear()
            await self._kpi_state.wait()

    def connect(self, agent_id: str | None = None) -> Client | None:
        """A new page's mailbox, primed with the current snapshot; None when full."""
        if len(self._clients) >= self._max_clients:
            return None
        client = Client(agent_id)
        client.queue.put_nowait(_for(client, self.snapshot()))
        self._clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        self._clients.discard(client)

    def facts(self, call_id: str) -> CallFacts | None:
        """What the IVR found for a recent call (kept after the call left the queue)."""
        return self._facts.get(call_id)

    def offered_to(self, call_id: str) -> str | None:
        """The agent a recent call was last offered to."""
        return self._offered_to.get(call_id)

    @property
    def clients(self) -> int:
        return len(self._clients)

    # the ACD's side: cheap and synchronous --------------------------------------------------
    def _saw(self, record: EventRecord) -> None:
        self._kpis.add(self._on_wall(record), self._run)
        event = record.event
        kind = type(event).__name__
        self.event_counts[kind] = self.event_counts.get(kind, 0) + 1
        if isinstance(event, CallQueued):
            call = self._acd.call(event.call_id)
            facts = call.facts if call is not None else CallFacts()
            self._waiting[event.call_id] = _Waiting(
                event.call_id,
                event.queue,
                event.entry_time,
                event.priority,
                event.call_type,
                event.tier or facts.tier,
                facts.language,
                facts.intent,
            )
            self._facts[event.call_id] = facts
            while len(self._facts) > MAX_REMEMBERED_CALLS:
                del self._facts[next(iter(self._facts))]
        elif isinstance(event, CallOffered):
            self._offered_to[event.call_id] = event.agent_id
            while len(self._offered_to) > MAX_REMEMBERED_CALLS:
                del self._offered_to[next(iter(self._offered_to))]
            waiting = self._waiting.get(event.call_id)
            if waiting is not None:
                waiting.ringing_agent = event.agent_id
        elif isinstance(event, CallPriorityChanged):
            waiting = self._waiting.get(event.call_id)
            if waiting is not None:
                waiting.priority = event.priority
        elif isinstance(event, CallMoved):
            waiting = self._waiting.get(event.call_id)
            if waiting is not None:
                waiting.queue = event.queue
        elif isinstance(event, CallRequeued):
            waiting = self._waiting.get(event.call_id)
            if waiting is not None:
                waiting.ringing_agent = None
        elif isinstance(event, CallAnswered | CallAbandoned | CallEnded):
            self._waiting.pop(event.call_id, None)
        elif isinstance(event, PriorityWeightsUpdated | QueueUpdated) and _revised(event):
            self._refresh_waiting()
        self._changed.set()

    def _refresh_waiting(self) -> None:
        """Each waiting call's base priority and queue as the router holds them now (a
        reload revised them without an event per call): one pass over the router's calls."""
        if not self._waiting:
            return
        for held in self._acd.held_calls():
            waiting = self._waiting.get(held.call_id)
            if waiting is not None:
                waiting.priority = held.priority.total
                waiting.queue = held.queue

    # the pages' side --------------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        now = self._acd.now()
        queues: dict[str, dict[str, Any]] = {
            name: {"name": name, "calls": [], "longest_wait_s": 0.0}
            for name in self._acd.queue_names
        }
        for w in sorted(self._waiting.values(), key=lambda w: (-w.priority, w.entry_time)):
            queue = queues.setdefault(
                w.queue, {"name": w.queue, "calls": [], "longest_wait_s": 0.0}
            )
            wait = max(0.0, now - w.entry_time)
            queue["calls"].append(
                {
                    "call_id": w.call_id,
                    "priority": round(w.priority, 1),
                    "wait_s": round(wait, 1),
                    "intent": w.intent or w.call_type,
                    "tier": w.tier,
                    "language": w.language,
                    "ringing": w.ringing_agent,
                }
            )
            queue["longest_wait_s"] = max(queue["longest_wait_s"], round(wait, 1))
        kpis = self._reports(now + self._offset)
        for name, queue in queues.items():
            queue.update(kpis["queues"].get(name) or kpis["queues"][""])
        agents = [
            {
                "agent_id": a.agent_id,
                "state": str(a.state),
                "time_in_state_s": round(a.time_in_state(now), 1),
                "pause_reason": a.pause_reason,
                "call_id": a.call_id,
                "calls_handled": a.calls_handled,
            }
            for a in self._acd.agents()
        ]
        return {
            "queues": list(queues.values()),
            "agents": agents,
            **{k: v for k, v in kpis.items() if k != "queues"},
            "quality": None if self._quality is None else self._quality.figures(),
        }

    def _reports(self, wall: float) -> dict[str, Any]:
        """The snapshot's KPI part (the previous one for ``kpi_every_s`` within an
        interval)."""
        current = math.floor(wall / INTERVAL_S) * INTERVAL_S
        if self._reported is not None:
            at, interval, reports = self._reported
            if interval == current and wall - at < self._kpi_every_s:
                return reports
        reports = self._compute_reports(wall)
        self._reported = (wall, current, reports)
        return reports

    def _compute_reports(self, wall: float) -> dict[str, Any]:
        tz = self._wall().tzinfo
        midnight = day_start(datetime.fromtimestamp(wall, tz)).timestamp()
        if midnight > self._today:  # a new day: yesterday's figures are let go
            self._today = midnight
            self._kpis.start_day(midnight)
            self.kpi_status["since"] = datetime.fromtimestamp(midnight, tz).isoformat()
        kpis = self._kpis
        current = math.floor(wall / INTERVAL_S) * INTERVAL_S
        today = kpis.day(wall)
        now = kpis.interval(current, wall)
        last = kpis.interval(current - INTERVAL_S, wall)
        rolling = [(window, kpis.rolling(window, wall)) for window in ROLLING_WINDOWS_S]
        series = [{**_span(r, tz), **_volume(r.calls)} for r in kpis.intervals(wall)]
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
            "current_interval": {**_kpis(now.calls), **_span(now, tz)},
            "last_interval": {**_kpis(last.calls), **_span(last, tz)},
            "rolling": [
                {
                    "window_min": round(w / 60),
                    "start": datetime.fromtimestamp(r.start, tz).isoformat(),
                    "label": datetime.fromtimestamp(r.start, tz).strftime("%H:%M"),
                    **_kpis(r.calls),
                }
                for w, r in rolling
            ],
            "channels": {ch: _kpis(k) for ch, k in today.by_channel.items()},
            "contacts": [
                {"queue": q, "channel": ch, **_kpis(k)} for (q, ch), k in sorted(cells.items())
            ],
            "callbacks": asdict(today.callbacks),
            "occupancy": today.occupancy,
            "intervals": series,
            "kpi_status": dict(self.kpi_status),
        }

    # the event log's side: today's earlier figures, once ---------------------------------
    async def _rebuild(self) -> None:
        """Fold today's events of earlier runs from the log; on a failure keep what was
        folded, mark the figures stale, and resume after the last event folded."""
        assert self._kpi_log is not None
        status, delay, after = self.kpi_status, REBUILD_FIRST_S, 0
        started, cpu = time.perf_counter(), time.process_time()
        since = datetime.fromtimestamp(self._today, self._wall().tzinfo)
        while True:
            try:
                async for batch in self._kpi_log.since(since, after=after):
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
                self._reported = None
                self._kpi_state.set()
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
        self._reported = None
        self._changed.set()
        self._kpi_state.set()
        log.info(
            "supervisor KPIs: %d events of today rebuilt from the log in %.2f s",
            status["events_rebuilt"],
            status["rebuild_wall_s"],
        )

    def _on_wall(self, record: EventRecord) -> EventRecord:
        """The record with its times on the wall clock (epoch seconds)."""
        event = record.event
        if isinstance(event, CallQueued):
            event = replace(event, entry_time=event.entry_time + self._offset)
        return EventRecord(record.seq, record.at + self._offset, event)

    def snapshot_json(self) -> str:
        return json.dumps(self.snapshot(), default=str)

    async def _push(self) -> None:
        while True:
            # not wait_for: on Python 3.11 it can swallow a cancel that meets a set event,
            # and close() then waits for this task forever
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._tick_s):
                    await self._changed.wait()
            self._changed.clear()
            if self._clients:
                self._broadcast(self.snapshot())
            await asyncio.sleep(self._min_interval_s)

    def _broadcast(self, snapshot: dict[str, Any]) -> None:
        whole = json.dumps(snapshot, default=str)
        for client in list(self._clients):
            try:
                client.queue.put_nowait(
                    whole if client.agent_id is None else _for(client, snapshot)
                )
            except asyncio.QueueFull:
                self._clients.discard(client)
                client.dropped.set()
                self.dropped_clients += 1
                log.warning("supervisor page dropped: it did not keep up")


def _revised(event: PriorityWeightsUpdated | QueueUpdated) -> bool:
    """Did a reload give waiting calls a new priority or a new profile?"""
    if isinstance(event, PriorityWeightsUpdated):
        return event.calls_rescored > 0
    return event.calls_reprofiled > 0


def _for(client: Client, snapshot: dict[str, Any]) -> str:
    if client.agent_id is None:
        return json.dumps(snapshot, default=str)
    mine = [a for a in snapshot["agents"] if a["agent_id"] == client.agent_id]
    return json.dumps({"agent": mine[0] if mine else None}, default=str)


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


def _kpis(k: CallKpis | None) -> dict[str, Any]:
    if k is None:
        return (
            dict.fromkeys(("service_level", "asa", "aht", "abandon_rate"), None)
            | dict.fromkeys(
                (
                    "offered",
                    "answered",
                    "abandoned",
                    "abandoned_ringing",
                    "short_abandoned",
                    "left",
                    "waiting",
                    "longest_wait",
                ),
                0,
            )
            | {"exits": {}}
        )
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
        "abandon_rate": k.abandon_rate,
        "longest_wait": k.longest_wait,
    }
