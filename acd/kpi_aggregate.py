"""KPIs kept as running sums, updated per event in constant time: what the live page reads.

``KpiAggregate`` folds the same event records as ``acd.kpi.KpiAccumulator``, with the same
definitions (``acd.kpi``'s docstring), but never keeps the day's calls: each event adds to
the counters and sums of the cells its call belongs to, and a report only adds cells up.
A call belongs to the cells of its entry time, its queue (where it ends, after a
supervisor's move) and its channel (``acd.contacts``):

* a **slice** of ``SLICE_S`` (one minute), kept for the last hour: the rolling 15-, 30- and
  60-minute windows, useful from the first minute of a day;
* an **interval** of ``interval_s`` (15 minutes) on wall-clock edges: the fixed intervals;
* the **day**, from ``day_start`` (local midnight, set by ``start_day``).

A call's own state is kept only while it is in progress (waiting, ringing, talking; the
agent's wrap-up after it), plus a bounded memory of calls that left the queue, so that a
call queued again under the same id (an overflow to another queue) counts once, in the
queue where it ends. Agent time is split at slice, interval and day edges as it is spent.

Records are folded with the **run** that wrote them (the event log's key prefix): the
state of a run's calls and agents is its own, so runs may be folded in any order (today's
earlier runs from the log while the current run's records arrive live). ``close_run``
ends a run that stopped: its open agent time ends at its last event, and its calls still
in progress count as ``failed`` exits (the service stopped during them, as the history
records them) or, answered, as answered without a handle time.

Times are seconds on one clock (the hub uses wall-clock epoch seconds); nothing here
reads a clock: ``now`` is handed to every report.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from acd.contacts import CALLBACK, VOICE, channel_of, exit_outcome
from acd.events import (
    AgentStateChanged,
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
from acd.kpi import (
    BUSY_STATES,
    NO_WAIT_S,
    RONA_KEY,
    AgentKpi,
    CallbackKpis,
    CallKpis,
    KpiReport,
    SlPolicy,
)
from acd.kpi_tally import Tally, ratio
from history.outcomes import Outcome

__all__ = ["FOLDED_EVENTS", "ROLLING_WINDOWS_S", "SLICE_S", "KpiAggregate", "Tally"]

SLICE_S = 60.0
#: The rolling windows beside the fixed intervals.
ROLLING_WINDOWS_S = (900.0, 1800.0, 3600.0)
#: Slices kept: the longest window, plus the slice it starts in.
KEEP_SLICES = int(max(ROLLING_WINDOWS_S) // SLICE_S) + 1
#: Calls that left a queue, remembered in case they are queued again under the same id.
REMEMBERED_EXITS = 5000

Key = tuple[str, str]  # (queue, channel)
#: The events ``KpiAggregate.add`` folds (others, such as offers' explanations, rejections
#: and reloads, change no figure): what a rebuild reads back from the log.
FOLDED_EVENTS = (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallbackSettled,
    CallEnded,
    CallHoldChanged,
    CallMoved,
    CallOffered,
    CallQueued,
)


class _Call:
    __slots__ = (
        "agent_id",
        "answered_at",
        "cells",
        "channel",
        "entry",
        "exit",
        "hold_s",
        "hold_since",
        "offered_at",
        "queue",
    )

    def __init__(self, queue: str, channel: str, entry: float, cells: tuple[Tally, ...]) -> None:
        self.queue, self.channel, self.entry, self.cells = queue, channel, entry, cells
        self.offered_at: float | None = None
        self.answered_at: float | None = None
        self.agent_id: str | None = None
        self.hold_s = 0.0
        self.hold_since: float | None = None
        #: The outcome of its exit from the queue, if it left without an agent.
        self.exit: str | None = None


class _Agent:
    __slots__ = ("since", "state")

    def __init__(self, state: str, since: float) -> None:
        self.state, self.since = state, since


@dataclass(slots=True)
class _AgentDay:
    times: dict[str, float] = field(default_factory=dict)
    calls: int = 0
    talk_s: float = 0.0
    hold_s: float = 0.0


class _Run:
    __slots__ = ("agents", "calls", "ended", "last", "left")

    def __init__(self) -> None:
        self.calls: dict[str, _Call] = {}
        self.agents: dict[str, _Agent] = {}
        #: Calls over, until their agent's wrap-up ends (and callback attempts until settled).
        self.ended: OrderedDict[str, _Call] = OrderedDict()
        self.left: OrderedDict[str, _Call] = OrderedDict()
        self.last = -math.inf


class KpiAggregate:
    def __init__(
        self,
        policy: SlPolicy | None = None,
        *,
        interval_s: float = 900.0,
        day_start: float = -math.inf,
    ) -> None:
        self.policy = SlPolicy() if policy is None else policy
        self.interval_s = interval_s
        self.day_start = day_start
        self._runs: dict[str, _Run] = {}
        self._slices: dict[int, dict[Key, Tally]] = {}
        self._intervals: dict[int, dict[Key, Tally]] = {}
        self._day: dict[Key, Tally] = {}
        self._slice_time: dict[int, dict[str, float]] = {}
        self._interval_time: dict[int, dict[str, float]] = {}
        self._day_time: dict[str, float] = {}
        self._agent_day: dict[str, _AgentDay] = {}
        self._newest_slice = -math.inf
        self.events = 0
        self.last = -math.inf

    # folding ------------------------------------------------------------------------------
    def add(self, record: EventRecord, run: str = "") -> None:
        """Fold one record of ``run``: constant time (agent time: per edge it crosses)."""
        at, e = record.at, record.event
        state = self._runs.get(run)
        if state is None:
            state = self._runs[run] = _Run()
        state.last = max(state.last, at)
        self.last = max(self.last, at)
        self.events += 1
        self._advance(at)
        if isinstance(e, AgentStateChanged):
            self._agent_state(state, e, at)
        elif isinstance(e, CallQueued):
            self._queued(state, e)
        elif isinstance(e, CallOffered):
            if (c := state.calls.get(e.call_id)) is not None and c.offered_at is None:
                c.offered_at = at
        elif isinstance(e, CallAnswered):
            if (c := state.calls.get(e.call_id)) is not None and c.answered_at is None:
                self._answered(c, e.agent_id, at)
        elif isinstance(e, CallEnded):
            self._ended(state, e.call_id, at)
        elif isinstance(e, CallAbandoned):
            self._abandoned(state, e, at)
        elif isinstance(e, CallMoved):
            if (c := state.calls.get(e.call_id)) is not None and e.queue != c.queue:
                self._move(c, e.queue)
        elif isinstance(e, CallHoldChanged):
            if (c := state.calls.get(e.call_id)) is not None:
                if e.on_hold:
                    c.hold_since = at if c.hold_since is None else c.hold_since
                else:
                    _end_hold(c, at)
        elif isinstance(e, CallbackSettled):
            self._settled(state, e)

    def add_all(self, records: Iterable[EventRecord], run: str = "") -> KpiAggregate:
        for record in records:
            self.add(record, run)
        return self

    def close_run(self, run: str, at: float | None = None) -> None:
        """The run stopped (at its last event, or ``at``): its open agent time ends there and
        its calls in progress count as the service's failures."""
        state = self._runs.pop(run, None)
        if state is None:
            return
        end = state.last if at is None else at
        for agent_id, agent in state.agents.items():
            self._spend(agent_id, agent.state, agent.since, end)
        for c in state.calls.values():
            _end_hold(c, end)
            if c.answered_at is None:
                for cell in c.cells:
                    cell.exits[Outcome.FAILED] = cell.exits.get(Outcome.FAILED, 0) + 1

    @property
    def runs(self) -> tuple[str, ...]:
        return tuple(self._runs)

    def start_day(self, day_start: float) -> None:
        """A new day from ``day_start``: the day's cells start empty, older intervals go."""
        self.day_start = day_start
        self._day, self._day_time, self._agent_day = {}, {}, {}
        for k in [k for k in self._intervals if (k + 1) * self.interval_s <= day_start]:
            del self._intervals[k]
        for k in [k for k in self._interval_time if (k + 1) * self.interval_s <= day_start]:
            del self._interval_time[k]

    # reports ------------------------------------------------------------------------------
    def day(self, now: float) -> KpiReport:
        start = self.day_start if math.isfinite(self.day_start) else self._first(now)
        return self._report(self._day.items(), self._day_time, start, now, now, agents=True)

    def by_queue_channel(self, now: float) -> dict[Key, CallKpis]:
        """Today's figures of each queue and channel."""
        return {key: tally.kpis(self.policy) for key, tally in sorted(self._day.items())}

    def interval(self, start: float, now: float) -> KpiReport:
        """The fixed interval that begins at ``start`` (on an interval edge)."""
        k = math.floor(start / self.interval_s)
        lo, hi = k * self.interval_s, (k + 1) * self.interval_s
        cells = self._intervals.get(k, {}).items()
        return self._report(cells, self._interval_time.get(k, {}), lo, min(hi, now), now)

    def intervals(self, now: float) -> list[KpiReport]:
        """Today's intervals with anything in them, oldest first."""
        size = self.interval_s
        keys = sorted(
            k
            for k in set(self._intervals) | set(self._interval_time)
            if (k + 1) * size > self.day_start and k * size <= now
        )
        return [self.interval(k * size, now) for k in keys]

    def rolling(self, window_s: float, now: float) -> KpiReport:
        """Calls that entered in the last ``window_s`` (to the minute: from the start of the
        minute ``window_s`` ago) and agent time since then."""
        first = math.floor((now - window_s) / SLICE_S)
        last = math.floor(now / SLICE_S)
        cells: dict[Key, Tally] = {}
        times: dict[str, float] = {}
        for k in range(max(first, last - KEEP_SLICES + 1), last + 1):
            for key, tally in self._slices.get(k, {}).items():
                cells.setdefault(key, Tally()).add(tally)
            for s, v in self._slice_time.get(k, {}).items():
                times[s] = times.get(s, 0.0) + v
        return self._report(cells.items(), times, first * SLICE_S, now, now)

    # internals: calls --------------------------------------------------------------------
    def _cells(self, entry: float, key: Key) -> tuple[Tally, ...]:
        cells = [self._intervals.setdefault(math.floor(entry / self.interval_s), {})]
        s = math.floor(entry / SLICE_S)
        if s > self._newest_slice - KEEP_SLICES:
            cells.append(self._slices.setdefault(s, {}))
        if entry >= self.day_start:
            cells.append(self._day)
        return tuple(by_key.setdefault(key, Tally()) for by_key in cells)

    def _queued(self, run: _Run, e: CallQueued) -> None:
        again = run.left.pop(e.call_id, None) or run.calls.pop(e.call_id, None)
        if again is not None:  # queued again (an overflow): it counts where it ends
            for cell in again.cells:
                cell.offered -= 1
                if again.exit is not None:
                    cell.exits[again.exit] -= 1
        channel = channel_of(e.call_id, e.channel)
        c = _Call(e.queue, channel, e.entry_time, self._cells(e.entry_time, (e.queue, channel)))
        for cell in c.cells:
            cell.offered += 1
        run.calls[e.call_id] = c

    def _move(self, c: _Call, queue: str) -> None:
        for cell in c.cells:
            cell.offered -= 1
        c.queue, c.cells = queue, self._cells(c.entry, (queue, c.channel))
        for cell in c.cells:
            cell.offered += 1

    def _answered(self, c: _Call, agent_id: str, at: float) -> None:
        c.answered_at, c.agent_id = at, agent_id
        wait = at - c.entry
        within = wait <= self.policy.queue_targets.get(c.queue, self.policy.target_s)
        queued = (at if c.offered_at is None else c.offered_at) - c.entry
        waited = queued > NO_WAIT_S
        for cell in c.cells:
            cell.answered += 1
            cell.wait_sum += wait
            cell.a_t += within
            cell.waited += waited
            cell.longest = max(cell.longest, wait)

    def _ended(self, run: _Run, call_id: str, at: float) -> None:
        c = run.calls.get(call_id)
        if c is None or c.answered_at is None:
            return
        del run.calls[call_id]
        _end_hold(c, at)
        talk = at - c.answered_at - c.hold_s
        for cell in c.cells:
            cell.handled += 1
            cell.talk_sum += talk
            cell.hold_sum += c.hold_s
        if c.entry >= self.day_start and c.agent_id is not None:
            row = self._agent_day.setdefault(c.agent_id, _AgentDay())
            row.calls += 1
            row.talk_s += talk
            row.hold_s += c.hold_s
        _remember(run.ended, call_id, c)

    def _abandoned(self, run: _Run, e: CallAbandoned, at: float) -> None:
        c = run.calls.get(e.call_id)
        if c is None or c.answered_at is not None:
            return
        del run.calls[e.call_id]
        if not e.by_caller:
            c.exit = exit_outcome(e.reason, c.channel)
            for cell in c.cells:
                cell.exits[c.exit] = cell.exits.get(c.exit, 0) + 1
            _remember(run.left, e.call_id, c)
            return
        wait = at - c.entry
        if wait < self.policy.short_abandon_s:
            for cell in c.cells:
                cell.short += 1
            return
        within = wait <= self.policy.queue_targets.get(c.queue, self.policy.target_s)
        waited = c.offered_at is None or c.offered_at - c.entry > NO_WAIT_S
        for cell in c.cells:
            cell.abandoned += 1
            cell.ringing += e.during_offer
            cell.ab_t += within
            cell.waited += waited
            cell.longest = max(cell.longest, wait)

    def _settled(self, run: _Run, e: CallbackSettled) -> None:
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
    def _agent_state(self, run: _Run, e: AgentStateChanged, at: float) -> None:
        agent = run.agents.get(e.agent_id)
        if agent is None:
            agent = run.agents[e.agent_id] = _Agent(e.before, at)
        self._spend(e.agent_id, agent.state, agent.since, at)
        if agent.state == "wrap_up" and e.call_id is not None:
            c = run.ended.get(e.call_id)
            if c is not None:
                for cell in c.cells:
                    cell.wrap_sum += at - agent.since
                if e.after != "wrap_up" and c.channel != CALLBACK:
                    del run.ended[e.call_id]
        if e.event == "ring_no_answer":
            self._rona(e.agent_id, at)
        agent.state, agent.since = e.after, at

    def _rona(self, agent_id: str, at: float) -> None:
        for times in self._time_cells(at):
            times[RONA_KEY] = times.get(RONA_KEY, 0.0) + 1
        if at >= self.day_start:
            row = self._agent_day.setdefault(agent_id, _AgentDay()).times
            row[RONA_KEY] = row.get(RONA_KEY, 0.0) + 1

    def _time_cells(self, at: float) -> list[dict[str, float]]:
        cells = [self._interval_time.setdefault(math.floor(at / self.interval_s), {})]
        s = math.floor(at / SLICE_S)
        if s > self._newest_slice - KEEP_SLICES:
            cells.append(self._slice_time.setdefault(s, {}))
        if at >= self.day_start:
            cells.append(self._day_time)
        return cells

    def _spend(self, agent_id: str, state: str, lo: float, hi: float) -> None:
        if hi <= lo:
            return
        day_lo = max(lo, self.day_start)
        if hi > day_lo:
            self._day_time[state] = self._day_time.get(state, 0.0) + hi - day_lo
            row = self._agent_day.setdefault(agent_id, _AgentDay()).times
            row[state] = row.get(state, 0.0) + hi - day_lo
        _split(self._interval_time, self.interval_s, state, lo, hi)
        oldest = (self._newest_slice - KEEP_SLICES + 1) * SLICE_S
        if hi > oldest:
            _split(self._slice_time, SLICE_S, state, max(lo, oldest), hi)

    def _advance(self, at: float) -> None:
        """A new minute: slices older than the longest window go."""
        s = math.floor(at / SLICE_S)
        if s <= self._newest_slice:
            return
        self._newest_slice = s
        for table in (self._slices, self._slice_time):
            for k in [k for k in table if k <= s - KEEP_SLICES]:
                del table[k]

    def _first(self, now: float) -> float:
        keys = list(self._intervals) + list(self._interval_time)
        return min(keys) * self.interval_s if keys else now

    def _open_time(self, lo: float, hi: float) -> dict[str, float]:
        """Agents' current stretches within [lo, hi), by state."""
        times: dict[str, float] = {}
        for run in self._runs.values():
            for agent in run.agents.values():
                span = hi - max(agent.since, lo)
                if span > 0:
                    times[agent.state] = times.get(agent.state, 0.0) + span
        return times

    def _report(
        self,
        cells: Iterable[tuple[Key, Tally]],
        closed_time: dict[str, float],
        start: float,
        end: float,
        now: float,
        *,
        agents: bool = False,
    ) -> KpiReport:
        voice = Tally()
        by_queue: dict[str, Tally] = {}
        by_channel: dict[str, Tally] = {}
        for (queue, channel), tally in cells:
            by_channel.setdefault(channel, Tally()).add(tally)
            if channel == VOICE:
                voice.add(tally)
                by_queue.setdefault(queue, Tally()).add(tally)
        times = dict(closed_time)
        for s, v in self._open_time(start, end).items():
            times[s] = times.get(s, 0.0) + v
        busy = sum(times.get(s, 0.0) for s in BUSY_STATES)
        idle = times.get("available", 0.0)
        policy = self.policy
        back = by_channel.get(CALLBACK, Tally())
        return KpiReport(
            start=start,
            end=end,
            calls=voice.kpis(policy),
            occupancy=ratio(busy, busy + idle),
            by_queue={q: t.kpis(policy) for q, t in sorted(by_queue.items())},
            agents=self._agent_rows(now) if agents else (),
            by_channel={ch: t.kpis(policy) for ch, t in sorted(by_channel.items())},
            callbacks=CallbackKpis(
                requested=voice.exits.get(Outcome.CALLBACK_REQUESTED, 0),
                attempts=back.offered,
                connected=back.answered,
                completed=back.completed,
                failed=back.failed + back.exits.get(Outcome.CALLBACK_FAILED, 0),
            ),
        )

    def _agent_rows(self, now: float) -> tuple[AgentKpi, ...]:
        rows = {a: (d, dict(d.times)) for a, d in self._agent_day.items()}
        for run in self._runs.values():
            for agent_id, agent in run.agents.items():
                span = now - max(agent.since, self.day_start)
                if span > 0:
                    day, times = rows.setdefault(agent_id, (_AgentDay(), {}))
                    times[agent.state] = times.get(agent.state, 0.0) + span
        out = []
        for agent_id, (day, t) in sorted(rows.items()):
            busy = sum(t.get(s, 0.0) for s in BUSY_STATES)
            out.append(
                AgentKpi(
                    agent_id,
                    day.calls,
                    day.talk_s,
                    day.hold_s,
                    t.get("wrap_up", 0.0),
                    t.get("paused", 0.0),
                    t.get("available", 0.0),
                    sum(v for s, v in t.items() if s not in ("logged_out", RONA_KEY)),
                    int(t.get(RONA_KEY, 0)),
                    ratio(busy, busy + t.get("available", 0.0)),
                )
            )
        return tuple(out)


def _end_hold(c: _Call, at: float) -> None:
    if c.hold_since is not None:
        c.hold_s += at - c.hold_since
        c.hold_since = None


def _remember(memory: OrderedDict[str, _Call], call_id: str, c: _Call) -> None:
    memory[call_id] = c
    if len(memory) > REMEMBERED_EXITS:
        memory.popitem(last=False)


def _split(
    table: dict[int, dict[str, float]], size: float, state: str, lo: float, hi: float
) -> None:
    k = math.floor(lo / size)
    while lo < hi:
        edge = min(hi, (k + 1) * size)
        row = table.setdefault(k, {})
        row[state] = row.get(state, 0.0) + edge - lo
        lo, k = edge, k + 1
