"""What an agent is doing at once, as the KPIs count it: their voice seat and the digital
tasks in their hands (``acd.kpi``'s occupancy, agent time and utilisation of capacity).

Both folds (``acd.kpi_recount``, ``acd.kpi_aggregate``) keep an ``AgentWork`` per agent,
fed the agent's ``AgentStateChanged`` (the seat) and ``AgentTaskChanged`` (digital tasks).
Before each change, ``elapse`` counts the time since the agent's previous change: under
their *activity* (the seat's state, or ``DIGITAL_WORK`` while the phone is free or paused
and a digital task is in hand), as task-seconds of each channel in hand (``used``) and, while
staffed, slot-seconds of their capacity (``slots``); and it divides that time equally among
the tasks being handled (agent time). A change costs a few operations per task in hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from acd.capacity import Capacity
from acd.kpi import ALL_CHANNELS, BUSY_STATES, DIGITAL_WORK, CapacityUse

__all__ = [
    "ACTIVITIES",
    "IDLE",
    "RONA_KEY",
    "AgentWork",
    "Give",
    "Spend",
    "capacity_use",
    "occupancy",
    "slots_key",
    "staffed_s",
    "used_key",
]

#: Seconds counted under ``key``, ``rate`` per second of [lo, hi).
Spend = Callable[[str, float, float, float], None]
#: ``seconds`` of the agent's time given to a task they handle.
Give = Callable[[str, float], None]

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
_USED: dict[str, str] = {}
_SLOTS: dict[str, str] = {}


def used_key(channel: str) -> str:
    """The time key of task-seconds of ``channel`` in agents' hands."""
    key = _USED.get(channel)
    if key is None:
        key = _USED[channel] = f"used:{channel}"
    return key


def slots_key(channel: str) -> str:
    """The time key of slot-seconds of ``channel`` offered by staffed agents' capacity."""
    key = _SLOTS.get(channel)
    if key is None:
        key = _SLOTS[channel] = f"slots:{channel}"
    return key


def _slot_rates(capacity: Capacity) -> tuple[tuple[str, float], ...]:
    if capacity.total <= 0:
        return ()
    rates = [
        (slots_key(ch), float(min(n, capacity.total)))
        for ch, n in sorted(capacity.digital.items())
        if n > 0
    ]
    return (*rates, (slots_key(ALL_CHANNELS), float(capacity.total))) if rates else ()


class AgentWork:
    __slots__ = ("call", "seat", "seat_since", "since", "slots", "tasks")

    def __init__(self, seat: str, at: float, capacity: Capacity) -> None:
        #: The voice seat's state (``acd.agent_events.AgentState`` values), since when.
        self.seat, self.seat_since = seat, at
        #: When the agent's time was last counted.
        self.since = at
        #: The call being handled on the seat (talking, on hold, wrapping up).
        self.call: str | None = None
        #: Digital tasks in hand: task id -> [channel, phase, since the phase began].
        self.tasks: dict[str, tuple[str, str, float]] = {}
        self.slots = _slot_rates(capacity)

    def activity(self) -> str:
        if self.tasks and self.seat in _FREE:
            return DIGITAL_WORK
        return self.seat

    def rates(self) -> list[tuple[str, float]]:
        """The keys the agent's time is counted under now, with seconds per second."""
        activity = self.activity()
        out = [(activity, 1.0)]
        if self.tasks:
            counts: dict[str, int] = {}
            for channel, _, _ in self.tasks.values():
                counts[channel] = counts.get(channel, 0) + 1
            out += [(used_key(ch), float(n)) for ch, n in counts.items()]
            out.append((used_key(ALL_CHANNELS), float(len(self.tasks))))
        if self.slots and activity not in _NOT_STAFFED:
            out += self.slots
        return out

    def elapse(self, at: float, spend: Spend, give: Give) -> None:
        """Count the agent's time from their last change to ``at``."""
        lo = self.since
        if at <= lo:
            return
        self.since = at
        for key, rate in self.rates():
            spend(key, lo, at, rate)
        n = len(self.tasks) + (self.call is not None)
        if n:
            share = (at - lo) / n
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
        self.slots = _slot_rates(capacity)


def staffed_s(times: Mapping[str, float]) -> float:
    """Logged-in seconds of an agent's time by activity."""
    return sum(times.get(a, 0.0) for a in ACTIVITIES if a != "logged_out")


def occupancy(times: Mapping[str, float]) -> float | None:
    """Occupied over occupied + idle time (``acd.kpi``)."""
    busy = sum(times.get(s, 0.0) for s in BUSY_STATES)
    idle = times.get(IDLE, 0.0)
    return busy / (busy + idle) if busy + idle else None


def capacity_use(times: Mapping[str, float]) -> dict[str, CapacityUse]:
    """Each digital channel's (and ``ALL_CHANNELS``'s) use of capacity, from the ``used:``
    and ``slots:`` keys of agents' times."""
    use: dict[str, list[float]] = {}
    for key, value in times.items():
        kind, colon, channel = key.partition(":")
        if colon and kind in ("used", "slots"):
            pair = use.setdefault(channel, [0.0, 0.0])
            pair[kind == "slots"] += value
    ordered = sorted(use.items(), key=lambda kv: (kv[0] == ALL_CHANNELS, kv[0]))
    return {ch: CapacityUse(used, slots) for ch, (used, slots) in ordered}
