"""The wallboard's feed (``/ws/wallboard``): only what the wall screen shows, cut from the
hub's snapshot once per update for every wall screen.

Per queue its level, each channel's threshold figures (value and level: no bands, the
screen colours by level) and the staffing of its eligible agents counted here (free, busy,
paused: no names, no callers); the active alerts (eight at most, as shown); whether
Asterisk is live; the server's time. No customer's name or number, no agent's name: a
wall screen's sign-in (``Role.WALLBOARD``) sees the room's figures, not the people.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["MAX_ALERTS", "wallboard_view"]

#: Alerts shown at once on the wall (the worst and oldest first).
MAX_ALERTS = 8
_FIGURES = ("waiting", "longest_wait_s", "service_level")


def wallboard_view(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    states = {a["agent_id"]: a for a in snapshot.get("agents") or ()}
    link = snapshot.get("telephony")
    alerts = (snapshot.get("thresholds") or {}).get("active") or ()
    return {
        "server_time": snapshot.get("server_time"),
        "telephony": {"live": True if link is None else bool(link.get("live"))},
        "alerts": [
            {k: a.get(k) for k in ("queue", "channel", "metric", "level", "value")}
            for a in alerts[:MAX_ALERTS]
        ],
        "queues": [_queue(q, states) for q in snapshot.get("queues") or ()],
    }


def _queue(queue: Mapping[str, Any], states: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    free = busy = paused = 0
    for who in queue.get("eligible") or ():
        agent = states.get(who["agent_id"])
        if agent is None:
            continue
        if agent["state"] == "paused":
            paused += 1
        elif agent["state"] == "available" and not agent.get("busy"):
            free += 1
        else:
            busy += 1
    channels = {
        channel: {
            m: {"value": shown[m]["value"], "level": shown[m]["level"]}
            for m in _FIGURES
            if m in shown
        }
        for channel, shown in (queue.get("thresholds") or {}).items()
    }
    return {
        "name": queue["name"],
        "level": queue.get("level", "ok"),
        "channels": channels,
        "agents": {"free": free, "busy": busy, "paused": paused},
    }
