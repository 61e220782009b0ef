"""The supervisor page's live part: waiting callers, agents, staffing alerts, Asterisk's link.

Built per snapshot from the router as it is now (``Router.calls``), so a caller's
priority is the router's current one, aged by its wait, with the terms it is made of (the
same terms an offer's explanation shows), never the score it entered with. People are
named: agents by their configured name, callers by number and, when the IVR knew them, by
customer name; Asterisk's uniqueid stays in the payload for actions and tooltips.

An agent's row says what they hold on every channel, as the KPIs count it: their voice
seat's ``state``, the digital tasks in their hands by channel (``tasks``; ``offered``: the
reservations they have not answered yet), their ``activity`` as occupancy counts it
(``acd.kpi_work.activity``: ``digital`` while the phone is free or paused and a chat or
e-mail is in hand) and ``busy`` when nothing more can be offered to them though they are
ready (at their capacity, or their phone busy and no chat allowed beside it). The agent's
page shows the same row.

The hub remembers, per call, what the IVR found (``Seen``); everything else is read off
the ACD here, on the hub's own task, never on the ACD's path.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from acd.agent_events import AgentState
from acd.agents import AgentView
from acd.calls import CallerCard, CallFacts
from acd.capacity import VOICE_ONLY
from acd.coverage import Alert, CallCover, QueueCover, StaffMember, cover, needs
from acd.kpi_work import activity
from acd.priority import PriorityScore
from acd.queue import WaitingCall
from acd.workload import TaskPhase
from center.service import AcdService
from center.staffing import current_priority
from hotline.web.agent.timers import agent_timers
from hotline.web.supervisor.telephony_link import LinkStatus

__all__ = ["MAX_SHOWN_CALLS", "Seen", "live_state"]

#: A queue's callers sent to the pages, highest priority first (``waiting`` counts them all).
MAX_SHOWN_CALLS = 100


@dataclass(slots=True)
class Seen:
    """What the hub keeps of a held call beside the router's view: the IVR's findings and
    the agent its phone rings at (None while it waits)."""

    facts: CallFacts
    caller: CallerCard
    ringing_agent: str | None = None


def live_state(
    acd: AcdService,
    seen: Mapping[str, Seen],
    now: float,
    link: LinkStatus | None,
    *,
    max_calls: int | None = None,
) -> dict[str, Any]:
    """``queues`` (each with its callers, at most ``max_calls`` of them, most urgent first,
    its ``waiting`` count, staff and alerts), ``agents``, ``alerts`` (every queue's, worst
    first), ``telephony`` and ``stale`` (figures from Asterisk that may be out of date
    because the link is down)."""
    profiles = acd.distributor.agents
    names = {agent_id: profile.name or agent_id for agent_id, profile in profiles.items()}
    views = acd.distributor.book.views()
    staff = [StaffMember(v, profiles[v.agent_id].skills) for v in views if v.agent_id in profiles]
    held = list(acd.distributor.router.calls())
    waiting = [c for c in held if not _ringing(seen, c.call_id)]
    own = {
        q.policy.name: q.skills.profile(CallFacts(), False).steps[0].requirement
        for q in acd.setup.queues
    }
    covers = cover(own, staff, waiting, now)
    router = acd.distributor.router
    # the router's order: effective priority (base, aging, service-level risk), then entry
    ranked = sorted(
        held,
        key=lambda c: (
            -router.urgency(c.queue, c.channel).effective(c.priority.total, now - c.entry_time),
            c.entry_time,
        ),
    )
    queues: dict[str, dict[str, Any]] = {
        name: _queue(name, covers.get(name), names, views, now) for name in acd.queue_names
    }
    for call in ranked:
        queue = queues.get(call.queue)
        if queue is None:  # a draining queue (removed by a reload): its calls are shown
            queue = queues[call.queue] = _queue(
                call.queue, covers.get(call.queue), names, views, now
            )
        wait = max(0.0, now - call.entry_time)
        queue["waiting"] += 1
        queue["longest_wait_s"] = max(queue["longest_wait_s"], round(wait, 1))
        channel = queue["by_channel"].setdefault(
            call.channel, {"waiting": 0, "longest_wait_s": 0.0}
        )
        channel["waiting"] += 1
        channel["longest_wait_s"] = max(channel["longest_wait_s"], round(wait, 1))
        if max_calls is None or len(queue["calls"]) < max_calls:
            info = seen.get(call.call_id) or _unseen(acd, call.call_id)
            score = current_priority(acd.distributor, call, now)  # with its terms, to show
            queue["calls"].append(_call(call, score, info, wait, covers, names))
    alerts = [a for q in queues.values() for a in q["alerts"]]
    alerts.sort(key=lambda a: _SEVERITY[a["kind"]])
    return {
        "queues": list(queues.values()),
        "agents": [_agent(acd, v, names, seen, now) for v in views],
        "alerts": alerts,
        "telephony": None if link is None else link.to_json(),
        "stale": link is not None and not link.live,
    }


_SEVERITY = {"no_agent": 0, "all_paused": 1, "none_free": 2}


def _ringing(seen: Mapping[str, Seen], call_id: str) -> bool:
    info = seen.get(call_id)
    return info is not None and info.ringing_agent is not None


def _unseen(acd: AcdService, call_id: str) -> Seen:
    call = acd.call(call_id)
    return Seen(CallFacts(), CallerCard()) if call is None else Seen(call.facts, call.caller)


def _queue(
    name: str,
    covered: QueueCover | None,
    names: Mapping[str, str],
    views: list[AgentView],
    now: float,
) -> dict[str, Any]:
    by_id = {v.agent_id: v for v in views}
    return {
        "name": name,
        "calls": [],
        "waiting": 0,
        "longest_wait_s": 0.0,
        #: per channel: waiting now and the longest wait (the thresholds' live figures)
        "by_channel": {},
        "eligible": [] if covered is None else [_who(a, names) for a in covered.eligible],
        "available": [] if covered is None else [_who(a, names) for a in covered.available],
        "alerts": [] if covered is None else [_alert(a, names, by_id, now) for a in covered.alerts],
    }


def _who(agent_id: str, names: Mapping[str, str]) -> dict[str, str]:
    return {"agent_id": agent_id, "name": names.get(agent_id, agent_id)}


def _alert(
    alert: Alert, names: Mapping[str, str], views: Mapping[str, AgentView], now: float
) -> dict[str, Any]:
    agents = []
    for agent_id in alert.agents:
        view = views.get(agent_id)
        agents.append(
            {
                **_who(agent_id, names),
                "state": None if view is None else view.state.value,
                "pause_reason": None if view is None else view.pause_reason,
                "time_in_state_s": None if view is None else round(view.time_in_state(now), 1),
            }
        )
    return {
        "kind": alert.kind.value,
        "queue": alert.queue,
        "need": alert.need,
        "calls": len(alert.calls),
        "call_ids": list(alert.calls),
        "agents": agents,
    }


def _call(
    call: WaitingCall,
    score: PriorityScore,
    info: Seen,
    wait: float,
    covers: Mapping[str, QueueCover],
    names: Mapping[str, str],
) -> dict[str, Any]:
    queue_cover = covers.get(call.queue)
    covered: CallCover | None = None if queue_cover is None else queue_cover.calls.get(call.call_id)
    facts, card = info.facts, info.caller
    ringing = info.ringing_agent
    return {
        "call_id": call.call_id,
        "caller": {
            "number": card.number,
            "customer_id": card.customer_id,
            "customer_name": card.customer_name,
        },
        "priority": round(score.total, 1),
        "base_priority": round(call.priority.total, 1),
        "priority_terms": [
            {"name": t.name, "value": round(t.value, 1), "detail": t.detail} for t in score.terms
        ],
        "wait_s": round(wait, 1),
        "intent": facts.intent or facts.call_type,
        "tier": facts.tier,
        "language": facts.language,
        "ringing": ringing,
        "ringing_name": None if ringing is None else names.get(ringing, ringing),
        "need": _need(call, wait) if covered is None else covered.need_now,
        "eligible_now": None if covered is None else covered.eligible_now,
        "available_now": None if covered is None else covered.available_now,
        "eligible_ever": None if covered is None else covered.eligible_ever,
    }


def _work(acd: AcdService, view: AgentView, seen: Mapping[str, Seen], now: float) -> dict[str, Any]:
    """What the agent holds on each channel, their activity and whether they are full;
    ``current``: each digital task in hand or offered, with its customer."""
    in_hand: dict[str, int] = {}
    load: dict[str, int] = {}
    offered = 0
    current = []
    for task in acd.distributor.tasks_of(view.agent_id):
        load[task.channel] = load.get(task.channel, 0) + 1
        if task.phase is TaskPhase.RESERVED:
            offered += 1
        else:
            in_hand[task.channel] = in_hand.get(task.channel, 0) + 1
        info = seen.get(task.task_id)
        card = None if info is None else info.caller
        current.append(
            {
                "task_id": task.task_id,
                "channel": task.channel,
                "phase": str(task.phase),
                "for_s": round(max(0.0, now - task.since), 1),
                "customer_name": None if card is None else card.customer_name,
                "number": None if card is None else card.number,
            }
        )
    profile = acd.distributor.agents.get(view.agent_id)
    capacity = VOICE_ONLY if profile is None else profile.capacity
    pending = view.pending is not None
    ready = view.state not in (AgentState.PAUSED, AgentState.LOGGED_OUT) and not pending
    return {
        "activity": activity(str(view.state), bool(in_hand)),
        "tasks": dict(sorted(in_hand.items())),
        "offered": offered,
        "busy": ready and not capacity.open_channels(view.state, load, pending=pending),
        "current": current,
    }


def _need(call: WaitingCall, wait: float) -> str:
    return needs(call.profile.requirement_at(wait))


def _agent(
    acd: AcdService,
    view: AgentView,
    names: Mapping[str, str],
    seen: Mapping[str, Seen],
    now: float,
) -> dict[str, Any]:
    call = view.call_id
    info = None if call is None else seen.get(call)
    card = None if info is None else info.caller
    return {
        "agent_id": view.agent_id,
        "name": names.get(view.agent_id, view.agent_id),
        "state": str(view.state),
        **_work(acd, view, seen, now),
        "time_in_state_s": round(view.time_in_state(now), 1),
        "pause_reason": view.pause_reason,
        # timers (talk, hold, wrap-up, pause) and pause_over: the reason's max_s passed
        **agent_timers(acd, view, now),
        "pending": None
        if view.pending is None
        else {"action": view.pending, "reason": view.pending_reason},
        "call_id": call,
        "caller": None
        if card is None
        else {"number": card.number, "customer_name": card.customer_name},
        "calls_handled": view.calls_handled,
    }
