"""What the live ACD reads off the distributor for a waiting call: who could serve it at
all (join-empty, leave-when-empty), its place and expected wait (see ``center.ewt``), and
its priority as the router ranks it now (for the supervisor's page)."""

from __future__ import annotations

from acd.agent_events import AgentState
from acd.distributor import CallDistributor
from acd.priority import PriorityScore
from acd.queue import WaitingCall
from acd.skills import Requirement
from center.ewt import WaitEstimate, expected_wait, position_in_line, release_in
from center.tickets import CallTicket

__all__ = ["Servable", "current_priority", "estimate_wait"]


class Servable:
    """Is some logged-in agent (paused or not) able to take a call once its requirements
    have relaxed as far as they go? Cached per requirement until someone logs in or out."""

    def __init__(self, distributor: CallDistributor) -> None:
        self._distributor = distributor
        self._known: dict[Requirement, bool] = {}

    def __call__(self, ticket: CallTicket) -> bool:
        requirement = ticket.profile.steps[-1].requirement
        known = self._known.get(requirement)
        if known is None:
            agents = self._distributor.agents
            known = any(
                view.state is not AgentState.LOGGED_OUT
                and requirement.admits(agents[view.agent_id].skills)
                for view in self._distributor.book.views()
            )
            self._known[requirement] = known
        return known

    def forget(self) -> None:
        self._known.clear()


def estimate_wait(
    distributor: CallDistributor,
    ticket: CallTicket,
    *,
    now: float,
    talk_s: float,
    wrap_s: float,
) -> WaitEstimate | None:
    """Position and expected wait of a waiting call (None: it is not waiting now). Costs one
    pass over the waiting calls and one over the agents: made per announcement, not per
    routing decision."""
    router = distributor.router
    policy = router.policy(ticket.queue)
    mine: tuple[float, float] | None = None
    others: list[tuple[float, float]] = []
    for waiting in router.waiting():
        if waiting.queue != ticket.queue:
            continue
        waited = now - waiting.entry_time
        urgency = policy.urgency_of(waiting.channel)
        key = (urgency.effective(waiting.priority.total, waited), waiting.entry_time)
        if waiting.call_id == ticket.call_id:
            mine = key
        else:
            others.append(key)
    if mine is None:
        return None
    position = position_in_line(mine, others)
    requirement = ticket.profile.requirement_at(now - ticket.entry_time)
    releases = []
    for view in distributor.book.views():
        if not requirement.admits(distributor.agents[view.agent_id].skills):
            continue
        release = release_in(view.state.value, now - view.since, talk_s, wrap_s)
        if release is not None:
            releases.append(release)
    return WaitEstimate(position, expected_wait(position, releases, talk_s + wrap_s), len(releases))


def current_priority(distributor: CallDistributor, call: WaitingCall, now: float) -> PriorityScore:
    """A held call's priority as the router ranks it at ``now``: its base terms plus aging
    and service-level risk at its wait, the same terms an offer's explanation shows."""
    urgency = distributor.router.urgency(call.queue, call.channel)
    return call.priority.plus(*urgency.terms(max(0.0, now - call.entry_time)))
