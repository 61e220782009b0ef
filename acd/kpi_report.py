"""Historical reports: the KPIs of ``acd.kpi`` over days, weeks and months, by queue, agent,
channel and intent, from the event log, a day at a time.

A day is folded by the full recount (``acd.kpi_recount.KpiAccumulator``), one accumulator per
**run** that logged events that day (the log's key prefix), as the live page folds runs
(``acd.kpi_aggregate``): a run's tasks and agents are its own, and a run that stopped
(every run but the day's last) is closed at its last event: its open agent time ends
there and its tasks never answered are ``failed`` exits (``KpiAggregate.close_run``). The
day's tasks are those that entered in it (``acd.kpi``: a task belongs to the interval of its
entry time) and its agent time is the time in it; the day's figures are what the live page
showed at the day's end (or now, for today).

Each task is then reduced to the counters and sums of one ``acd.kpi_tally.Tally`` (the cell
of the running sums; ``tally_of`` mirrors ``acd.kpi.call_kpis``, and a test holds them
equal), put in the cells of its 15-minute interval and of its groups. Cells add up, so a
week or a month is the sum of its days, and no more than a day of events is in memory.

Groups (``GROUPINGS``):

* ``channel``: each channel's tasks, and ``all`` (every channel but callback attempts and
  transferred segments: ``acd.kpi.overall_channels``), as the live page's channel table;
* ``queue``: inbound calls (``voice``) by the queue where they ended, as the live page's
  queues; beside them, the queue's callback attempts (``callback`` channel) for its
  callbacks completed and failed;
* ``intent``: the task's ``CallQueued.call_type`` (the IVR's intent's call type, or the
  conversation's), every channel of ``all``; ``unknown`` when none was found;
* ``agent``: the tasks each agent answered, every channel, and the agent's own time
  (occupancy).

Occupancy is the agents' (``acd.kpi_work.occupancy`` over their time): the centre's in the
``all`` row and each agent's in theirs; a queue, a channel or an intent has none (agents
serve several at once).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from acd.capacity import VOICE_ONLY, Capacity
from acd.contacts import CALLBACK, VOICE
from acd.events import EventRecord
from acd.kpi import (
    ALL_CHANNELS,
    NO_WAIT_S,
    CallbackKpis,
    CallKpis,
    CallOutcome,
    SlPolicy,
    overall_channels,
)
from acd.kpi_recount import CapacityOf, KpiAccumulator
from acd.kpi_tally import Tally
from acd.kpi_work import occupancy
from history.outcomes import Outcome

__all__ = [
    "ALL",
    "GROUPINGS",
    "UNKNOWN_INTENT",
    "DayFold",
    "Figures",
    "Row",
    "figures_row",
    "tally_of",
    "total",
]

GROUPINGS = ("queue", "agent", "channel", "intent")
#: The key of every group together in a grouping's rows.
ALL = ALL_CHANNELS
#: The intent of a task the IVR or the desk found none for.
UNKNOWN_INTENT = "unknown"
#: The hidden grouping of each queue's callback attempts.
_QUEUE_CALLBACKS = "queue_callbacks"


def tally_of(c: CallOutcome, policy: SlPolicy) -> Tally:
    """One task as the counters and sums of a cell (``acd.kpi.call_kpis``'s, per task)."""
    t = Tally()
    t.offered = 1
    if c.answered_at is not None:
        wait = c.answered_at - c.entry
        t.answered = 1
        t.wait_sum = wait
        t.a_t = int(wait <= policy.target(c.queue, c.channel))
        queued = (c.answered_at if c.offered_at is None else c.offered_at) - c.entry
        t.waited = int(queued > NO_WAIT_S)
        t.longest = wait
        if c.ended_at is not None:
            t.handled = 1
            t.talk_sum = c.ended_at - c.answered_at - c.hold_s
            t.hold_sum = c.hold_s
            t.wrap_sum = c.wrap_s
            t.agent_sum = c.agent_s
    elif c.left_at is not None:
        t.exits[c.left_as or Outcome.FAILED] = 1
    elif c.abandoned_at is not None:
        wait = c.abandoned_at - c.entry
        if wait < policy.short_abandon_s:
            t.short = 1
        else:
            t.abandoned = 1
            t.ringing = int(c.during_offer)
            t.ab_t = int(wait <= policy.target(c.queue, c.channel))
            t.waited = int(c.offered_at is None or c.offered_at - c.entry > NO_WAIT_S)
            t.longest = wait
    if c.channel == CALLBACK and c.left_as is None:
        t.completed = int(c.settled == Outcome.CALLBACK_COMPLETED)
        t.failed = int(c.settled == Outcome.CALLBACK_FAILED)
    return t


def _groups(c: CallOutcome) -> list[tuple[str, str]]:
    """The (grouping, key) cells a task counts in."""
    found = [("channel", c.channel)]
    if overall_channels(c.channel):
        found += (("channel", ALL), ("intent", c.call_type or UNKNOWN_INTENT))
    if c.channel == VOICE:
        found.append(("queue", c.queue))
    elif c.channel == CALLBACK:
        found.append((_QUEUE_CALLBACKS, c.queue))
    if c.agent_id is not None and c.answered_at is not None:
        found.append(("agent", c.agent_id))
    return found


@dataclass(slots=True)
class Figures:
    """A span's additive figures: a ``Tally`` per (grouping, key), each agent's time."""

    tallies: dict[tuple[str, str], Tally] = field(default_factory=dict)
    agent_times: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, other: Figures) -> Figures:
        for key, tally in other.tallies.items():
            self.tallies.setdefault(key, Tally()).add(tally)
        for agent_id, times in other.agent_times.items():
            mine = self.agent_times.setdefault(agent_id, {})
            for k, v in times.items():
                mine[k] = mine.get(k, 0.0) + v
        return self

    def keys(self, grouping: str) -> list[str]:
        """The keys of ``grouping`` with figures (``all`` first for channels)."""
        keys = {k for g, k in self.tallies if g == grouping}
        if grouping == "agent":
            keys |= set(self.agent_times)
        if grouping == "queue":
            keys |= {k for g, k in self.tallies if g == _QUEUE_CALLBACKS}
        return sorted(keys, key=lambda k: (k != ALL, k))

    def occupancy(self, agent_id: str | None = None) -> float | None:
        """An agent's occupancy, or (None) every agent's together."""
        if agent_id is not None:
            return occupancy(self.agent_times.get(agent_id, {}))
        times: dict[str, float] = {}
        for row in self.agent_times.values():
            for k, v in row.items():
                times[k] = times.get(k, 0.0) + v
        return occupancy(times)

    def kpis(self, grouping: str, key: str, policy: SlPolicy) -> CallKpis:
        return self.tallies.get((grouping, key), Tally()).kpis(policy)

    def callbacks(self, grouping: str, key: str) -> CallbackKpis:
        """Callbacks requested (inbound calls' exits) and attempts (``callback`` tasks), as
        ``acd.kpi_tally.report_of`` counts them: the centre's (``channel`` ``all``), a
        queue's (its calls, its attempts), else the group's own tasks'."""
        if grouping == "channel" and key == ALL:
            voice, back = self._tally("channel", VOICE), self._tally("channel", CALLBACK)
        elif grouping == "queue":
            voice, back = self._tally("queue", key), self._tally(_QUEUE_CALLBACKS, key)
        else:
            voice = back = self._tally(grouping, key)
        attempts = back is not voice or (grouping, key) == ("channel", CALLBACK)
        return CallbackKpis(
            requested=voice.exits.get(Outcome.CALLBACK_REQUESTED, 0),
            attempts=back.offered if attempts else 0,
            connected=back.answered if attempts else 0,
            completed=back.completed,
            failed=back.failed + back.exits.get(Outcome.CALLBACK_FAILED, 0),
        )

    def _tally(self, grouping: str, key: str) -> Tally:
        return self.tallies.get((grouping, key), Tally())


@dataclass(frozen=True, slots=True)
class Row:
    """One line of a report: a period and a group's figures (FCR and CSAT are the
    history's, added by the caller where the history has them)."""

    period: float
    grouping: str
    key: str
    kpis: CallKpis
    callbacks: CallbackKpis
    occupancy: float | None


def figures_row(period: float, figures: Figures, grouping: str, key: str, policy: SlPolicy) -> Row:
    if grouping == "agent":
        occ = figures.occupancy(key)
    elif grouping == "channel" and key == ALL:
        occ = figures.occupancy()
    else:
        occ = None
    return Row(
        period,
        grouping,
        key,
        figures.kpis(grouping, key, policy),
        figures.callbacks(grouping, key),
        occ,
    )


class DayFold:
    """One day [lo, hi) of the log folded by the recount, per run; ``end``: the figures'
    time (``hi`` for a closed day, now for today). Feed it the records of the day (and
    only those: ``at`` in [lo, hi)) in log order, then take ``intervals()``."""

    def __init__(
        self,
        lo: float,
        hi: float,
        end: float,
        policy: SlPolicy,
        *,
        interval_s: float = 900.0,
        capacity: CapacityOf | None = None,
    ) -> None:
        self.lo, self.hi, self.end = lo, hi, min(hi, end)
        self.policy = policy
        self.interval_s = interval_s
        self._capacity: CapacityOf = _voice_only if capacity is None else capacity
        self._runs: dict[str, KpiAccumulator] = {}
        self.events = 0

    def add(self, record: EventRecord, run: str = "") -> None:
        acc = self._runs.get(run)
        if acc is None:
            acc = self._runs[run] = KpiAccumulator(
                self.policy, interval_s=self.interval_s, capacity=self._capacity
            )
        acc.add(record)
        self.events += 1

    def add_all(self, records: Iterable[EventRecord], run: str = "") -> DayFold:
        for record in records:
            self.add(record, run)
        return self

    def intervals(self) -> dict[float, Figures]:
        """The day's figures per interval (by its start), of every run."""
        size = self.interval_s
        out: dict[float, Figures] = {}
        runs = list(self._runs.values())
        for index, acc in enumerate(runs):
            closed = index < len(runs) - 1  # an earlier run stopped: closed at its end
            end = acc.last if closed else self.end
            for c in acc.calls.values():
                if not self.lo <= c.entry < self.hi:
                    continue
                if closed and _in_progress(c):
                    c.left_at, c.left_as = end, Outcome.FAILED
                tally = tally_of(c, self.policy)
                figures = out.setdefault(math.floor(c.entry / size) * size, Figures())
                for group in _groups(c):
                    figures.tallies.setdefault(group, Tally()).add(tally)
            start = max(self.lo, math.floor((acc.start or self.lo) / size) * size)
            k = start
            while k < min(self.hi, end):
                rows = acc.agent_times(k, k + size, end)
                if rows:
                    out.setdefault(k, Figures()).add(Figures(agent_times=rows))
                k += size
        return out


def _voice_only(agent_id: str) -> Capacity:
    return VOICE_ONLY


def _in_progress(c: CallOutcome) -> bool:
    return c.answered_at is None and c.abandoned_at is None and c.left_at is None


def total(figures: Mapping[float, Figures]) -> Figures:
    """Every interval's figures added up."""
    out = Figures()
    for f in figures.values():
        out.add(f)
    return out
