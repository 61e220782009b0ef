"""KPIs kept as running sums, updated per event in constant time: what the live page reads.

``KpiAggregate`` folds the same event records as ``acd.kpi_recount.KpiAccumulator``, with the
same definitions (``acd.kpi``'s docstring), but never keeps the day's tasks: each event adds
to the counters and sums of the cells its task belongs to, and a report only adds cells up.
A task belongs to the cells of its entry time, its queue (where it ends, after a
supervisor's move) and its channel (``acd.contacts``):

* a **slice** of ``SLICE_S`` (one minute), kept for the last hour: the rolling 15-, 30- and
  60-minute windows, useful from the first minute of a day;
* an **interval** of ``interval_s`` (15 minutes) on wall-clock edges: the fixed intervals;
* the **day**, from ``day_start`` (local midnight, set by ``start_day``).

A task's own state is kept only while it is in progress (waiting, ringing or reserved,
handled; the agent's wrap-up after it), plus a bounded memory of tasks that left the
queue, so that a task queued again under the same id (an overflow to another queue) counts
once, in the queue where it ends. Agents' time (``acd.kpi_agent_time``) is split at slice,
interval and day edges as it is spent; what each agent is doing at once (their phone, the
digital tasks in hand: occupancy, agent time per task, capacity) is ``acd.kpi_work``'s. The
backlog (``acd.kpi_backlog``) is kept per queue and channel as tasks join and leave, and
taken at each interval edge.

Records are folded with the **run** that wrote them (the event log's key prefix): the
state of a run's tasks and agents is its own, so runs may be folded in any order (today's
earlier runs from the log while the current run's records arrive live). ``close_run``
ends a run that stopped: its open agent time ends at its last event, and its tasks still
in progress count as ``failed`` exits (the service stopped during them, as the history
records them) or, answered, as answered without a handle time.

Times are seconds on one clock (the hub uses wall-clock epoch seconds); nothing here
reads a clock: ``now`` is handed to every report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from acd.capacity import VOICE_ONLY, Capacity
from acd.contacts import CALLBACK, VOICE_SEAT, channel_of, exit_outcome
from acd.events import (
    AgentStateChanged,
    AgentTaskChanged,
    CallAbandoned,
    CallAnswered,
    CallbackSettled,
    CallEnded,
    CallHoldChanged,
    CallMoved,
    CallOffered,
    CallQueued,
    EventRecord,
)
from acd.kpi import NO_WAIT_S, CallKpis, KpiReport, SlPolicy, counted_from, gave_up
from acd.kpi_agent_time import SLICE_S, AgentTime, open_time
from acd.kpi_backlog import EdgeBacklogs, Key, Waiting, combine
from acd.kpi_run import Run, Task, end_hold, held, offered, remember
from acd.kpi_tally import Tally, report_of
from acd.kpi_work import AgentWork
from history.outcomes import Outcome

__all__ = [
    "FOLDED_EVENTS",
    "ROLLING_WINDOWS_S",
    "SLICE_S",
    "CapacityOf",
    "KpiAggregate",
    "Tally",
]

#: The rolling windows beside the fixed intervals.
ROLLING_WINDOWS_S = (900.0, 1800.0, 3600.0)
#: Slices kept: the longest window, plus the slice it starts in.
KEEP_SLICES = int(max(ROLLING_WINDOWS_S) // SLICE_S) + 1
#: An agent's capacity (agents.yaml) by their id.
CapacityOf = Callable[[str], Capacity]

#: The events ``KpiAggregate.add`` folds (others, such as offers' explanations, rejections
#: and reloads, change no figure): what a rebuild reads back from the log.
FOLDED_EVENTS = (
    AgentStateChanged,
    AgentTaskChanged,
    CallAbandoned,
    CallAnswered,
    CallbackSettled,
    CallEnded,
    CallHoldChanged,
    CallMoved,
    CallOffered,
    CallQueued,
)


def _voice_only(agent_id: str) -> Capacity:
    return VOICE_ONLY


class KpiAggregate:
    def __init__(
        self,
        policy: SlPolicy | None = None,
        *,
        interval_s: float = 900.0,
        day_start: float = -math.inf,
        capacity: CapacityOf | None = None,
    ) -> None:
        self.policy = SlPolicy() if policy is None else policy
        self.interval_s = interval_s
        self.day_start = day_start
        #: Each agent's capacity, read when the agent is first seen and at each login (none
        #: by default: the phone only).
        self.capacity = _voice_only if capacity is None else capacity
        self._runs: dict[str, Run] = {}
        self._slices: dict[int, dict[Key, Tally]] = {}
        self._intervals: dict[int, dict[Key, Tally]] = {}
        self._day: dict[Key, Tally] = {}
        self._time = AgentTime(interval_s, day_start, KEEP_SLICES)
        self._edges = EdgeBacklogs(interval_s)
        self._newest_slice = -math.inf
        self.events = 0
        self.last = -math.inf
        #: How each kind of event is folded (the others change no figure).
        self._fold: dict[type, Callable[[Run, Any, float], None]] = {
            AgentStateChanged: self._agent_state,
            AgentTaskChanged: self._agent_task,
            CallQueued: self._queued,
            CallOffered: offered,
            CallAnswered: self._answered,
            CallEnded: self._ended,
            CallAbandoned: self._abandoned,
            CallMoved: self._moved,
            CallHoldChanged: held,
            CallbackSettled: self._settled,
        }
        assert set(self._fold) == set(FOLDED_EVENTS)

    # folding ------------------------------------------------------------------------------
    def add(self, record: EventRecord, run: str = "") -> None:
        """Fold one record of ``run``: constant time (agent time: per edge it crosses and
        task in hand)."""
        at, e = record.at, record.event
        state = self._runs.get(run)
        if state is None:
            state = self._runs[run] = Run()
            state.next_edge = self._edges.first_edge(at)
        if at >= state.next_edge:
            state.next_edge = self._edges.take(state.backlog, state.next_edge, at)
        if at > state.last:
            state.last = at
        if at > self.last:
            self.last = at
        self.events += 1
        self._advance(at)
        fold = self._fold.get(type(e))
        if fold is not None:
            fold(state, e, at)

    def add_all(self, records: Iterable[EventRecord], run: str = "") -> KpiAggregate:
        for record in records:
            self.add(record, run)
        return self

    def close_run(self, run: str, at: float | None = None) -> None:
        """The run stopped (at its last event, or ``at``): its open agent time ends there and
        its tasks in progress count as the service's failures."""
        state = self._runs.pop(run, None)
        if state is None:
            return
        end = state.last if at is None else at
        for work in state.agents.values():
            work.elapse(end, self._time, state.give)
        for c in state.calls.values():
            end_hold(c, end)
            if c.answered_at is None:
                for cell in c.cells:
                    cell.exits[Outcome.FAILED] = cell.exits.get(Outcome.FAILED, 0) + 1

    @property
    def runs(self) -> tuple[str, ...]:
        return tuple(self._runs)

    def start_day(self, day_start: float) -> None:
        """A new day from ``day_start``: the day's cells start empty, older intervals go."""
        self.day_start = day_start
        self._day = {}
        for k in [k for k in self._intervals if (k + 1) * self.interval_s <= day_start]:
            del self._intervals[k]
        self._time.start_day(day_start)
        self._edges.forget_before(day_start)

    # reports ------------------------------------------------------------------------------
    def day(self, now: float) -> KpiReport:
        start = self.day_start if math.isfinite(self.day_start) else self._first(now)
        return self._report(
            self._day.items(), self._time.day, start, now, self._waiting(), agents=True
        )

    def by_queue_channel(self, now: float) -> dict[Key, CallKpis]:
        """Today's figures of each queue and channel (with the backlog now)."""
        waiting = self._waiting()
        out: dict[Key, CallKpis] = {}
        for key in sorted({*self._day, *waiting}):
            tally = Tally()
            if key in self._day:
                tally.add(self._day[key])
            if key in waiting:
                tally.waiting_now(*waiting[key])
            out[key] = tally.kpis(self.policy, now)
        return out

    def interval(self, start: float, now: float) -> KpiReport:
        """The fixed interval that begins at ``start`` (on an interval edge)."""
        k = math.floor(start / self.interval_s)
        lo, hi = k * self.interval_s, (k + 1) * self.interval_s
        cells = self._intervals.get(k, {}).items()
        times = self._time.intervals.get(k, {})
        waiting = self._waiting(k) if hi <= now else self._waiting()
        return self._report(cells, times, lo, min(hi, now), waiting)

    def intervals(self, now: float) -> list[KpiReport]:
        """Today's intervals with anything in them, oldest first."""
        size = self.interval_s
        keys = sorted(
            k
            for k in set(self._intervals) | set(self._time.intervals)
            if (k + 1) * size > self.day_start and k * size <= now
        )
        return [self.interval(k * size, now) for k in keys]

    def rolling(self, window_s: float, now: float) -> KpiReport:
        """Tasks that entered in the last ``window_s`` (to the minute: from the start of the
        minute ``window_s`` ago), agent time since then, and the backlog now."""
        first = math.floor((now - window_s) / SLICE_S)
        last = math.floor(now / SLICE_S)
        cells: dict[Key, Tally] = {}
        for k in range(max(first, last - KEEP_SLICES + 1), last + 1):
            for key, tally in self._slices.get(k, {}).items():
                cells.setdefault(key, Tally()).add(tally)
        times = self._time.window(first, last)
        return self._report(cells.items(), times, first * SLICE_S, now, self._waiting())

    # internals: tasks --------------------------------------------------------------------
    def _cells(self, entry: float, key: Key) -> tuple[Tally, ...]:
        cells = [self._intervals.setdefault(math.floor(entry / self.interval_s), {})]
        s = math.floor(entry / SLICE_S)
        if s > self._newest_slice - KEEP_SLICES:
            cells.append(self._slices.setdefault(s, {}))
        if entry >= self.day_start:
            cells.append(self._day)
        return tuple(by_key.setdefault(key, Tally()) for by_key in cells)

    def _queued(self, run: Run, e: CallQueued, at: float) -> None:
        again = run.left.pop(e.call_id, None) or run.calls.pop(e.call_id, None)
        if again is not None:  # queued again (an overflow): it counts where it ends
            for cell in again.cells:
                cell.offered -= 1
                if again.exit is not None:
                    cell.exits[again.exit] -= 1
        channel = channel_of(e.call_id, e.channel)
        entry = counted_from(e, channel, at)
        c = Task(e.queue, channel, entry, self._cells(entry, (e.queue, channel)))
        for cell in c.cells:
            cell.offered += 1
        run.calls[e.call_id] = c
        run.backlog.join(e.call_id, (e.queue, channel), entry)

    def _moved(self, run: Run, e: CallMoved, at: float) -> None:
        c = run.calls.get(e.call_id)
        if c is None or e.queue == c.queue:
            return
        for cell in c.cells:
            cell.offered -= 1
        queue = e.queue
        c.queue, c.cells = queue, self._cells(c.entry, (queue, c.channel))
        for cell in c.cells:
            cell.offered += 1
        run.backlog.move(e.call_id, (queue, c.channel))

    def _answered(self, run: Run, e: CallAnswered, at: float) -> None:
        c = run.calls.get(e.call_id)
        if c is None or c.answered_at is not None:
            return
        run.backlog.leave(e.call_id)
        c.answered_at, c.agent_id = at, e.agent_id
        wait = at - c.entry
        within = wait <= self.policy.target(c.queue, c.channel)
        queued = (at if c.offered_at is None else c.offered_at) - c.entry
        waited = queued > NO_WAIT_S
        for cell in c.cells:
            cell.answered += 1
            cell.wait_sum += wait
            cell.a_t += within
            cell.waited += waited
            cell.longest = max(cell.longest, wait)

    def _ended(self, run: Run, e: CallEnded, at: float) -> None:
        call_id = e.call_id
        c = run.calls.get(call_id)
        if c is None or c.answered_at is None:
            return
        del run.calls[call_id]
        end_hold(c, at)
        talk = at - c.answered_at - c.hold_s
        for cell in c.cells:
            cell.handled += 1
            cell.talk_sum += talk
            cell.hold_sum += c.hold_s
            cell.agent_sum += c.agent_s
        if c.entry >= self.day_start and c.agent_id is not None:
            self._time.handled(c.agent_id, talk, c.hold_s)
        work = None if c.agent_id is None else run.agents.get(c.agent_id)
        # a digital task is remembered while in wrap-up: its wrap and agent time are to come
        if c.channel in VOICE_SEAT or (work is not None and work.in_hand(call_id)):
            remember(run.ended, call_id, c)

    def _abandoned(self, run: Run, e: CallAbandoned, at: float) -> None:
        c = run.calls.get(e.call_id)
        if c is None or c.answered_at is not None:
            return
        del run.calls[e.call_id]
        run.backlog.leave(e.call_id)
        if not gave_up(e, c.channel):
            c.exit = exit_outcome(e.reason, c.channel)
            for cell in c.cells:
                cell.exits[c.exit] = cell.exits.get(c.exit, 0) + 1
            remember(run.left, e.call_id, c)
            return
        wait = at - c.entry
        if wait < self.policy.short_abandon_s:
            for cell in c.cells:
                cell.short += 1
            return
        within = wait <= self.policy.target(c.queue, c.channel)
        waited = c.offered_at is None or c.offered_at - c.entry > NO_WAIT_S
        for cell in c.cells:
            cell.abandoned += 1
            cell.ringing += e.during_offer
            cell.ab_t += within
            cell.waited += waited
            cell.longest = max(cell.longest, wait)

    def _settled(self, run: Run, e: CallbackSettled, at: float) -> None:
        c = run.ended.get(e.call_id) or run.calls.get(e.call_id)
        if c is None or c.channel != CALLBACK or c.answered_at is None or c.exit is not None:
            return
        c.exit = e.outcome  # settled once
        for cell in c.cells:
            if e.outcome == Outcome.CALLBACK_COMPLETED:
                cell.completed += 1
            else:
                cell.failed += 1

    # internals: agents --------------------------------------------------------------------
    def _work(self, run: Run, agent_id: str, seat: str, at: float) -> AgentWork:
        """The agent's work, their time counted up to ``at``."""
        work = run.agents.get(agent_id)
        if work is None:
            work = run.agents[agent_id] = AgentWork(agent_id, seat, at, self.capacity(agent_id))
        else:
            work.elapse(at, self._time, run.give)
        return work

    def _agent_state(self, run: Run, e: AgentStateChanged, at: float) -> None:
        work = self._work(run, e.agent_id, e.before, at)
        if work.seat == "wrap_up" and e.call_id is not None:
            c = run.ended.get(e.call_id)
            if c is not None:
                for cell in c.cells:
                    cell.wrap_sum += at - work.seat_since
                if e.after != "wrap_up" and c.channel != CALLBACK:
                    del run.ended[e.call_id]
        if e.event == "ring_no_answer":
            self._time.rona(e.agent_id, at)
        if work.seat == "logged_out" and e.after != "logged_out":
            work.new_capacity(self.capacity(e.agent_id))
        work.seat_changed(e.after, e.call_id, at)

    def _agent_task(self, run: Run, e: AgentTaskChanged, at: float) -> None:
        work = self._work(run, e.agent_id, "logged_out", at)
        wrap = work.task_changed(e.call_id, e.channel, e.after, at)
        if wrap is not None and (c := run.ended.pop(e.call_id, None)) is not None:
            for cell in c.cells:
                cell.wrap_sum += wrap

    def _advance(self, at: float) -> None:
        """A new minute: slices older than the longest window go."""
        s = math.floor(at / SLICE_S)
        if s <= self._newest_slice:
            return
        self._newest_slice = s
        for k in [k for k in self._slices if k <= s - KEEP_SLICES]:
            del self._slices[k]
        self._time.advance(s)

    def _first(self, now: float) -> float:
        keys = list(self._intervals) + list(self._time.intervals)
        return min(keys) * self.interval_s if keys else now

    def _waiting(self, k: int | None = None) -> dict[Key, Waiting]:
        """The backlog now, or (``k``) at the end edge of interval ``k``: what runs left there,
        and the backlog now of runs with no event since (their backlog then)."""
        if k is None:
            return combine(r.backlog.now() for r in self._runs.values())
        edge = (k + 1) * self.interval_s
        quiet = (r.backlog.now() for r in self._runs.values() if r.next_edge <= edge)
        return combine((self._edges.of(k), *quiet))

    def _report(
        self,
        cells: Iterable[tuple[Key, Tally]],
        closed_time: Mapping[str, float],
        start: float,
        end: float,
        waiting: Mapping[Key, Waiting],
        *,
        agents: bool = False,
    ) -> KpiReport:
        """The figures of ``cells`` and agents' time from ``start`` to ``end``, with the
        backlog ``waiting`` at ``end``."""
        times = dict(closed_time)
        working = [w for r in self._runs.values() for w in r.agents.values()]
        for key, v in open_time(working, start, end).items():
            times[key] = times.get(key, 0.0) + v
        rows = self._time.agent_rows(self._working(), end) if agents else ()
        return report_of(cells, waiting, times, rows, self.policy, start, end)

    def _working(self) -> Iterable[tuple[str, AgentWork]]:
        for run in self._runs.values():
            yield from run.agents.items()
