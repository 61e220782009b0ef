"""Who can serve the callers waiting in a queue: the supervisor's staffing alerts.

Pure: the agents as they are (state, skills) and the calls the router holds, at ``now``.
A caller's *final* requirement is the one left once every relaxation step has applied;
an agent who meets it can take the call sooner or later. For each queue the callers are
grouped by that requirement and each group's agents are counted by what they are doing:

* nobody logged in meets it: the callers will never be answered (``NO_AGENT``);
* everyone who meets it is paused: nobody is working on them (``ALL_PAUSED``);
* everyone who meets it is busy: none is free now (``NONE_FREE``: a warning, not news
  in a busy hour, but worth seeing).

A queue's own staff (``eligible``, ``available``) are the agents who meet its required
skills for a caller the IVR knows nothing about (no language, no rule), before relaxation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from acd.agent_events import AgentState
from acd.agents import AgentView
from acd.queue import WaitingCall
from acd.skills import Requirement, SkillLevels

__all__ = ["Alert", "AlertKind", "CallCover", "QueueCover", "StaffMember", "cover", "needs"]

S = AgentState
_WORKING = frozenset({S.AVAILABLE, S.OFFERED, S.ON_CALL, S.WRAP_UP})


class AlertKind(StrEnum):
    NO_AGENT = "no_agent"
    ALL_PAUSED = "all_paused"
    NONE_FREE = "none_free"


@dataclass(frozen=True, slots=True)
class StaffMember:
    view: AgentView
    skills: SkillLevels


@dataclass(frozen=True, slots=True)
class Alert:
    """``calls`` callers of ``queue`` need ``need``; ``agents``: the ones who could take them
    (logged in), all paused or all busy (none for ``NO_AGENT``)."""

    kind: AlertKind
    queue: str
    need: str
    calls: tuple[str, ...]
    agents: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CallCover:
    """Who could take one call now (its requirement at this step) and in the end."""

    call_id: str
    need_now: str
    eligible_now: int
    available_now: int
    #: Logged-in agents who meet the requirement left after every relaxation step.
    eligible_ever: int


@dataclass(frozen=True, slots=True)
class QueueCover:
    queue: str
    #: Logged-in agents with the queue's own required skills, and those of them available.
    eligible: tuple[str, ...]
    available: tuple[str, ...]
    alerts: tuple[Alert, ...]
    calls: Mapping[str, CallCover]


def cover(
    queues: Mapping[str, Requirement],
    staff: Sequence[StaffMember],
    calls: Iterable[WaitingCall],
    now: float,
) -> dict[str, QueueCover]:
    """Every queue's coverage. ``queues``: each queue's own requirement (its required skills
    for an unknown caller); a queue that only holds calls (draining) gets no staff figures."""
    logged_in = [m for m in staff if m.view.state is not S.LOGGED_OUT]
    admitted: dict[Requirement, list[StaffMember]] = {}
    free: dict[Requirement, int] = {}

    def who(requirement: Requirement) -> list[StaffMember]:
        found = admitted.get(requirement)
        if found is None:
            found = admitted[requirement] = [m for m in logged_in if requirement.admits(m.skills)]
            free[requirement] = sum(1 for m in found if m.view.state is S.AVAILABLE)
        return found

    per_queue: dict[str, list[WaitingCall]] = {name: [] for name in queues}
    for call in calls:
        per_queue.setdefault(call.queue, []).append(call)
    result: dict[str, QueueCover] = {}
    for name, waiting in per_queue.items():
        own = queues.get(name)
        staffed = who(own) if own is not None else []
        call_covers: dict[str, CallCover] = {}
        groups: dict[Requirement, list[str]] = {}
        for call in sorted(waiting, key=lambda c: c.entry_time):
            final = call.profile.steps[-1].requirement
            current = call.profile.requirement_at(now - call.entry_time)
            call_covers[call.call_id] = CallCover(
                call.call_id,
                needs(current),
                len(who(current)),
                free[current],
                len(who(final)),
            )
            groups.setdefault(final, []).append(call.call_id)
        alerts = tuple(
            alert
            for requirement, ids in groups.items()
            if (alert := _alert(name, requirement, tuple(ids), who(requirement))) is not None
        )
        result[name] = QueueCover(
            name,
            tuple(m.view.agent_id for m in staffed),
            tuple(m.view.agent_id for m in staffed if m.view.state is S.AVAILABLE),
            alerts,
            call_covers,
        )
    return result


@lru_cache(maxsize=1024)
def needs(requirement: Requirement) -> str:
    """The skills a call must find ("lang.ar>=2, product.internet>=1"; preferences aside)."""
    return ", ".join(f"{skill}>={level}" for skill, level in requirement.required) or "any agent"


def _alert(
    queue: str, requirement: Requirement, calls: tuple[str, ...], able: list[StaffMember]
) -> Alert | None:
    need = needs(requirement)
    agents = tuple(m.view.agent_id for m in able)
    if not able:
        return Alert(AlertKind.NO_AGENT, queue, need, calls)
    if not any(m.view.state in _WORKING for m in able):
        return Alert(AlertKind.ALL_PAUSED, queue, need, calls, agents)
    if not any(m.view.state is S.AVAILABLE for m in able):
        return Alert(AlertKind.NONE_FREE, queue, need, calls, agents)
    return None
