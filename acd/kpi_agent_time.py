"""Agents' time in the running KPIs (``acd.kpi_aggregate``): seconds by activity (occupancy)
and the task- and slot-seconds of digital capacity (``acd.kpi_work``'s keys), summed per
one-minute slice (the rolling windows), per interval and for the day, split at their edges
as they are spent; and each agent's own day (the agents' table).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from acd.kpi import DIGITAL_WORK, AgentKpi
from acd.kpi_work import IDLE, RONA_KEY, AgentWork, Rates, occupancy, staffed_s

__all__ = ["SLICE_S", "AgentTime", "open_time"]

#: The rolling windows' grain.
SLICE_S = 60.0


@dataclass(slots=True)
class _AgentDay:
    times: dict[str, float] = field(default_factory=dict)
    calls: int = 0
    talk_s: float = 0.0
    hold_s: float = 0.0


class AgentTime:
    def __init__(self, interval_s: float, day_start: float, keep_slices: int) -> None:
        self.interval_s = interval_s
        self.day_start = day_start
        self._keep = keep_slices
        self.slices: dict[int, dict[str, float]] = {}
        self.intervals: dict[int, dict[str, float]] = {}
        self.day: dict[str, float] = {}
        self._agents: dict[str, _AgentDay] = {}
        self._newest_slice = -math.inf

    def spend(self, agent_id: str, rates: Rates, lo: float, hi: float) -> None:
        """[lo, hi) of the agent's time under each key at its rate (``acd.kpi_work``); the
        first key, their activity, goes to their own day too."""
        if hi <= lo:
            return
        day_lo = max(lo, self.day_start)
        if hi > day_lo:
            _add(self.day, rates, hi - day_lo)
            activity = rates[0][0]
            row = self._agent(agent_id).times
            row[activity] = row.get(activity, 0.0) + hi - day_lo
        _split(self.intervals, self.interval_s, rates, lo, hi)
        oldest = (self._newest_slice - self._keep + 1) * SLICE_S
        if hi > oldest:
            _split(self.slices, SLICE_S, rates, max(lo, oldest), hi)

    def rona(self, agent_id: str, at: float) -> None:
        cells = [self.intervals.setdefault(math.floor(at / self.interval_s), {})]
        s = math.floor(at / SLICE_S)
        if s > self._newest_slice - self._keep:
            cells.append(self.slices.setdefault(s, {}))
        if at >= self.day_start:
            cells += [self.day, self._agent(agent_id).times]
        for times in cells:
            times[RONA_KEY] = times.get(RONA_KEY, 0.0) + 1

    def handled(self, agent_id: str, talk_s: float, hold_s: float) -> None:
        """A task of today the agent handled ended."""
        row = self._agent(agent_id)
        row.calls += 1
        row.talk_s += talk_s
        row.hold_s += hold_s

    def advance(self, s: int) -> None:
        """Slice ``s`` is the newest: older ones than the longest window go."""
        if s <= self._newest_slice:
            return
        self._newest_slice = s
        for k in [k for k in self.slices if k <= s - self._keep]:
            del self.slices[k]

    def start_day(self, day_start: float) -> None:
        self.day_start = day_start
        self.day, self._agents = {}, {}
        for k in [k for k in self.intervals if (k + 1) * self.interval_s <= day_start]:
            del self.intervals[k]

    def window(self, first: int, last: int) -> dict[str, float]:
        """The slices ``first`` to ``last`` added up."""
        times: dict[str, float] = {}
        for k in range(max(first, last - self._keep + 1), last + 1):
            for key, v in self.slices.get(k, {}).items():
                times[key] = times.get(key, 0.0) + v
        return times

    def agent_rows(
        self, working: Iterable[tuple[str, AgentWork]], now: float
    ) -> tuple[AgentKpi, ...]:
        """Today's row of each agent, with their current stretch up to ``now``."""
        rows = {a: (d, dict(d.times)) for a, d in self._agents.items()}
        for agent_id, work in working:
            span = now - max(work.since, self.day_start)
            if span > 0:
                day, times = rows.setdefault(agent_id, (_AgentDay(), {}))
                activity = work.activity()
                times[activity] = times.get(activity, 0.0) + span
        out = []
        for agent_id, (day, t) in sorted(rows.items()):
            out.append(
                AgentKpi(
                    agent_id,
                    day.calls,
                    day.talk_s,
                    day.hold_s,
                    t.get("wrap_up", 0.0),
                    t.get("paused", 0.0),
                    t.get(IDLE, 0.0),
                    staffed_s(t),
                    int(t.get(RONA_KEY, 0)),
                    occupancy(t),
                    t.get(DIGITAL_WORK, 0.0),
                )
            )
        return tuple(out)

    def _agent(self, agent_id: str) -> _AgentDay:
        row = self._agents.get(agent_id)
        if row is None:
            row = self._agents[agent_id] = _AgentDay()
        return row


def open_time(working: Iterable[AgentWork], lo: float, hi: float) -> dict[str, float]:
    """Agents' current stretches within [lo, hi), by key."""
    times: dict[str, float] = {}
    for work in working:
        span = hi - max(work.since, lo)
        if span > 0:
            for key, rate in work.rates():
                times[key] = times.get(key, 0.0) + span * rate
    return times


def _add(times: dict[str, float], rates: Rates, span: float) -> None:
    for key, rate in rates:
        times[key] = times.get(key, 0.0) + span * rate


def _split(
    table: dict[int, dict[str, float]], size: float, rates: Rates, lo: float, hi: float
) -> None:
    k = math.floor(lo / size)
    while lo < hi:
        edge = (k + 1) * size
        if edge > hi:
            edge = hi
        row = table.get(k)
        if row is None:
            row = table[k] = {}
        span = edge - lo
        for key, rate in rates:
            row[key] = row.get(key, 0.0) + span * rate
        lo, k = edge, k + 1
