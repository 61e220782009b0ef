"""The automatic call distributor: the one object the telephony edge and the simulator drive.

It owns the agent state machine and the router, computes each call's priority and skill
profile on arrival, keeps the two in step (an agent who becomes available is offered to the
router, one who leaves is withdrawn), appends every change to the event log, and returns
the offers to act on. Pure and synchronous; the caller of ``next_wakeup`` schedules ``tick``.

A config reload's queues apply at once (``update_queues``): a new queue takes calls, a
changed one routes its waiting calls by its new rules (re-profiled, same entry time), a
removed one takes no new calls and drains: the calls already in it are served by its old
rules until they leave. Offers already out stand.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import NoReturn

from acd.agent_events import (
    AgentError,
    AgentEvent,
    AgentState,
    HungUp,
    OfferMade,
    event_name,
)
from acd.agents import AgentBook, AgentPolicy, Transition
from acd.calls import IncomingCall
from acd.clock import Clock
from acd.events import (
    AcdEvent,
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallHoldChanged,
    CallMoved,
    CallOffered,
    CallPriorityChanged,
    CallQueued,
    CallRequeued,
    EventRejected,
    EventSink,
    PriorityWeightsUpdated,
    QueueUpdated,
)
from acd.offer import Offer
from acd.priority import PriorityScore, PriorityWeights
from acd.queue import QueuePolicy, WaitingCall
from acd.router import SUPERVISOR_TERM, Router, RoutingError
from acd.skills import QueueSkills, RoutingProfile

__all__ = ["AgentProfile", "CallDistributor", "QueueSetup"]


@dataclass(frozen=True, slots=True)
class QueueSetup:
    policy: QueuePolicy
    skills: QueueSkills


@dataclass(frozen=True, slots=True)
class AgentProfile:
    agent_id: str
    skills: Mapping[str, int] = field(default_factory=dict)
    #: The SIP endpoint the caller's session dials ("PJSIP/agent1001").
    endpoint: str = ""
    name: str = ""


class _Call:
    __slots__ = ("agent_id", "call", "state")

    def __init__(self, call: IncomingCall) -> None:
        self.call = call
        self.state = "waiting"  # "offered" | "connected"
        self.agent_id: str | None = None


class CallDistributor:
    def __init__(
        self,
        *,
        queues: Iterable[QueueSetup],
        agents: Iterable[AgentProfile],
        priority: PriorityWeights,
        clock: Clock,
        sink: EventSink,
        agent_policy: AgentPolicy | None = None,
        seed: int = 0,
    ) -> None:
        self._queues = {q.policy.name: q for q in queues}
        #: removed by a reload, with calls still in them (kept until the next reload)
        self._draining: dict[str, QueueSetup] = {}
        self.agents = {a.agent_id: a for a in agents}
        self._order = {agent_id: i for i, agent_id in enumerate(self.agents)}
        self._priority = priority
        self._clock = clock
        self._sink = sink
        self.book = AgentBook(self.agents, clock=clock, policy=agent_policy or AgentPolicy())
        self.router = Router((q.policy for q in self._queues.values()), clock=clock, seed=seed)
        self._calls: dict[str, _Call] = {}

    # calls -----------------------------------------------------------------------------
    def call_arrived(self, call: IncomingCall) -> list[Offer]:
        """Queue a call; raises ``RoutingError`` for an unknown queue or a duplicate id."""
        setup = self._queues.get(call.queue)
        problem = "unknown queue" if setup is None else None
        if call.call_id in self._calls:
            problem = "call already queued"
        if setup is None or problem is not None:
            self._log(EventRejected(call.call_id, "call_arrived", problem or ""))
            raise RoutingError(f"call {call.call_id}: {problem} {call.queue!r}")
        now = self._clock()
        facts = call.facts
        score = self._priority.score(facts)
        profile = setup.skills.profile(facts, self._priority.is_repeat(facts))
        entry = now if call.entry_time is None else min(call.entry_time, now)
        waiting = WaitingCall(call.call_id, call.queue, entry, score, profile, call.preferred_agent)
        self.router.enqueue(waiting)
        self._calls[call.call_id] = _Call(call)
        call_type = self._priority.call_type(facts)
        self._log(CallQueued(call.call_id, call.queue, entry, score.total, call_type, facts.tier))
        return self.dispatch()

    def caller_hung_up(self, call_id: str) -> list[Offer]:
        """The caller left: abandoned if not yet answered, else the call is over."""
        return self.caller_left(call_id, "caller hung up", event="caller_hung_up")

    def caller_left(self, call_id: str, reason: str, *, event: str = "caller_left") -> list[Offer]:
        """The call left the line for ``reason`` (a callback request, an overflow, no agent
        left): like a hang-up, with the reason kept in the log."""
        info = self._calls.get(call_id)
        if info is None:
            self._log(EventRejected(call_id, event, "unknown call"))
            return []
        self._caller_gone(info, reason)
        return self.dispatch()

    # supervisors' actions on waiting calls --------------------------------------------
    def raise_priority(self, call_id: str, by: float, actor: str) -> list[Offer]:
        """Lift a waiting call's priority by ``by`` points (the offer's explanation shows
        the ``supervisor`` term); raises ``RoutingError`` for an unknown call, a call
        already offered or connected, or a bump that is not a positive number."""
        info = self._waiting(call_id, "raise_priority")
        if not (by > 0 and math.isfinite(by)):
            self._refuse(call_id, "raise_priority", f"priority bump must be positive, not {by}")
        call = self.router.raise_priority(call_id, by, detail=f"raised by {actor}")
        self._log(CallPriorityChanged(call_id, info.call.queue, by, call.priority.total, actor))
        return self.dispatch()

    def move_call(self, call_id: str, queue: str, actor: str) -> list[Offer]:
        """Move a waiting call to ``queue``: that queue's skill profile for this caller and
        the same entry time; raises ``RoutingError`` for an unknown call, a call already
        offered or connected, an unknown queue or the queue it waits in."""
        info = self._waiting(call_id, "move_call")
        setup = self._queues.get(queue)
        if setup is None:
            self._refuse(call_id, "move_call", f"unknown queue {queue!r}")
        if queue == info.call.queue:
            self._refuse(call_id, "move_call", f"already waits in {queue!r}")
        facts = info.call.facts
        profile = setup.skills.profile(facts, self._priority.is_repeat(facts))
        self.router.move(call_id, queue, profile)
        before = info.call.queue
        info.call = replace(info.call, queue=queue)
        self._log(CallMoved(call_id, before, queue, actor))
        return self.dispatch()

    def profile(self, call_id: str) -> RoutingProfile | None:
        """The skill profile the call now waits with (None: not waiting or offered)."""
        info = self._calls.get(call_id)
        if info is None or info.state == "connected":
            return None
        setup = self._setup(info.call.queue)
        facts = info.call.facts
        return setup.skills.profile(facts, self._priority.is_repeat(facts))

    # queues (a config reload) ----------------------------------------------------------
    def update_queues(
        self, queues: Iterable[QueueSetup], priority: PriorityWeights | None = None
    ) -> list[Offer]:
        """A config reload's queues (and priority weights; None: unchanged), applied at once.

        A new queue takes calls. A changed queue (strategy, targets, aging, skills, rules,
        relaxation) routes by its new policy now, and its calls are re-profiled for its new
        skills with their entry time kept, so aging and relaxation go on from where they
        are. New weights re-score every call (a supervisor's raise is kept). A queue no
        longer listed refuses new calls (``RoutingError`` "unknown queue") and drains: its
        calls are served by its old rules until they leave. An offer already out stands; a
        call whose offer fails comes back under the new rules. Each change is logged
        (``QueueUpdated``, ``PriorityWeightsUpdated``); nothing when nothing changed."""
        new = {q.policy.name: q for q in queues}
        weights = self._priority if priority is None else priority
        rescore = weights != self._priority
        before = {**self._draining, **self._queues}
        changes = {name: "added" for name in new if name not in self._queues}
        for name, setup in new.items():
            if name in before and not _same_setup(before[name], setup):
                changes.setdefault(name, "changed")  # re-added while draining: "added"
        changes |= {name: "removed" for name in self._queues if name not in new}
        if not changes and not rescore:
            return []
        for name, change in changes.items():
            if change == "removed":
                self.router.remove_queue(name)
                self._draining[name] = self._queues[name]
            else:
                self.router.update_queue(new[name].policy)
                self._draining.pop(name, None)
        self._queues, self._priority = new, weights
        reprofiled, rescored = self._revise_calls(
            {n for n, change in changes.items() if change != "removed"}, rescore=rescore
        )
        self._draining = {n: q for n, q in self._draining.items() if self.router.is_draining(n)}
        for name, change in changes.items():
            self._log(QueueUpdated(name, change, reprofiled.get(name, 0)))
        if rescore:
            self._log(PriorityWeightsUpdated(rescored))
        return self.dispatch()

    def _revise_calls(
        self, queues: Collection[str], *, rescore: bool
    ) -> tuple[dict[str, int], int]:
        """Give the calls of ``queues`` (every call when ``rescore``) their profile and base
        priority under the current config. Returns the calls re-profiled per queue and the
        number re-scored."""
        reprofiled: dict[str, int] = {}
        rescored = 0
        for held in list(self.router.calls()):
            if not rescore and held.queue not in queues:
                continue
            facts = self._calls[held.call_id].call.facts
            repeat = self._priority.is_repeat(facts)
            profile = self._setup(held.queue).skills.profile(facts, repeat)
            priority = held.priority
            if rescore:
                kept = tuple(t for t in held.priority.terms if t.name == SUPERVISOR_TERM)
                priority = PriorityScore(self._priority.score(facts).terms + kept)
            if profile == held.profile and priority == held.priority:
                continue
            self.router.revise(replace(held, profile=profile, priority=priority))
            if profile != held.profile:
                reprofiled[held.queue] = reprofiled.get(held.queue, 0) + 1
            if priority != held.priority:
                rescored += 1
        return reprofiled, rescored

    # agents ----------------------------------------------------------------------------
    def agent_event(self, event: AgentEvent) -> list[Offer]:
        """Apply an agent action or telephony fact; a refused one is logged and re-raised
        (``UnknownAgent``, ``IllegalTransition``, ``StaleCallEvent``)."""
        try:
            transition = self.book.apply(event)
        except AgentError as error:
            self._log(EventRejected(error.agent_id, event_name(event), error.reason))
            raise
        self._after(transition)
        return self.dispatch()

    def update_roster(self, agents: Iterable[AgentProfile]) -> list[str]:
        """A config reload's agents: a new agent joins logged out (and may log in at once);
        a changed profile replaces the old one (the phone at the next offer, the skills at
        the agent's next login). Returns the ids no longer listed: they stay until a restart
        (an agent may be on a call), so they are named for the admin."""
        listed: set[str] = set()
        for profile in agents:
            listed.add(profile.agent_id)
            if profile.agent_id not in self.agents:
                self._order[profile.agent_id] = len(self._order)
                self.book.add(profile.agent_id)
            self.agents[profile.agent_id] = profile
        return [agent_id for agent_id in self.agents if agent_id not in listed]

    # time ------------------------------------------------------------------------------
    def next_wakeup(self) -> float | None:
        """When ``tick`` next has something to do (wrap-up ends, relaxation steps...)."""
        times = [
            t for t in (self.book.next_deadline(), self.router.next_change_at()) if t is not None
        ]
        return min(times) if times else None

    def tick(self) -> list[Offer]:
        for transition in self.book.tick():
            self._after(transition)
        return self.dispatch()

    def dispatch(self) -> list[Offer]:
        offers = self.router.dispatch()
        for offer in offers:
            info = self._calls[offer.call_id]
            info.state, info.agent_id = "offered", offer.agent_id
            self._log(
                CallOffered(
                    offer.call_id,
                    offer.agent_id,
                    offer.queue,
                    offer.priority.total,
                    offer.match.step,
                    offer.explain(),
                )
            )
            self._after(self.book.apply(OfferMade(offer.agent_id, offer.call_id)))
        return offers

    def reconcile(self, live_channels: Collection[str]) -> list[Offer]:
        """After an AMI reconnect: clear agents' offers/calls and callers whose channels
        AMI no longer lists (see ``AgentBook.reconcile``)."""
        for transition in self.book.reconcile(live_channels):
            self._after(transition)
        for info in list(self._calls.values()):
            channel = info.call.channel
            if channel is not None and channel not in live_channels:
                self._caller_gone(info, "reconciled: caller channel gone")
        return self.dispatch()

    # views -----------------------------------------------------------------------------
    def call_state(self, call_id: str) -> str | None:
        info = self._calls.get(call_id)
        return None if info is None else info.state

    # internals -------------------------------------------------------------------------
    def _log(self, event: AcdEvent) -> None:
        self._sink.append(self._clock(), event)

    def _setup(self, queue: str) -> QueueSetup:
        """An open queue's setup, or a draining one's."""
        setup = self._queues.get(queue)
        return self._draining[queue] if setup is None else setup

    def _waiting(self, call_id: str, action: str) -> _Call:
        info = self._calls.get(call_id)
        if info is None:
            self._refuse(call_id, action, "unknown call")
        if info.state != "waiting":
            self._refuse(call_id, action, f"call already {info.state}")
        return info

    def _refuse(self, call_id: str, action: str, reason: str) -> NoReturn:
        self._log(EventRejected(call_id, action, reason))
        raise RoutingError(f"call {call_id}: {reason}")

    def _caller_gone(self, info: _Call, reason: str) -> None:
        call = info.call
        if info.state == "connected":
            assert info.agent_id is not None
            if self.book.view(info.agent_id).call_id == call.call_id:
                self._after(self.book.apply(HungUp(info.agent_id, call.call_id)))
            return
        self.router.withdraw(call.call_id)
        del self._calls[call.call_id]
        self._log(CallAbandoned(call.call_id, call.queue, info.state == "offered", reason))
        if info.state == "offered" and info.agent_id is not None:
            view = self.book.view(info.agent_id)
            if view.state is AgentState.OFFERED and view.call_id == call.call_id:
                self._after(self.book.apply(HungUp(info.agent_id, call.call_id)), call_gone=True)

    def _after(self, t: Transition, *, call_gone: bool = False) -> None:
        """Log a transition, keep the router in step, and settle the call it concerns.

        (States are ``StrEnum`` members, so the log holds their plain string values.)
        """
        self._log(AgentStateChanged(t.agent_id, t.before, t.after, t.event, t.reason, t.call_id))
        self._reflect(t)
        info = self._calls.get(t.call_id) if t.call_id is not None and not call_gone else None
        if info is None or info.agent_id != t.agent_id:
            return
        call = info.call
        if t.event == "answered":
            info.state = "connected"
            self.router.settle(call.call_id)
            self._log(CallAnswered(call.call_id, t.agent_id, call.queue))
        elif t.event in ("hold_started", "hold_ended"):
            self._log(CallHoldChanged(call.call_id, t.agent_id, t.event == "hold_started"))
        elif t.before is AgentState.ON_CALL and t.after is not AgentState.ON_CALL:
            del self._calls[call.call_id]
            self._log(CallEnded(call.call_id, t.agent_id, call.queue, t.reason))
        elif (
            t.before is AgentState.OFFERED
            and t.after is not AgentState.OFFERED
            and t.event != "answered"
        ):
            info.state, info.agent_id = "waiting", None
            self.router.requeue(call.call_id)
            self._log(CallRequeued(call.call_id, t.agent_id, call.queue, t.reason))

    def _reflect(self, t: Transition) -> None:
        before, after, agent_id = t.before, t.after, t.agent_id
        router = self.router
        if before is AgentState.LOGGED_OUT and after is not AgentState.LOGGED_OUT:
            router.add_agent(agent_id, self.agents[agent_id].skills, order=self._order[agent_id])
        if after is AgentState.AVAILABLE and before is not AgentState.AVAILABLE:
            router.set_available(
                agent_id,
                idle_since=self.book.idle_since(agent_id),
                calls_handled=self.book.calls_handled(agent_id),
            )
        elif before is AgentState.AVAILABLE and after is not AgentState.AVAILABLE:
            router.set_unavailable(agent_id)
        if after is AgentState.LOGGED_OUT and before is not AgentState.LOGGED_OUT:
            router.remove_agent(agent_id)


def _same_setup(a: QueueSetup, b: QueueSetup) -> bool:
    """Would calls be routed alike? (``Urgency`` compares by identity: its inputs here.)"""
    p, q = a.policy, b.policy
    return (
        a.skills == b.skills
        and (p.name, p.strategy, p.preferred_window_s) == (q.name, q.strategy, q.preferred_window_s)
        and (p.urgency.aging, p.urgency.sl_risk) == (q.urgency.aging, q.urgency.sl_risk)
    )
