"""The KPIs of ``acd.kpi`` by a full recount: every task of the log is kept, and a report
goes over them. The reference the running sums (``acd.kpi_aggregate``) are checked against,
and what reports and the simulator use.

A task queued again under the same id (an overflow to another queue) keeps the time it was
first queued, and is in the backlog of the queue where it ends, as a moved one is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from acd.capacity import VOICE_ONLY, Capacity
from acd.contacts import VOICE, channel_of, exit_outcome
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
from acd.kpi import (
    DIGITAL_WORK,
    AgentKpi,
    CallKpis,
    CallOutcome,
    KpiReport,
    SlPolicy,
    call_kpis,
    callback_kpis,
    counted_from,
    gave_up,
    overall_channels,
)
from acd.kpi_work import IDLE, RONA_KEY, AgentWork, Rates, capacity_use, occupancy, staffed_s

__all__ = ["CapacityOf", "KpiAccumulator", "compute_kpis"]

#: An agent's capacity (agents.yaml) by their id.
CapacityOf = Callable[[str], Capacity]
DEFAULT_POLICY = SlPolicy()


def _voice_only(agent_id: str) -> Capacity:
    return VOICE_ONLY


class _AgentClock:
    __slots__ = ("times", "work")

    def __init__(self, work: AgentWork) -> None:
        self.work = work
        #: seconds per activity, used:/slots: task- and slot-seconds, RONA_KEY: a count
        self.times: dict[str, float] = {}


class KpiAccumulator:
    """Folds event records into KPIs; feed it a stored log or subscribe it to a live one.
    ``capacity``: each agent's (for the utilisation of capacity; none by default)."""

    def __init__(
        self,
        policy: SlPolicy = DEFAULT_POLICY,
        *,
        interval_s: float | None = None,
        capacity: CapacityOf = _voice_only,
    ) -> None:
        self.policy = policy
        self.interval_s = interval_s
        self.capacity = capacity
        self.calls: dict[str, CallOutcome] = {}
        self._agents: dict[str, _AgentClock] = {}
        self._buckets: dict[int, dict[str, dict[str, float]]] = {}
        self.start: float | None = None
        self.last: float = 0.0

    def add(self, record: EventRecord) -> None:
        at, e = record.at, record.event
        if self.start is None:
            self.start = at
        self.last = at
        fold = _FOLDS.get(type(e))
        if fold is not None:
            fold(self, e, at)

    def _queued(self, e: CallQueued, at: float) -> None:
        before = self.calls.get(e.call_id)
        channel = channel_of(e.call_id, e.channel)
        self.calls[e.call_id] = CallOutcome(
            e.call_id,
            e.queue,
            counted_from(e, channel, at),
            e.call_type,
            channel=channel,
            queued_at=at if before is None else before.queued_at,
        )

    def _offered(self, e: CallOffered, at: float) -> None:
        if (c := self.calls.get(e.call_id)) is not None and c.offered_at is None:
            c.offered_at = at

    def _answered(self, e: CallAnswered, at: float) -> None:
        if (c := self.calls.get(e.call_id)) is not None and c.answered_at is None:
            c.answered_at, c.agent_id = at, e.agent_id

    def _ended(self, e: CallEnded, at: float) -> None:
        if (c := self.calls.get(e.call_id)) is not None and c.answered_at is not None:
            self._end_hold(c, at)
            c.ended_at = at

    def _abandoned(self, e: CallAbandoned, at: float) -> None:
        if (c := self.calls.get(e.call_id)) is not None:
            if gave_up(e, c.channel):
                c.abandoned_at, c.during_offer = at, e.during_offer
            else:
                c.left_at, c.left_as = at, exit_outcome(e.reason, c.channel)

    def _moved(self, e: CallMoved, at: float) -> None:
        if (c := self.calls.get(e.call_id)) is not None:
            c.queue = e.queue

    def _settled(self, e: CallbackSettled, at: float) -> None:
        if (c := self.calls.get(e.call_id)) is not None and c.left_as is None:
            c.settled = e.outcome

    def _hold(self, e: CallHoldChanged, at: float) -> None:
        if (c := self.calls.get(e.call_id)) is None:
            return
        if e.on_hold:
            c.hold_since = at if c.hold_since is None else c.hold_since
        else:
            self._end_hold(c, at)

    def add_all(self, records: Iterable[EventRecord]) -> KpiAccumulator:
        for record in records:
            self.add(record)
        return self

    def report(self, end: float | None = None) -> KpiReport:
        end = self.last if end is None else end
        start = self.start if self.start is not None else end
        outcomes = list(self.calls.values())
        agent_rows = {a: self._open_times(a, end, start, end) for a in self._agents}
        waiting = _waiting(self.calls.values(), [(end, False)])[0]
        return self._report(outcomes, agent_rows, start, end, _Backlog(waiting, end))

    def intervals(self, end: float | None = None) -> list[KpiReport]:
        """One report per interval (``interval_s`` must be set), oldest first."""
        if self.interval_s is None:
            raise ValueError("KpiAccumulator was made without interval_s")
        size = self.interval_s
        end = self.last if end is None else end
        by_bucket: dict[int, list[CallOutcome]] = {}
        for c in self.calls.values():
            by_bucket.setdefault(math.floor(c.entry / size), []).append(c)
        keys = sorted(set(by_bucket) | set(self._buckets))
        ends = [min((k + 1) * size, max(end, k * size)) for k in keys]
        points = [(until, until == (k + 1) * size) for k, until in zip(keys, ends, strict=True)]
        waiting = _waiting(self.calls.values(), points)
        reports = []
        for k, until, now_waiting in zip(keys, ends, waiting, strict=True):
            lo, hi = k * size, (k + 1) * size
            rows = {a: self._open_times(a, end, lo, hi, bucket=k) for a in self._agents}
            backlog = _Backlog(now_waiting, until)
            reports.append(self._report(by_bucket.get(k, []), rows, lo, until, backlog))
        return reports

    def window(self, lo: float, hi: float, end: float | None = None) -> KpiReport:
        """The report of the calls that entered in [lo, hi) and of agent time in it (``lo``
        and ``hi`` on interval edges; ``interval_s`` must be set): today, the last interval.
        """
        if self.interval_s is None:
            raise ValueError("KpiAccumulator was made without interval_s")
        end = self.last if end is None else end
        outcomes = [c for c in self.calls.values() if lo <= c.entry < hi]
        rows = self.agent_times(lo, hi, end)
        until = min(hi, max(end, lo))
        waiting = _waiting(self.calls.values(), [(until, until == hi)])[0]
        return self._report(outcomes, rows, lo, until, _Backlog(waiting, until))

    def agent_times(
        self, lo: float, hi: float, end: float | None = None
    ) -> dict[str, dict[str, float]]:
        """Each agent's time in [lo, hi) (on interval edges; ``interval_s`` must be set) by
        the keys ``acd.kpi_work`` counts it under, their open stretch up to ``end``."""
        if self.interval_s is None:
            raise ValueError("KpiAccumulator was made without interval_s")
        size = self.interval_s
        end = self.last if end is None else end
        first, stop = math.floor(lo / size), math.ceil(hi / size) if math.isfinite(hi) else None
        rows: dict[str, dict[str, float]] = {}
        for agent_id, agent in self._agents.items():
            row: dict[str, float] = {}
            for k, cells in self._buckets.items():
                if k >= first and (stop is None or k < stop):
                    for state, value in cells.get(agent_id, {}).items():
                        row[state] = row.get(state, 0.0) + value
            _add_open(row, agent.work, max(agent.work.since, lo), min(end, hi))
            rows[agent_id] = row
        return rows

    def forget_before(self, at: float) -> None:
        """Drop calls that entered before ``at`` and are over, and interval cells that end
        by ``at`` (a long-running page keeps only today); overall agent time stays."""
        for call_id, c in list(self.calls.items()):
            over = c.ended_at is not None or c.abandoned_at is not None or c.left_at is not None
            if c.entry < at and over:
                del self.calls[call_id]
        if self.interval_s is not None:
            size = self.interval_s
            for k in [k for k in self._buckets if (k + 1) * size <= at]:
                del self._buckets[k]

    # internals -------------------------------------------------------------------------
    def _end_hold(self, c: CallOutcome, at: float) -> None:
        if c.hold_since is not None:
            c.hold_s += at - c.hold_since
            c.hold_since = None

    def _agent(self, agent_id: str, seat: str, at: float) -> _AgentClock:
        agent = self._agents.get(agent_id)
        if agent is None:
            work = AgentWork(agent_id, seat, at, self.capacity(agent_id))
            agent = self._agents[agent_id] = _AgentClock(work)
        agent.work.elapse(at, self, self._give)
        return agent

    def _give(self, task_id: str, seconds: float) -> None:
        c = self.calls.get(task_id)
        if c is not None:
            c.agent_s += seconds

    def _agent_state(self, e: AgentStateChanged, at: float) -> None:
        agent = self._agent(e.agent_id, e.before, at)
        work = agent.work
        if work.seat == "wrap_up" and e.call_id is not None:
            call = self.calls.get(e.call_id)
            if call is not None:
                call.wrap_s += at - work.seat_since
        if e.event == "ring_no_answer":
            self._count(e.agent_id, agent, RONA_KEY, at)
        if work.seat == "logged_out" and e.after != "logged_out":
            work.new_capacity(self.capacity(e.agent_id))
        work.seat_changed(e.after, e.call_id, at)

    def _agent_task(self, e: AgentTaskChanged, at: float) -> None:
        agent = self._agent(e.agent_id, "logged_out", at)
        wrap = agent.work.task_changed(e.call_id, e.channel, e.after, at)
        if wrap is not None and (call := self.calls.get(e.call_id)) is not None:
            call.wrap_s += wrap

    def _count(self, agent_id: str, agent: _AgentClock, key: str, at: float) -> None:
        agent.times[key] = agent.times.get(key, 0.0) + 1
        if self.interval_s is not None:
            row = self._buckets.setdefault(math.floor(at / self.interval_s), {})
            cell = row.setdefault(agent_id, {})
            cell[key] = cell.get(key, 0.0) + 1

    def spend(self, agent_id: str, rates: Rates, lo: float, hi: float) -> None:
        """``acd.kpi_work.TimeSink``: the agent's time, and per interval."""
        times = self._agents[agent_id].times
        for key, rate in rates:
            times[key] = times.get(key, 0.0) + (hi - lo) * rate
        size = self.interval_s
        if size is None:
            return
        k = math.floor(lo / size)
        while lo < hi:
            edge = min(hi, (k + 1) * size)
            row = self._buckets.setdefault(k, {}).setdefault(agent_id, {})
            for key, rate in rates:
                row[key] = row.get(key, 0.0) + (edge - lo) * rate
            lo, k = edge, k + 1

    def _open_times(
        self, agent_id: str, end: float, lo: float, hi: float, bucket: int | None = None
    ) -> dict[str, float]:
        """Closed time (overall or of one bucket) plus the open stretch up to end."""
        agent = self._agents[agent_id]
        times = dict(
            agent.times if bucket is None else self._buckets.get(bucket, {}).get(agent_id, {})
        )
        _add_open(times, agent.work, max(agent.work.since, lo), min(end, hi))
        return times

    def _report(
        self,
        outcomes: list[CallOutcome],
        agent_rows: Mapping[str, Mapping[str, float]],
        start: float,
        end: float,
        backlog: _Backlog,
    ) -> KpiReport:
        policy = self.policy
        by_queue: dict[str, list[CallOutcome]] = {}
        by_channel: dict[str, list[CallOutcome]] = {}
        for c in outcomes:
            by_channel.setdefault(c.channel, []).append(c)
            if c.channel == VOICE:
                by_queue.setdefault(c.queue, []).append(c)
        times: dict[str, float] = {}
        for row in agent_rows.values():
            for key, value in row.items():
                times[key] = times.get(key, 0.0) + value
        overall = [c for c in outcomes if overall_channels(c.channel)]
        return KpiReport(
            start=start,
            end=end,
            calls=backlog.of(call_kpis(by_channel.get(VOICE, []), policy), _voice),
            occupancy=occupancy(times),
            by_queue={
                q: backlog.of(call_kpis(cs, policy), _in_queue(q))
                for q, cs in sorted(by_queue.items())
            },
            agents=self._agent_kpis(outcomes, agent_rows),
            by_channel={
                ch: backlog.of(call_kpis(cs, policy), _on_channel(ch))
                for ch, cs in sorted(by_channel.items())
            },
            callbacks=callback_kpis(outcomes),
            overall=backlog.of(call_kpis(overall, policy), _overall),
            capacity=capacity_use(times),
        )

    def _agent_kpis(
        self, outcomes: list[CallOutcome], agent_rows: Mapping[str, Mapping[str, float]]
    ) -> tuple[AgentKpi, ...]:
        handled: dict[str, list[CallOutcome]] = {}
        for c in outcomes:
            if c.agent_id is not None and c.ended_at is not None:
                handled.setdefault(c.agent_id, []).append(c)
        agents = []
        for agent_id, row in sorted(agent_rows.items()):
            mine = handled.get(agent_id, [])
            talk = sum((c.ended_at or 0.0) - (c.answered_at or 0.0) - c.hold_s for c in mine)
            agents.append(
                AgentKpi(
                    agent_id,
                    len(mine),
                    talk,
                    sum(c.hold_s for c in mine),
                    row.get("wrap_up", 0.0),
                    row.get("paused", 0.0),
                    row.get(IDLE, 0.0),
                    staffed_s(row),
                    int(row.get(RONA_KEY, 0)),
                    occupancy(row),
                    row.get(DIGITAL_WORK, 0.0),
                )
            )
        return tuple(agents)


def _add_open(times: dict[str, float], work: AgentWork, lo: float, hi: float) -> None:
    """The agent's current stretch within [lo, hi), by the keys it counts under."""
    if hi > lo:
        for key, rate in work.rates():
            times[key] = times.get(key, 0.0) + (hi - lo) * rate


def _waiting(
    calls: Iterable[CallOutcome], points: Sequence[tuple[float, bool]]
) -> list[list[CallOutcome]]:
    """The tasks waiting at each of ``points`` (time, just before it?), in time order: one
    sweep over the tasks sorted by when they were queued and when they stopped waiting."""
    spans: list[tuple[float, float, CallOutcome]] = []
    for c in calls:
        gone = [t for t in (c.answered_at, c.abandoned_at, c.left_at) if t is not None]
        queued = c.entry if c.queued_at is None else c.queued_at
        spans.append((queued, min(gone) if gone else math.inf, c))
    joined = sorted(range(len(spans)), key=lambda i: spans[i][0])
    left = sorted(range(len(spans)), key=lambda i: spans[i][1])
    waiting: dict[int, CallOutcome] = {}
    out: list[list[CallOutcome]] = []
    i = j = 0
    for at, before in points:
        while i < len(joined) and _by(spans[joined[i]][0], at, before):
            waiting[joined[i]] = spans[joined[i]][2]
            i += 1
        while j < len(left) and _by(spans[left[j]][1], at, before):
            waiting.pop(left[j], None)
            j += 1
        out.append(list(waiting.values()))
    return out


def _by(t: float, at: float, before: bool) -> bool:
    """Had ``t`` happened at ``at`` (``before``: just before ``at``)?"""
    return t < at or (t == at and not before)


class _Backlog:
    """The tasks waiting at ``at``, for each group of a report."""

    def __init__(self, waiting: list[CallOutcome], at: float) -> None:
        self.waiting, self.at = waiting, at

    def of(self, kpis: CallKpis, belongs: Callable[[CallOutcome], bool]) -> CallKpis:
        mine = [c.entry for c in self.waiting if belongs(c)]
        if not mine:
            return kpis
        return replace(kpis, backlog=len(mine), oldest_age_s=self.at - min(mine))


def _overall(c: CallOutcome) -> bool:
    return overall_channels(c.channel)


def _voice(c: CallOutcome) -> bool:
    return c.channel == VOICE


def _in_queue(queue: str) -> Callable[[CallOutcome], bool]:
    return lambda c: c.channel == VOICE and c.queue == queue


def _on_channel(channel: str) -> Callable[[CallOutcome], bool]:
    return lambda c: c.channel == channel


def compute_kpis(
    records: Iterable[EventRecord],
    policy: SlPolicy = DEFAULT_POLICY,
    *,
    end: float | None = None,
    capacity: CapacityOf = _voice_only,
) -> KpiReport:
    return KpiAccumulator(policy, capacity=capacity).add_all(records).report(end)


#: What each kind of event changes in the fold (looked up by the event's type: one dict
#: read per record instead of a chain of isinstance tests); others change nothing.
_FOLDS: dict[type, Callable[[KpiAccumulator, Any, float], None]] = {
    AgentStateChanged: KpiAccumulator._agent_state,
    AgentTaskChanged: KpiAccumulator._agent_task,
    CallQueued: KpiAccumulator._queued,
    CallOffered: KpiAccumulator._offered,
    CallAnswered: KpiAccumulator._answered,
    CallEnded: KpiAccumulator._ended,
    CallAbandoned: KpiAccumulator._abandoned,
    CallMoved: KpiAccumulator._moved,
    CallbackSettled: KpiAccumulator._settled,
    CallHoldChanged: KpiAccumulator._hold,
}
