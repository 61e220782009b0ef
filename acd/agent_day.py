"""What an agent's day holds beside their state (``acd.agents``), folded from the event log:
the pauses each agent took today of their own accord, by reason (``acd.desk_rules``' daily
limits: ``asked`` says an agent asked for one; a supervisor's or the system's pause is not
theirs and is not counted), and the hold of the call they are on (the desktop's hold timer).
Pure: the caller says which day it is.

A pause is counted in two steps: ``saw`` tells, once, that a pause the agent asked for has
landed; the caller logs a ``PauseCounted`` for it, and ``count`` folds that event. Today's
``PauseCounted`` of earlier runs, read back from the event log at start, go through
``count`` too: the limits hold across a restart.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from acd.agent_events import AgentState
from acd.agents import AgentView
from acd.events import AgentStateChanged, CallHoldChanged, EventRecord, PauseCounted

__all__ = ["AgentDay", "HoldTime"]

_PAUSED = AgentState.PAUSED.value
_ON_CALL = AgentState.ON_CALL.value
_AVAILABLE = AgentState.AVAILABLE.value
_LOGGED_OUT = AgentState.LOGGED_OUT.value


@dataclass(frozen=True, slots=True)
class HoldTime:
    #: how long the current hold has lasted (None: not on hold now)
    current_s: float | None
    #: every hold of the call so far, the current one included
    total_s: float


@dataclass(slots=True)
class _Hold:
    call_id: str
    since: float | None  # None: not on hold now
    before_s: float = 0.0  # earlier holds of the call


class AgentDay:
    def __init__(self) -> None:
        self._day: dt.date | None = None
        self._taken: dict[tuple[str, str], int] = {}
        #: agent -> the pause last counted (reason, since): one pause is counted once
        self._counted: dict[str, tuple[str, float]] = {}
        self._holds: dict[str, _Hold] = {}
        #: agent -> the reason of the pause they asked for, until it lands or is let go
        self._asked: dict[str, str] = {}

    def asked(self, agent_id: str, reason: str) -> None:
        """The agent asked to pause for ``reason`` (now, or after their call): when a pause
        of that reason lands, it counts as one of theirs."""
        self._asked[agent_id] = reason

    def saw(
        self, record: EventRecord, view: Callable[[str], AgentView | None], day: dt.date
    ) -> PauseCounted | None:
        """Fold one record of the ACD's log (``view``: the agent as they are now); a pause
        the agent asked for that has just landed: the ``PauseCounted`` to log (once)."""
        event = record.event
        if isinstance(event, PauseCounted):
            self.count(event.agent_id, event.reason, day)
        elif isinstance(event, CallHoldChanged):
            hold = self._holds.get(event.agent_id)
            if hold is None or hold.call_id != event.call_id:
                hold = self._holds[event.agent_id] = _Hold(event.call_id, None)
            if event.on_hold and hold.since is None:
                hold.since = record.at
            elif not event.on_hold and hold.since is not None:
                hold.before_s += record.at - hold.since
                hold.since = None
        elif isinstance(event, AgentStateChanged):
            agent_id = event.agent_id
            if event.before == _ON_CALL and event.after != _ON_CALL:
                self._holds.pop(agent_id, None)
            if event.after == _PAUSED:
                now = view(agent_id)
                reason = None if now is None else now.pause_reason
                if now is not None and reason is not None and self._asked.get(agent_id) == reason:
                    del self._asked[agent_id]
                    if self._counted.get(agent_id) != (reason, now.since):
                        self._counted[agent_id] = (reason, now.since)
                        return PauseCounted(agent_id, reason)
            elif event.event == "ready" or event.after in (_AVAILABLE, _LOGGED_OUT):
                self._asked.pop(agent_id, None)  # a pending pause taken back, or gone
        return None

    def count(self, agent_id: str, reason: str, day: dt.date) -> None:
        """One more pause of ``reason`` the agent took on ``day`` (a ``PauseCounted``)."""
        if self._day != day:
            self._day, self._taken = day, {}
        key = (agent_id, reason)
        self._taken[key] = self._taken.get(key, 0) + 1

    def taken(self, agent_id: str, reason: str, day: dt.date) -> int:
        """How many pauses of ``reason`` the agent has taken on ``day`` (today)."""
        if self._day != day:
            return 0
        return self._taken.get((agent_id, reason), 0)

    def hold(self, agent_id: str, call_id: str | None, now: float) -> HoldTime:
        """The hold of the agent's call ``call_id`` at ``now``."""
        hold = self._holds.get(agent_id)
        if hold is None or call_id is None or hold.call_id != call_id:
            return HoldTime(None, 0.0)
        current = None if hold.since is None else max(0.0, now - hold.since)
        return HoldTime(current, hold.before_s + (current or 0.0))
