"""The supervisor's "now": waiting calls, the longest wait, agents by state, from the log.

A call a supervisor moved (``CallMoved``) waits in its new queue from then on, with its
original entry time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from acd.events import (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallMoved,
    CallOffered,
    CallQueued,
    CallRequeued,
    EventRecord,
)

__all__ = ["RealtimeSnapshot", "RealtimeView"]


@dataclass(frozen=True, slots=True)
class RealtimeSnapshot:
    at: float
    waiting: int
    waiting_by_queue: Mapping[str, int]
    longest_wait_s: float
    longest_waiting_call: str | None
    #: Calls being offered (an agent's phone is ringing) or in conversation.
    ringing: int
    talking: int
    agents_by_state: Mapping[str, int]


class RealtimeView:
    """Folds records as they are appended; ``snapshot(now)`` is cheap enough per second."""

    def __init__(self) -> None:
        self._waiting: dict[str, tuple[str, float]] = {}
        self._ringing: dict[str, tuple[str, float]] = {}
        self._talking: set[str] = set()
        self._agents: dict[str, str] = {}

    def add(self, record: EventRecord) -> None:
        e = record.event
        if isinstance(e, CallQueued):
            self._waiting[e.call_id] = (e.queue, e.entry_time)
        elif isinstance(e, CallOffered):
            if e.call_id in self._waiting:
                self._ringing[e.call_id] = self._waiting.pop(e.call_id)
        elif isinstance(e, CallMoved):
            waiting = self._waiting.get(e.call_id)
            if waiting is not None:
                self._waiting[e.call_id] = (e.queue, waiting[1])
        elif isinstance(e, CallRequeued):
            if e.call_id in self._ringing:
                self._waiting[e.call_id] = self._ringing.pop(e.call_id)
        elif isinstance(e, CallAnswered):
            self._ringing.pop(e.call_id, None)
            self._talking.add(e.call_id)
        elif isinstance(e, CallAbandoned):
            self._waiting.pop(e.call_id, None)
            self._ringing.pop(e.call_id, None)
        elif isinstance(e, CallEnded):
            self._talking.discard(e.call_id)
        elif isinstance(e, AgentStateChanged):
            self._agents[e.agent_id] = e.after

    def add_all(self, records: Iterable[EventRecord]) -> RealtimeView:
        for record in records:
            self.add(record)
        return self

    def snapshot(self, now: float) -> RealtimeSnapshot:
        by_queue: dict[str, int] = {}
        oldest: tuple[float, str] | None = None
        for call_id, (queue, entry) in self._waiting.items():
            by_queue[queue] = by_queue.get(queue, 0) + 1
            if oldest is None or entry < oldest[0]:
                oldest = (entry, call_id)
        states: dict[str, int] = {}
        for state in self._agents.values():
            states[state] = states.get(state, 0) + 1
        return RealtimeSnapshot(
            at=now,
            waiting=len(self._waiting),
            waiting_by_queue=by_queue,
            longest_wait_s=0.0 if oldest is None else now - oldest[0],
            longest_waiting_call=None if oldest is None else oldest[1],
            ringing=len(self._ringing),
            talking=len(self._talking),
            agents_by_state=states,
        )
