"""Talk, hold and wrap-up of each answered call, read from the ACD's own events.

The distributor logs every change with the time it happened on the ACD's clock; these
durations are differences of those times, so each is measured from the events it names
(``history.outcomes``) and none can be longer than the call:

==============  ===========================================================================
duration        from -> to
==============  ===========================================================================
``talk_s``      ``CallAnswered`` -> ``CallEnded``, minus the time on hold
``hold_s``      each ``CallHoldChanged(on_hold=True)`` -> the next ``on_hold=False`` (or
                the call's end), summed; 0 for a call never held
``wrap_s``      the agent's ``on_call -> wrap_up`` -> their leaving ``wrap_up`` (timer,
                done, ready, logout); 0 when agents.yaml has no wrap-up
==============  ===========================================================================

``ContactTimes.observe`` is pure bookkeeping (no I/O): fed each record, it answers the
durations that became known. What is remembered of a call is forgotten once it is told;
``limit`` bounds what a call whose end never comes could hold.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Final, TypeVar

from acd.contacts import VOICE_SEAT
from acd.events import (
    AcdEvent,
    AgentStateChanged,
    CallAnswered,
    CallEnded,
    CallHoldChanged,
    CallQueued,
)

__all__ = ["ContactTimes", "Talked", "WrappedUp"]

ON_CALL: Final = "on_call"
WRAP_UP: Final = "wrap_up"
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Talked:
    """The conversation of ``call_id`` is over."""

    call_id: str
    talk_s: float
    hold_s: float


@dataclass(frozen=True, slots=True)
class WrappedUp:
    """The agent's after-call work on ``call_id`` is over."""

    call_id: str
    wrap_s: float


@dataclass(slots=True)
class _Conversation:
    answered_at: float
    hold_s: float = 0.0
    held_since: float | None = None


class ContactTimes:
    def __init__(self, limit: int = 10_000) -> None:
        self._limit = limit
        self._talking: OrderedDict[str, _Conversation] = OrderedDict()
        #: agent id -> (call id, wrap-up start)
        self._wrapping: OrderedDict[str, tuple[str, float]] = OrderedDict()
        #: digital tasks (chats, e-mails...): the conversation desk records their times
        self._digital: OrderedDict[str, None] = OrderedDict()

    def observe(self, at: float, event: AcdEvent) -> Talked | WrappedUp | None:
        if isinstance(event, CallQueued) and event.channel not in VOICE_SEAT:
            self._digital[event.call_id] = None
            _bound(self._digital, self._limit)
        elif isinstance(event, CallAnswered | CallEnded) and event.call_id in self._digital:
            if isinstance(event, CallEnded):
                del self._digital[event.call_id]
        elif isinstance(event, CallAnswered):
            self._talking[event.call_id] = _Conversation(at)
            _bound(self._talking, self._limit)
        elif isinstance(event, CallHoldChanged):
            talk = self._talking.get(event.call_id)
            if talk is not None:
                _hold(talk, at, on_hold=event.on_hold)
        elif isinstance(event, CallEnded):
            talk = self._talking.pop(event.call_id, None)
            if talk is not None:
                _hold(talk, at, on_hold=False)
                spoken = max(at - talk.answered_at - talk.hold_s, 0.0)
                return Talked(event.call_id, spoken, talk.hold_s)
        elif isinstance(event, AgentStateChanged):
            return self._agent(at, event)
        return None

    def _agent(self, at: float, event: AgentStateChanged) -> WrappedUp | None:
        before, after, call_id = event.before, event.after, event.call_id
        if before == WRAP_UP and after != WRAP_UP:
            started = self._wrapping.pop(event.agent_id, None)
            if started is not None:
                return WrappedUp(started[0], max(at - started[1], 0.0))
        elif before == ON_CALL and call_id is not None:
            if after == WRAP_UP:
                self._wrapping[event.agent_id] = (call_id, at)
                _bound(self._wrapping, self._limit)
            elif after != ON_CALL:
                return WrappedUp(call_id, 0.0)
        return None


def _hold(talk: _Conversation, at: float, *, on_hold: bool) -> None:
    if on_hold and talk.held_since is None:
        talk.held_since = at
    elif not on_hold and talk.held_since is not None:
        talk.hold_s += max(at - talk.held_since, 0.0)
        talk.held_since = None


def _bound(kept: OrderedDict[str, V], limit: int) -> None:
    while len(kept) > limit:
        kept.popitem(last=False)
