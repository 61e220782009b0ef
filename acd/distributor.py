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
then closes (``task_done``). Pure and synchronous; the caller of ``next_wakeup`` schedules
``tick``.

A config reload's queues apply at once (``update_queues``): a new queue takes calls, a
changed one routes its waiting calls by its new rules (re-profiled, same entry time), a
removed one takes no new calls and drains: the calls already in it are served by its old
rules until they leave. Offers already out stand.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import NoReturn

from acd.agent_events import (
    AgentError,
    AgentEvent,
    AgentState,
    HungUp,
    OfferMade,
    Pause,
    event_name,
)
from acd.agents import AgentBook, AgentPolicy, Transition
from acd.calls import IncomingCall
from acd.capacity import VOICE_ONLY, Capacity
from acd.clock import Clock
from acd.contacts import TASK_DONE, VOICE_SEAT
from acd.events import (
    AcdEvent,
    AgentStateChanged,
    AgentTaskChanged,
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
from acd.workload import HeldTask, StaleTask, TaskPhase, Workload

__all__ = [
    "DECLINED",
    "DESKTOP_LOST",
    "DISCONNECTED",
    "NO_ANSWER",
    "AgentProfile",
    "CallDistributor",
    "QueueSetup",
]

#: Why a digital task went back in line: the agent declined it, or let it expire.
DECLINED = "declined"
NO_ANSWER = "no answer"
#: ... or the agent's desktop went away (``desktop_lost``), or they logged out.
DESKTOP_LOST = "agent disconnected"
LOGGED_OUT = "agent logged out"
#: The pause reason of an agent whose desktop went away.
DISCONNECTED = "disconnected"


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
        self.workload = Workload(clock=clock)
        self._calls: dict[str, _Call] = {}
        #: agent -> the channels the router has them available on
        self._open: dict[str, frozenset[str]] = {}
        #: agent -> when they were last given or closed a digital task (spreads the work)
        self._last_task_at: dict[str, float] = {}

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

    # digital tasks -----------------------------------------------------------------------
    # Each raises ``StaleTask`` (an ``AgentError``: logged as ``EventRejected``) when the
    # agent does not hold the task in the phase the action needs.
    def task_accepted(self, agent_id: str, task_id: str) -> list[Offer]:
        """The agent took the task offered to them: it is theirs until ``task_done``."""
        task = self._task_action(agent_id, task_id, "task_accepted", self.workload.accept)
        info = self._calls[task_id]
        info.state = "connected"
        info.settled = self.router.settle(task_id)
        self._log(CallAnswered(task_id, agent_id, info.call.queue))
        self._task_changed(agent_id, task, TaskPhase.RESERVED, "accepted")
        return self.dispatch()

    def task_rejected(self, agent_id: str, task_id: str) -> list[Offer]:
        """The agent declined the task offered to them: it is back in line, its place
        kept, and the agent is paused ("declined") as after an offer with no answer, so it
        goes to someone else (Genesys Cloud's "not responding", Connect's "missed")."""
        task = self._task_action(agent_id, task_id, "task_rejected", self._reserved_task)
        pause = DECLINED if self.book.policy.rona_pause_reason is not None else None
        self._offer_failed(agent_id, task, DECLINED, pause)
        return self.dispatch()

    def task_done(self, agent_id: str, task_id: str, reason: str = TASK_DONE) -> list[Offer]:
        """The agent closed the task (the conversation is over): wrap-up per the policy."""
        wrap = self.book.policy.task_wrap_up_s
        self._task_action(
            agent_id, task_id, "task_done", lambda a, t: self.workload.finish(a, t, wrap)
        )
        self._close_task(agent_id, task_id, reason)
        return self.dispatch()

    def task_wrapped(self, agent_id: str, task_id: str) -> list[Offer]:
        """The agent ended a digital task's wrap-up."""
        task = self._task_action(agent_id, task_id, "task_wrapped", self.workload.wrapped)
        self._task_changed(agent_id, task, task.phase, "wrap-up done", gone=True)
        self._refresh(agent_id)
        return self.dispatch()

    def task_transferred(
        self,
        agent_id: str,
        task_id: str,
        *,
        queue: str | None = None,
        to_agent: str | None = None,
    ) -> list[Offer]:
        """The agent hands their accepted task on, as at a logout (``_take_back``) but
        chosen: back in line with its place kept (first entry, priority), in ``queue`` (its
        skills there for this customer: ``CallMoved``) or directed to ``to_agent`` (in its
        queue; theirs alone while logged in, whatever their skills: ``IncomingCall.directed``).
        ``CallRequeued`` says ``transferred to ...``; the agent has no wrap-up of it. Raises
        ``StaleTask`` unless the agent holds it accepted, ``RoutingError`` for an unknown
        queue or agent, the queue it is in, or the agent themself."""
        action = "task_transferred"
        task = self.workload.task(task_id)
        if task is None or self.workload.holder(task_id) != agent_id:
            self._log(EventRejected(agent_id, action, f"does not hold task {task_id}"))
            raise StaleTask(agent_id, f"does not hold task {task_id}")
        if task.phase is not TaskPhase.ACTIVE:
            reason = f"task {task_id} is {task.phase.value}, not accepted"
            self._log(EventRejected(agent_id, action, reason))
            raise StaleTask(agent_id, reason)
        info = self._calls[task_id]
        settled = info.settled
        assert settled is not None, "an accepted task keeps its routing view"
        if (queue is None) == (to_agent is None):
            self._refuse(task_id, action, "name a queue or an agent")
        if to_agent is not None and (to_agent == agent_id or to_agent not in self.agents):
            self._refuse(task_id, action, f"cannot be transferred to agent {to_agent!r}")
        before = info.call.queue
        waiting = replace(settled, preferred_agent=to_agent, directed=to_agent is not None)
        if queue is not None:
            setup = self._queues.get(queue)
            if setup is None:
                self._refuse(task_id, action, f"unknown queue {queue!r}")
            if queue == before:
                self._refuse(task_id, action, f"already in {queue!r}")
            facts = info.call.facts
            waiting = replace(
                waiting,
                queue=queue,
                profile=setup.skills.profile(facts, self._priority.is_repeat(facts)),
            )
        self.workload.drop(agent_id, task_id)
        info.call = replace(
            info.call,
            queue=waiting.queue,
            preferred_agent=to_agent,
            directed=to_agent is not None,
        )
        info.state, info.agent_id, info.settled = "waiting", None, None
        self.router.enqueue(waiting)
        target = f"agent {to_agent}" if to_agent is not None else f"queue {queue}"
        self._log(CallRequeued(task_id, agent_id, before, f"transferred to {target}"))
        if queue is not None:
            self._log(CallMoved(task_id, before, queue, f"agent {agent_id}"))
        self._task_changed(agent_id, task, task.phase, f"transferred to {target}", gone=True)
        self._last_task_at[agent_id] = self._clock()
        self._refresh(agent_id)
        return self.dispatch()

    def desktop_lost(self, agent_id: str) -> list[Offer]:
        """The agent's desktop went away (the browser closed) and did not come back in
        time: the digital tasks offered to them or open with them go back in line with their
        place kept, as at a logout (ones in wrap-up are over), and the agent is paused
        ``DISCONNECTED``, still logged in. A call on their phone goes on (the pause is
        pending until it ends). Nothing for a logged-out agent; raises ``UnknownAgent``."""
        view = self.book.view(agent_id)
        if view.state is AgentState.LOGGED_OUT:
            return []
        self._take_back(agent_id, DESKTOP_LOST)
        if view.pending == "logout":
            self._refresh(agent_id)
        else:
            self._after(self.book.apply(Pause(agent_id, DISCONNECTED)))
        return self.dispatch()

    def tasks_of(self, agent_id: str) -> tuple[HeldTask, ...]:
        """The digital tasks the agent holds now, in every phase."""
        return self.workload.held(agent_id)

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
        for more at once (their capacity), so the router is asked again until it has none."""
        made: list[Offer] = []
        while offers := self.router.dispatch():
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
        self.router.set_available(
            agent_id,
            idle_since=max(idle_since, self._last_task_at.get(agent_id, idle_since)),
            calls_handled=self.book.calls_handled(agent_id),
            channels=channels,
        )

    # digital tasks: internals ----------------------------------------------------------
    def _task_action(
        self, agent_id: str, task_id: str, action: str, apply: Callable[[str, str], HeldTask | None]
    ) -> HeldTask:
        """Apply ``apply`` to the agent's task; a refusal is logged and re-raised."""
        try:
            if agent_id not in self.agents:
                raise StaleTask(agent_id, "no such agent in the roster")
            before = self.workload.task(task_id)
            if before is None or self.workload.holder(task_id) != agent_id:
                raise StaleTask(agent_id, f"does not hold task {task_id}")
            after = apply(agent_id, task_id)
        except AgentError as error:
            self._log(EventRejected(error.agent_id, action, error.reason))
            raise
        return after if after is not None else before

    def _reserved_task(self, agent_id: str, task_id: str) -> HeldTask:
        task = self.workload.task(task_id)
        if task is None or task.phase is not TaskPhase.RESERVED:
            phase = "gone" if task is None else task.phase.value
            raise StaleTask(agent_id, f"cannot reject task {task_id}: it is {phase}")
        return self.workload.drop(agent_id, task_id)

    def _offer_failed(self, agent_id: str, task: HeldTask, reason: str, pause: str | None) -> None:
        """A reservation was declined or left unanswered: the task is back in line, its
        place kept; the agent is paused with ``pause`` (None: not paused)."""
        info = self._calls[task.task_id]
        info.state, info.agent_id = "waiting", None
        self.router.requeue(task.task_id)
        self._log(CallRequeued(task.task_id, agent_id, info.call.queue, reason))
        self._task_changed(agent_id, task, task.phase, reason, gone=True)
        if pause is not None and self.book.state(agent_id) is not AgentState.PAUSED:
            self._after(self.book.apply(Pause(agent_id, pause)))
        else:
            self._refresh(agent_id)

    def _close_task(self, agent_id: str, task_id: str, reason: str) -> None:
        """The conversation is over (``workload.finish`` done): the task leaves the ACD."""
        info = self._calls.pop(task_id)
        task = self.workload.task(task_id)
        closed = HeldTask(task_id, info.call.channel, TaskPhase.ACTIVE, self._clock())
        self._task_changed(agent_id, task or closed, TaskPhase.ACTIVE, reason, gone=task is None)
        self._log(CallEnded(task_id, agent_id, info.call.queue, reason))
        self._last_task_at[agent_id] = self._clock()
        self._refresh(agent_id)

    def _customer_gone(self, info: _Call, reason: str) -> None:
        """The customer left a digital task (closed the chat): waiting or reserved, it is
        abandoned; accepted, the conversation is over for the agent."""
        task_id, agent_id = info.call.call_id, info.agent_id
        if info.state == "connected" and agent_id is not None:
            held = self.workload.task(task_id)
            if held is not None and held.phase is TaskPhase.ACTIVE:
                self.workload.finish(agent_id, task_id, self.book.policy.task_wrap_up_s)
                self._close_task(agent_id, task_id, reason)
            return
        self.router.withdraw(task_id)
        del self._calls[task_id]
        if info.state == "offered" and agent_id is not None:
            task = self.workload.drop(agent_id, task_id)
            self._task_changed(agent_id, task, task.phase, reason, gone=True)
        self._log(CallAbandoned(task_id, info.call.queue, info.state == "offered", reason))
        if info.state == "offered" and agent_id is not None:
            self._refresh(agent_id)

    def _take_back(self, agent_id: str, reason: str) -> None:
        """The agent logged out or lost their desktop (``reason``) holding digital tasks:
        offered or open ones go back in line with their place kept; ones in wrap-up are
        over."""
        for task in self.workload.held(agent_id):
            self.workload.drop(agent_id, task.task_id)
            info = self._calls.get(task.task_id)
            if task.phase is TaskPhase.WRAP_UP or info is None:
                self._task_changed(agent_id, task, task.phase, reason, gone=True)
                continue
            queue = info.call.queue
            if task.phase is TaskPhase.RESERVED:
                self.router.requeue(task.task_id)
            else:
                assert info.settled is not None, "an accepted task keeps its routing view"
                self.router.enqueue(info.settled)
                info.settled = None
            info.state, info.agent_id = "waiting", None
            self._log(CallRequeued(task.task_id, agent_id, queue, reason))
            self._task_changed(agent_id, task, task.phase, reason, gone=True)

    def _task_changed(
        self,
        agent_id: str,
        task: HeldTask,
        before: TaskPhase | None,
        reason: str,
        *,
        gone: bool = False,
    ) -> None:
        after = "" if gone else task.phase.value
        was = "" if before is None else before.value
        self._log(AgentTaskChanged(agent_id, task.task_id, task.channel, was, after, reason))


def _same_setup(a: QueueSetup, b: QueueSetup) -> bool:
    """Would calls be routed alike? (``Urgency`` compares by identity: its inputs here.)"""
    p, q = a.policy, b.policy
    return (
        a.skills == b.skills
        and (p.name, p.strategy, p.preferred_window_s) == (q.name, q.strategy, q.preferred_window_s)
        and _urgencies(p) == _urgencies(q)
    )


def _urgencies(policy: QueuePolicy) -> dict[str, tuple[object, object]]:
    """A queue's urgency inputs, per channel with its own target ("": every other one)."""
    return {
        channel: (u.aging, u.sl_risk)
        for channel, u in {"": policy.urgency, **policy.channel_urgency}.items()
    }
