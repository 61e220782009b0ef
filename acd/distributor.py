"""The automatic call distributor: the one object the telephony edge, the channel adapters
and the simulator drive.

It routes *tasks* of every channel (``acd.contacts``): calls and callbacks on the agents'
voice seat (``acd.agents``), chats, e-mails and voicemails as digital tasks an agent holds
several at a time (``acd.workload``), within each agent's capacity (``acd.capacity``). It
computes each task's priority and skill profile on arrival, keeps the router in step with
what each agent may take now (the channels their capacity leaves open), appends every
change to the event log, and returns the offers to act on. A voice offer rings the agent's
phone (the edge reports what happened as agent events); a digital offer is a reservation
the agent accepts or rejects (``task_accepted``, ``task_rejected``) before its deadline,
then closes (``task_done``): ``acd.digital_tasks``. Pure and synchronous; the caller of
``next_wakeup`` schedules ``tick``.

A config reload's agents and queues apply at once (``update_roster``, ``update_queues``:
``acd.config_reload``).
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
from acd.capacity import VOICE_ONLY, Capacity
from acd.clock import Clock
from acd.config_reload import ConfigReload
from acd.contacts import VOICE_SEAT
from acd.digital_tasks import LOGGED_OUT, NO_ANSWER, DigitalTasks
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
)
from acd.offer import Offer
from acd.priority import PriorityWeights
from acd.queue import QueuePolicy, WaitingCall
from acd.router import Router, RoutingError
from acd.skills import QueueSkills, RoutingProfile
from acd.workload import TaskPhase, Workload

__all__ = [
    "AgentProfile",
    "CallDistributor",
    "QueueSetup",
]


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
    #: What the agent may hold at once beside their phone (agents.yaml).
    capacity: Capacity = VOICE_ONLY


class _Call:
    __slots__ = ("agent_id", "call", "settled", "state")

    def __init__(self, call: IncomingCall) -> None:
        self.call = call
        self.state = "waiting"  # "offered" | "connected"
        self.agent_id: str | None = None
        #: the router's view of a digital task the agent accepted (to requeue it, its
        #: place kept, if the agent logs out before closing it)
        self.settled: WaitingCall | None = None


class CallDistributor(DigitalTasks, ConfigReload):
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
        self.workload = Workload(clock=clock)
        self._calls: dict[str, _Call] = {}
        #: agent -> the channels the router has them available on
        self._open: dict[str, frozenset[str]] = {}
        #: agent -> when they were last given or closed a digital task (spreads the work)
        self._last_task_at: dict[str, float] = {}
        #: an agent was made available to the router (``dispatch`` asks it again then)
        self._reopened = False

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
        waiting = WaitingCall(
            call.call_id,
            call.queue,
            entry,
            score,
            profile,
            call.preferred_agent,
            call.channel,
            call.directed,
        )
        self.router.enqueue(waiting)
        self._calls[call.call_id] = _Call(call)
        call_type = self._priority.call_type(facts)
        self._log(
            CallQueued(
                call.call_id, call.queue, entry, score.total, call_type, facts.tier, call.channel
            )
        )
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
        wake = self.book.next_deadline()
        for t in (self.workload.next_deadline(), self.router.next_change_at()):
            if t is not None and (wake is None or t < wake):
                wake = t
        return wake

    def tick(self) -> list[Offer]:
        for transition in self.book.tick():
            self._after(transition)
        for agent_id, task in self.workload.due():
            if task.phase is TaskPhase.RESERVED:  # the digital ring, unanswered
                self.workload.drop(agent_id, task.task_id)
                self._offer_failed(agent_id, task, NO_ANSWER, self.book.policy.rona_pause_reason)
            else:
                self.workload.drop(agent_id, task.task_id)
                self._task_changed(agent_id, task, task.phase, "wrap-up time over", gone=True)
                self._refresh(agent_id)
        return self.dispatch()

    def dispatch(self) -> list[Offer]:
        """Every offer that can be made now. An agent given a digital task may have room
        for more at once (their capacity): the router is asked again while making its offers
        made an agent available to it (else it has no other pair: it stopped at none)."""
        made: list[Offer] = []
        while True:
            self._reopened = False
            offers = self.router.dispatch()
            if not offers:
                return made
            for offer in offers:
                agent_id = offer.agent_id
                self._open[agent_id] = frozenset()  # the router took them off every channel
                info = self._calls[offer.call_id]
                info.state, info.agent_id = "offered", agent_id
                self._log(
                    CallOffered(
                        offer.call_id,
                        agent_id,
                        offer.queue,
                        offer.priority.total,
                        offer.match.step,
                        offer.explain(),
                    )
                )
                if offer.channel in VOICE_SEAT:
                    self._after(self.book.apply(OfferMade(agent_id, offer.call_id)))
                    continue
                timeout = self.book.policy.reservation_timeout_s
                task = self.workload.reserve(agent_id, offer.call_id, offer.channel, timeout)
                self._last_task_at[agent_id] = self._clock()
                self._task_changed(agent_id, task, None, "offered")
                self._refresh(agent_id)
            made += offers
            if not self._reopened:  # the router had no other pair, and still has none
                return made

    def reconcile(self, live_channels: Collection[str]) -> list[Offer]:
        """After an AMI reconnect: clear agents' offers/calls and callers whose channels
        AMI no longer lists (see ``AgentBook.reconcile``)."""
        for transition in self.book.reconcile(live_channels):
            self._after(transition)
        for info in list(self._calls.values()):
            channel = info.call.line
            if channel is not None and channel not in live_channels:
                self._caller_gone(info, "reconciled: caller channel gone")
        return self.dispatch()

    # views -----------------------------------------------------------------------------
    def call_state(self, call_id: str) -> str | None:
        info = self._calls.get(call_id)
        return None if info is None else info.state

    def call(self, call_id: str) -> IncomingCall | None:
        """The task as the ACD holds it (its queue, line, facts), while it holds it."""
        info = self._calls.get(call_id)
        return None if info is None else info.call

    def calls(self) -> list[IncomingCall]:
        """Every call and task the ACD holds, as it holds them."""
        return [info.call for info in self._calls.values()]

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
        if call.channel not in VOICE_SEAT:
            self._customer_gone(info, reason)
            return
        if info.state == "connected":
            assert info.agent_id is not None
            if self.book.seat(info.agent_id)[1] == call.call_id:
                self._after(self.book.apply(HungUp(info.agent_id, call.call_id)))
            return
        self.router.withdraw(call.call_id)
        del self._calls[call.call_id]
        self._log(CallAbandoned(call.call_id, call.queue, info.state == "offered", reason))
        if info.state == "offered" and info.agent_id is not None:
            state, on, _ = self.book.seat(info.agent_id)
            if state is AgentState.OFFERED and on == call.call_id:
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
        if after is AgentState.LOGGED_OUT and before is not AgentState.LOGGED_OUT:
            self._take_back(agent_id, LOGGED_OUT)
            router.remove_agent(agent_id)
            self._open.pop(agent_id, None)
            return
        became = after is AgentState.AVAILABLE and before is not AgentState.AVAILABLE
        self._refresh(agent_id, became_available=became)

    def _refresh(self, agent_id: str, *, became_available: bool = False) -> None:
        """Tell the router the channels the agent may be offered a task on now (their voice
        seat's state, the digital tasks they hold, their capacity), when that changed."""
        state, _, pending = self.book.seat(agent_id)
        if state is AgentState.LOGGED_OUT:
            return
        channels = self.agents[agent_id].capacity.open_channels(
            state, self.workload.load(agent_id), pending=pending is not None
        )
        if channels == self._open.get(agent_id, frozenset()) and not became_available:
            return
        self._open[agent_id] = channels
        if not channels:
            self.router.set_unavailable(agent_id)
            return
        idle_since = self.book.idle_since(agent_id)
        self._reopened = True
        self.router.set_available(
            agent_id,
            idle_since=max(idle_since, self._last_task_at.get(agent_id, idle_since)),
            calls_handled=self.book.calls_handled(agent_id),
            channels=channels,
        )
