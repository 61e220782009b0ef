"""One hub per service: fed by the ACD's event sink, it pushes snapshots to every page.

The ACD's listener only folds the record and sets a flag (no I/O on the ACD's path); after
a reload re-scored or re-profiled waiting calls (``PriorityWeightsUpdated``, ``QueueUpdated``)
it takes each waiting call's priority and queue from the router, once per such event. A
single task builds one snapshot per change (coalesced, at most every ``min_interval_s``, and
every ``tick_s`` so wait times advance) and offers it to each client's bounded queue; a
client whose queue is full is too slow and is dropped, so no page can slow the service.

KPIs are ``hotline.web.supervisor.kpi_view.KpiView``'s: running sums on the wall clock,
today's earlier figures rebuilt from the event log at start (``kpi_log``), with a
``kpi_status`` in the snapshot. FCR and CSAT come from the history store through
``ContactQuality``, fetched by the hub's own task (never on the ACD's path), stale-flagged
when the store is down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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
from acd.live.service import AcdService
from hotline.web.supervisor.kpi_view import INTERVAL_S, KpiLog, KpiView
from hotline.web.supervisor.quality import ContactQuality

log = logging.getLogger(__name__)

MAX_REMEMBERED_CALLS = 2000
__all__ = ["INTERVAL_S", "Client", "SupervisorHub"]
Subscribe = Callable[[Callable[[EventRecord], None]], Callable[[], None]]


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
        self._quality = quality
        self._quality_task: asyncio.Task[None] | None = None
        self._wall = wall or (lambda: datetime.now().astimezone())
        #: wall-clock epoch seconds minus the ACD's clock: KPI times are wall times
        self._offset = self._wall().timestamp() - acd.now()
        # Running sums: a report costs a few ms whatever the day's volume, still made at
        # most every ``kpi_every_s`` (and at each new interval); the waiting calls and
        # agents go out with every change.
        self.kpis = KpiView(
            self._wall,
            self._offset,
            kpi_log=kpi_log,
            every_s=kpi_every_s,
            changed=lambda: self._changed.set(),
        )
        self._subscribe = subscribe
        self._min_interval_s = min_interval_s
        self._tick_s = tick_s
        self._max_clients = max_clients
        self._waiting: dict[str, _Waiting] = {}
        #: What the IVR found for recent calls (for the agent's screen-pop), oldest first.
        self._facts: dict[str, CallFacts] = {}
        #: The agent each recent call was last offered to (who may see and wrap it up).
        self._offered_to: dict[str, str] = {}
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
        is missed); today's earlier KPIs are rebuilt from the event log in the background."""
        if self._task is None:
            self._unsubscribe = self._subscribe(self._saw)
            self._task = asyncio.create_task(self._run(), name="supervisor-hub")
            self.kpis.start()
        if self._quality is not None and self._quality_task is None:
            self._quality_task = asyncio.create_task(self._quality.run(), name="supervisor-fcr")

    async def close(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        for task in (self._task, self._quality_task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._quality_task = None
        await self.kpis.close()
        for client in self._clients:
            client.dropped.set()
        self._clients.clear()

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
        self.kpis.add(record)
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
        kpis = self.kpis.payload(now + self._offset)
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

    def snapshot_json(self) -> str:
        return json.dumps(self.snapshot(), default=str)

    async def _run(self) -> None:
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
