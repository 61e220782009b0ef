"""One hub per service: fed by the ACD's event sink, it pushes snapshots to every page.

The ACD's listener only folds the record and sets a flag (no I/O on the ACD's path): it
remembers what the IVR found for each queued call and where it rings. A single task builds
one snapshot per change (coalesced, at most every ``min_interval_s``, and every ``tick_s``
so wait times and aged priorities advance) and offers it to each client's bounded queue; a
client whose queue is full is too slow and is dropped, so no page can slow the service. The
live part (callers with their current priority, agents, staffing alerts, Asterisk's link)
is read off the router at each snapshot (``hotline.web.supervisor.live_view``), so
supervisors' actions and reloads show at once.

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

from acd.calls import CallerCard, CallFacts
from acd.capacity import VOICE_ONLY, Capacity
from acd.events import (
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallOffered,
    CallQueued,
    CallRequeued,
    EventRecord,
)
from acd.policy import QueuesConfig
from acd.thresholds import Thresholds
from center.service import AcdService
from hotline.web.supervisor.alerts import ThresholdWatch
from hotline.web.supervisor.kpi_view import INTERVAL_S, KpiLog, KpiView
from hotline.web.supervisor.live_view import MAX_SHOWN_CALLS, Seen, live_state
from hotline.web.supervisor.quality import ContactQuality
from hotline.web.supervisor.telephony_link import TelephonyLink
from hotline.web.supervisor.wallboard import wallboard_view

log = logging.getLogger(__name__)

MAX_REMEMBERED_CALLS = 2000
_NO_QUEUES = QueuesConfig()
__all__ = ["INTERVAL_S", "Client", "SupervisorHub"]
Subscribe = Callable[[Callable[[EventRecord], None]], Callable[[], None]]


@dataclass(eq=False, slots=True)
class Client:
    """A page's mailbox. ``agent_id``: an agent's page, sent only that agent's row;
    ``wallboard``: a wall screen, sent only what it shows (``wallboard_view``)."""

    agent_id: str | None = None
    wallboard: bool = False
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
        link: TelephonyLink | None = None,
        kpi_log: KpiLog | None = None,
        queues_config: Callable[[], QueuesConfig] | None = None,
    ) -> None:
        self._acd = acd
        #: queues.yaml as it is now (a reload changes it): its thresholds colour the pages
        self._queues_config = queues_config or (lambda: _NO_QUEUES)
        self._table: tuple[QueuesConfig, Thresholds] | None = None
        self.thresholds = ThresholdWatch(self._threshold_table)
        #: More parts of the snapshot, by name (the spy sessions' feedback...).
        self._parts: dict[str, Callable[[], Any]] = {}
        self._link = link
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
            policy=acd.setup.sl_policy,  # the configured target and short-abandon bound
            capacity=lambda agent_id: _capacity(acd, agent_id),
            every_s=kpi_every_s,
            changed=lambda: self._changed.set(),
        )
        self._subscribe = subscribe
        self._min_interval_s = min_interval_s
        self._tick_s = tick_s
        self._max_clients = max_clients
        #: What the IVR found for recent calls (the pages' names, the agent's screen-pop),
        #: and where each rings, oldest first; the calls the router holds are among them.
        self._seen: dict[str, Seen] = {}
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

    def connect(self, agent_id: str | None = None, *, wallboard: bool = False) -> Client | None:
        """A new page's mailbox, primed with the current snapshot; None when full."""
        if len(self._clients) >= self._max_clients:
            return None
        client = Client(agent_id, wallboard)
        client.queue.put_nowait(_for(client, self.snapshot(max_calls=MAX_SHOWN_CALLS)))
        self._clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        self._clients.discard(client)

    def facts(self, call_id: str) -> CallFacts | None:
        """What the IVR found for a recent call (kept after the call left the queue)."""
        seen = self._seen.get(call_id)
        return None if seen is None else seen.facts

    def caller(self, call_id: str) -> CallerCard | None:
        """Who a recent call is from and what the IVR heard (kept after it left the queue)."""
        seen = self._seen.get(call_id)
        return None if seen is None else seen.caller

    def offered_to(self, call_id: str) -> str | None:
        """The agent a recent call was last offered to."""
        return self._offered_to.get(call_id)

    def add_part(self, name: str, part: Callable[[], Any]) -> None:
        """``part()`` goes into every snapshot as ``name`` (call ``refresh`` on a change)."""
        self._parts[name] = part

    def refresh(self) -> None:
        """Something shown changed outside the ACD: push a new snapshot soon."""
        self._changed.set()

    def _threshold_table(self) -> Thresholds:
        config = self._queues_config()
        if self._table is None or self._table[0] is not config:
            self._table = (config, config.threshold_table())
        return self._table[1]

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
            self._seen.pop(event.call_id, None)  # queued again: newest last
            self._seen[event.call_id] = (
                Seen(CallFacts(tier=event.tier, call_type=event.call_type), CallerCard())
                if call is None
                else Seen(call.facts, call.caller)
            )
            while len(self._seen) > MAX_REMEMBERED_CALLS:
                del self._seen[next(iter(self._seen))]
        elif isinstance(event, CallOffered):
            self._offered_to[event.call_id] = event.agent_id
            while len(self._offered_to) > MAX_REMEMBERED_CALLS:
                del self._offered_to[next(iter(self._offered_to))]
            seen = self._seen.get(event.call_id)
            if seen is not None:
                seen.ringing_agent = event.agent_id
        elif isinstance(event, CallRequeued | CallAnswered | CallAbandoned | CallEnded):
            seen = self._seen.get(event.call_id)
            if seen is not None:
                seen.ringing_agent = None
        self._changed.set()

    # the pages' side --------------------------------------------------------------------
    def snapshot(self, *, max_calls: int | None = None) -> dict[str, Any]:
        """Everything the supervisor's page shows; ``max_calls``: a queue's callers listed
        (the pages get the ``MAX_SHOWN_CALLS`` most urgent; every caller is counted)."""
        now = self._acd.now()
        link = None if self._link is None else self._link.status()
        live = live_state(self._acd, self._seen, now, link, max_calls=max_calls)
        wall = now + self._offset
        kpis = self.kpis.payload(wall)
        for queue in live["queues"]:
            queue.update(kpis["queues"].get(queue["name"]) or kpis["queues"][""])
        occupancy = kpis["agent_occupancy"]
        for agent in live["agents"]:
            agent["occupancy"] = occupancy.get(agent["agent_id"])
        return {
            **live,
            **{k: v for k, v in kpis.items() if k not in ("queues", "agent_occupancy")},
            "quality": None if self._quality is None else self._quality.figures(),
            #: wall-clock epoch seconds of this snapshot: the pages' clocks tick from it
            "server_time": round(wall, 3),
            "thresholds": self.thresholds.apply(live["queues"], round(wall, 3)),
            **{name: part() for name, part in self._parts.items()},
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
                self._broadcast(self.snapshot(max_calls=MAX_SHOWN_CALLS))
            await asyncio.sleep(self._min_interval_s)

    def _broadcast(self, snapshot: dict[str, Any]) -> None:
        # each shared form made once, if any page wants it; an agent's row per agent
        shared: dict[bool, str] = {}
        rows: dict[str, Any] | None = None
        for client in list(self._clients):
            if client.agent_id is not None:
                if rows is None:
                    rows = {a["agent_id"]: a for a in snapshot["agents"]}
                text = json.dumps({"agent": rows.get(client.agent_id)}, default=str)
            elif client.wallboard in shared:
                text = shared[client.wallboard]
            else:
                text = shared[client.wallboard] = _for(client, snapshot)
            try:
                client.queue.put_nowait(text)
            except asyncio.QueueFull:
                self._clients.discard(client)
                client.dropped.set()
                self.dropped_clients += 1
                log.warning("supervisor page dropped: it did not keep up")


def _capacity(acd: AcdService, agent_id: str) -> Capacity:
    """An agent's capacity as agents.yaml says now (the phone only if no longer listed)."""
    profile = acd.distributor.agents.get(agent_id)
    return VOICE_ONLY if profile is None else profile.capacity


def _for(client: Client, snapshot: dict[str, Any]) -> str:
    if client.wallboard:
        return json.dumps(wallboard_view(snapshot), default=str)
    if client.agent_id is None:
        return json.dumps(snapshot, default=str)
    mine = [a for a in snapshot["agents"] if a["agent_id"] == client.agent_id]
    return json.dumps({"agent": mine[0] if mine else None}, default=str)
