"""The agent's timers and pause limit in their live row (the agent's page and the
supervisor's agents table read the same row, ``hotline.web.supervisor.live_view``).

Every figure is the server's, at the snapshot: time in state; on a call its talk time and
hold (the current hold and every hold of the call); in wrap-up its length; paused, how long
and whether the reason's ``max_s`` is passed (``pause_over``). Pages count on from them
between two snapshots; they never start a timer of their own.
"""

from __future__ import annotations

from typing import Any

from acd.agent_events import AgentState
from acd.agents import AgentView
from center.service import AcdService

__all__ = ["agent_timers"]


def _s(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def agent_timers(acd: AcdService, view: AgentView, now: float) -> dict[str, Any]:
    state_s = max(0.0, view.time_in_state(now))
    state = view.state
    on_call = state is AgentState.ON_CALL
    paused = state is AgentState.PAUSED
    hold = acd.agent_day.hold(view.agent_id, view.call_id, now)
    rules = acd.setup.desk
    reason = view.pause_reason if paused else None
    return {
        "timers": {
            "state_s": _s(state_s),
            "talk_s": _s(state_s) if on_call else None,
            "hold_s": _s(hold.current_s) if on_call else None,
            "hold_total_s": _s(hold.total_s) if on_call else None,
            "wrap_up_s": _s(state_s) if state is AgentState.WRAP_UP else None,
            "pause_s": _s(state_s) if paused else None,
        },
        "pause_max_s": rules.pause_max_s(reason),
        "pause_over": paused and rules.pause_over(reason, state_s),
    }
