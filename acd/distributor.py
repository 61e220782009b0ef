"""The automatic call distributor: the one object the telephony edge and the simulator drive.

It owns the agent state machine and the router, computes each call's priority and skill
profile on arrival, keeps the two in step (an agent who becomes available is offered to the
router, one who leaves is withdrawn), appends every change to the event log, and returns
the offers to act on. Pure and synchronous; the caller of ``next_wakeup`` schedules ``tick``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

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
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallHoldChanged,
    CallOffered,
    CallQueued,
    CallRequeued,
    EventRejected,
    EventSink,
)
from acd.offer import Offer
from acd.priority import PriorityWeights
from acd.queue import QueuePolicy, WaitingCall
from acd.router import Router, RoutingError
from acd.skills import QueueSkills

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
    def _log(
        self,
        event: CallQueued
        | CallOffered
        | CallRequeued
        | CallAnswered
        | CallHoldChanged
        | CallEnded
        | CallAbandoned
        | AgentStateChanged
        | EventRejected,
    ) -> None:
        self._sink.append(self._clock(), event)

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
