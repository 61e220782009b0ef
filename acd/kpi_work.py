"""What an agent is doing at once, as the KPIs count it: their voice seat and the digital
tasks in their hands (``acd.kpi``'s occupancy, agent time and utilisation of capacity).

Both folds (``acd.kpi_recount``, ``acd.kpi_aggregate``) keep an ``AgentWork`` per agent,
fed the agent's ``AgentStateChanged`` (the seat) and ``AgentTaskChanged`` (digital tasks).
Before each change, ``elapse`` counts the time since the agent's previous change, in one
``TimeSink.spend`` of a few keys: their *activity* (the seat's state, or ``DIGITAL_WORK``
while the phone is free or paused and a digital task is in hand), task-seconds of each
channel in hand (``used:<channel>``) and, while staffed, the seconds of their capacity
(``staffed:<capacity>``, turned into each channel's slot-seconds by ``capacity_use``); and it
divides that time equally among the tasks being handled (agent time, ``Give``). A change
costs a few operations per task in hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

from acd.capacity import Capacity
from acd.kpi import ALL_CHANNELS, BUSY_STATES, DIGITAL_WORK, CapacityUse

__all__ = [
    "ACTIVITIES",
    "IDLE",
    "RONA_KEY",
    "AgentWork",
    "Give",
    "Rates",
    "TimeSink",
    "activity",
    "capacity_use",
    "occupancy",
    "staffed_s",
]

#: (time key, seconds counted per second); the first is always the agent's activity.
Rates = Sequence[tuple[str, float]]
#: ``seconds`` of the agent's time given to a task they handle.
Give = Callable[[str, float], None]


class TimeSink(Protocol):
    def spend(self, agent_id: str, rates: Rates, lo: float, hi: float) -> None:
        """Count [lo, hi) of the agent's time under each key at its rate."""


IDLE = "available"
#: The number of ring-no-answers, among an agent's times.
RONA_KEY = "#rona"
#: Every activity an agent's time is counted under (they add up to their logged time).
ACTIVITIES = ("logged_out", IDLE, "offered", "on_call", "wrap_up", "paused", DIGITAL_WORK)
_FREE = frozenset({IDLE, "paused"})
_NOT_STAFFED = frozenset({"logged_out", "paused"})
#: The voice seat's states in which its call is being handled.
_HANDLING_CALL = frozenset({"on_call", "wrap_up"})
#: The digital phases in which a task is in hand (a reservation is not).
_IN_HAND = frozenset({"active", "wrap_up"})
_USED = "used:"
_STAFFED = "staffed:"
#: One rate per activity, made once.
_ALONE: dict[str, tuple[tuple[str, float]]] = {}
_USED_KEYS: dict[str, str] = {}
#: ``staffed:`` keys -> the slots per digital channel (and ``ALL_CHANNELS``) they stand for.
_CAPACITIES: dict[str, tuple[tuple[str, int], ...]] = {}


def activity(seat: str, in_hand: bool) -> str:
    """What an agent's time counts as now: their voice seat's state (``seat``), or
    ``DIGITAL_WORK`` while the phone is free or paused and a digital task is ``in_hand``
    (active or in wrap-up; a reservation is not). The supervisor's live view says the same."""
    return DIGITAL_WORK if in_hand and seat in _FREE else seat


def _alone(activity: str) -> tuple[tuple[str, float]]:
    rates = _ALONE.get(activity)
    if rates is None:
        rates = _ALONE[activity] = ((activity, 1.0),)
    return rates


def _used(channel: str) -> str:
    key = _USED_KEYS.get(channel)
    if key is None:
        key = _USED_KEYS[channel] = _USED + channel
    return key


def _staffed_key(capacity: Capacity) -> str | None:
    """The key of staffed time with ``capacity`` (None: no digital channel)."""
    if capacity.total <= 0:
        return None
    slots = [(ch, min(n, capacity.total)) for ch, n in sorted(capacity.digital.items()) if n > 0]
    if not slots:
        return None
    slots.append((ALL_CHANNELS, capacity.total))
    key = _STAFFED + ",".join(f"{ch}={n}" for ch, n in slots)
    _CAPACITIES[key] = tuple(slots)
    return key


class AgentWork:
    __slots__ = ("agent_id", "call", "seat", "seat_since", "since", "staffed", "tasks")

    def __init__(self, agent_id: str, seat: str, at: float, capacity: Capacity) -> None:
        self.agent_id = agent_id
        #: The voice seat's state (``acd.agent_events.AgentState`` values), since when.
        self.seat, self.seat_since = seat, at
        #: When the agent's time was last counted.
        self.since = at
        #: The call being handled on the seat (talking, on hold, wrapping up).
        self.call: str | None = None
        #: Digital tasks in hand: task id -> (channel, phase, since the phase began).
        self.tasks: dict[str, tuple[str, str, float]] = {}
        self.staffed = _staffed_key(capacity)

    def activity(self) -> str:
        return activity(self.seat, bool(self.tasks))

    def rates(self) -> Rates:
        """The keys the agent's time is counted under now, with seconds per second."""
        activity = self.activity()
        staffed = self.staffed is not None and activity not in _NOT_STAFFED
        if not self.tasks and not staffed:
            return _alone(activity)
        out = [(activity, 1.0)]
        if self.tasks:
            counts: dict[str, int] = {}
            for channel, _, _ in self.tasks.values():
                counts[channel] = counts.get(channel, 0) + 1
            out += [(_used(ch), float(n)) for ch, n in counts.items()]
        if staffed:
            assert self.staffed is not None
            out.append((self.staffed, 1.0))
        return out

    def elapse(self, at: float, sink: TimeSink, give: Give) -> None:
        """Count the agent's time from their last change to ``at``."""
        lo = self.since
        if at <= lo:
            return
        self.since = at
        sink.spend(self.agent_id, self.rates(), lo, at)
        if self.call is None and not self.tasks:
            return
        share = (at - lo) / (len(self.tasks) + (self.call is not None))
        if self.call is not None:
            give(self.call, share)
        for task_id in self.tasks:
            give(task_id, share)

    def seat_changed(self, after: str, call_id: str | None, at: float) -> None:
        """The seat's new state (after ``elapse``)."""
        self.seat, self.seat_since = after, at
        self.call = call_id if after in _HANDLING_CALL else None

    def task_changed(self, task_id: str, channel: str, after: str, at: float) -> float | None:
        """A digital task's new phase (after ``elapse``); the seconds of its wrap-up if it
        just ended one."""
        held = self.tasks.get(task_id)
        wrap = at - held[2] if held is not None and held[1] == "wrap_up" else None
        if after in _IN_HAND:
            self.tasks[task_id] = (channel, after, at)
        elif held is not None:
            del self.tasks[task_id]
        return wrap

    def in_hand(self, task_id: str) -> bool:
        return task_id in self.tasks

    def new_capacity(self, capacity: Capacity) -> None:
        self.staffed = _staffed_key(capacity)


def staffed_s(times: Mapping[str, float]) -> float:
    """Logged-in seconds of an agent's time by activity."""
    return sum(times.get(a, 0.0) for a in ACTIVITIES if a != "logged_out")


def occupancy(times: Mapping[str, float]) -> float | None:
    """Occupied over occupied + idle time (``acd.kpi``)."""
    busy = sum(times.get(s, 0.0) for s in BUSY_STATES)
    idle = times.get(IDLE, 0.0)
    return busy / (busy + idle) if busy + idle else None


def capacity_use(times: Mapping[str, float]) -> dict[str, CapacityUse]:
    """Each digital channel's (and ``ALL_CHANNELS``'s) use of capacity, from agents' times:
    task-seconds in hand (``used:``) over slot-seconds of staffed capacity (``staffed:``)."""
    used: dict[str, float] = {}
    slots: dict[str, float] = {}
    for key, value in times.items():
        if key.startswith(_USED):
            channel = key[len(_USED) :]
            used[channel] = used.get(channel, 0.0) + value
            used[ALL_CHANNELS] = used.get(ALL_CHANNELS, 0.0) + value
        elif key.startswith(_STAFFED):
            for channel, n in _CAPACITIES.get(key, ()):
                slots[channel] = slots.get(channel, 0.0) + value * n
    channels = sorted(used.keys() | slots.keys(), key=lambda ch: (ch == ALL_CHANNELS, ch))
    return {ch: CapacityUse(used.get(ch, 0.0), slots.get(ch, 0.0)) for ch in channels}
