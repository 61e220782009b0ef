"""What an agent's day holds beside their state (``acd.agents``), folded from the event log:
the pauses each agent took today, by reason (``acd.desk_rules``' daily limits), and the hold
of the call they are on (the desktop's hold timer). Pure: the caller says which day it is.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from acd.agent_events import AgentState
from acd.agents import AgentView
from acd.events import AgentStateChanged, CallHoldChanged, EventRecord

__all__ = ["AgentDay", "HoldTime"]

_PAUSED = AgentState.PAUSED.value
_ON_CALL = AgentState.ON_CALL.value


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

    def saw(
        self, record: EventRecord, view: Callable[[str], AgentView | None], day: dt.date
    ) -> None:
        """Fold one record of the ACD's log (``view``: the agent as they are now)."""
        event = record.event
        if isinstance(event, CallHoldChanged):
            hold = self._holds.get(event.agent_id)
            if hold is None or hold.call_id != event.call_id:
                hold = self._holds[event.agent_id] = _Hold(event.call_id, None)
            if event.on_hold and hold.since is None:
                hold.since = record.at
            elif not event.on_hold and hold.since is not None:
                hold.before_s += record.at - hold.since
                hold.since = None
        elif isinstance(event, AgentStateChanged):
            if event.before == _ON_CALL and event.after != _ON_CALL:
                self._holds.pop(event.agent_id, None)
            if event.after == _PAUSED:
                now = view(event.agent_id)
                if now is not None and now.pause_reason is not None:
                    self._count(event.agent_id, now.pause_reason, now.since, day)

    def _count(self, agent_id: str, reason: str, since: float, day: dt.date) -> None:
        if self._day != day:
            self._day, self._taken = day, {}
        if self._counted.get(agent_id) == (reason, since):
            return
        self._counted[agent_id] = (reason, since)
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
