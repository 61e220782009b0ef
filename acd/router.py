"""The router: which waiting call goes to which available agent, now.

Pure and synchronous; the only source of time is the injected clock. A decision is the
pair with the highest-priority call among the calls that some available agent can take,
then for that call the agent with the best skill match, then the queue's strategy.

The router keeps the calls (waiting, or out on an offer) and the queues; the indexes that
make a decision cost the same however many calls and agents there are are its routing
table's (``acd.routing_table``). Semantics are specified by ``acd.naive_router.NaiveRouter``,
which the tests compare with.

A supervisor may raise a waiting call's base priority (``raise_priority``: a ``supervisor``
term the offer's explanation shows) or move it to another queue (``move``: that queue's
policy and the caller's profile there); the call is taken out of its indexes and placed
again with its entry time and sequence, so aging, relaxation and tie-breaks carry on.

A config reload changes queues the same way: ``update_queue`` adds a queue or gives it a
new policy (its routing classes are rebuilt and its calls placed again), ``revise`` gives a
call a new profile and priority, and ``remove_queue`` closes a queue to new calls while the
calls in it are still routed by its policy until they leave (it *drains*; then it is
forgotten).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import replace

from acd.clock import Clock
from acd.contacts import VOICE_SEAT
from acd.offer import Offer
from acd.priority import ScoreTerm, Urgency
from acd.queue import QueuePolicy, WaitingCall
from acd.routing_index import CallSlot
from acd.routing_table import RoutingTable
from acd.skills import RoutingProfile, SkillLevels, explain_match

__all__ = ["SUPERVISOR_TERM", "Router", "RoutingError", "bumped"]

#: The name of the priority term a supervisor's bump adds (it shows in offer explanations).
SUPERVISOR_TERM = "supervisor"


class RoutingError(LookupError):
    """A call or agent the router does not know, or a call in the wrong state."""


def bumped(call: WaitingCall, by: float, detail: str) -> WaitingCall:
    """``call`` with ``by`` more base priority, as a term of its own (both routers use it)."""
    if not by > 0 or not math.isfinite(by):
        raise RoutingError(f"call {call.call_id!r}: a priority bump must be positive, not {by}")
    return replace(call, priority=call.priority.plus(ScoreTerm(SUPERVISOR_TERM, by, detail)))


class Router:
    def __init__(self, queues: Iterable[QueuePolicy], *, clock: Clock, seed: int = 0) -> None:
        #: every queue with calls to route: the open ones and the draining ones
        self._policies = {q.name: q for q in queues}
        #: the queues that take new calls (``enqueue``, ``move``)
        self._open = set(self._policies)
        #: queue -> calls in it (waiting or out on an offer): when a draining queue is empty
        self._held: dict[str, int] = {}
        self._clock = clock
        self._table = RoutingTable(self._policies, seed=seed)
        self._calls: dict[str, CallSlot] = {}
        self._seq = 0
        self._out = 0

    # views -----------------------------------------------------------------------------
    @property
    def waiting_count(self) -> int:
        return len(self._calls) - self._out

    @property
    def offered_count(self) -> int:
        return self._out

    @property
    def available_count(self) -> int:
        return self._table.available_count

    def waiting(self) -> Iterator[WaitingCall]:
        return (s.call for s in self._calls.values() if not s.offered)

    def calls(self) -> Iterator[WaitingCall]:
        """Every call the router holds: waiting, or out on an offer."""
        return (s.call for s in self._calls.values())

    def is_available(self, agent_id: str) -> bool:
        agent = self._table.agent(agent_id)
        return agent is not None and agent.available

    def has_agent(self, agent_id: str) -> bool:
        return self._table.has_agent(agent_id)

    def policy(self, queue: str) -> QueuePolicy:
        """The policy of an open or a draining queue."""
        try:
            return self._policies[queue]
        except KeyError:
            raise RoutingError(f"unknown queue {queue!r}") from None

    def urgency(self, queue: str, channel: str) -> Urgency:
        """Aging and service-level risk of ``queue``'s tasks on ``channel`` (each channel's
        own target); raises ``RoutingError`` for an unknown queue."""
        return self.policy(queue).urgency_of(channel)

    def is_draining(self, queue: str) -> bool:
        """Removed from the config, but calls still wait in it (or are out on an offer)."""
        return queue in self._policies and queue not in self._open

    # queues (a config reload) ----------------------------------------------------------
    def update_queue(self, policy: QueuePolicy) -> None:
        """Add a queue, or give one a new policy (strategy, aging, service-level risk, the
        preferred-agent window): it takes calls from now on (a draining queue is opened
        again), and its calls are placed again under the new policy with their entry time
        and sequence, so aging and relaxation go on from where they are. A call out on an
        offer keeps the offer; if the offer fails, it is back under the new policy."""
        name = policy.name
        slots = [slot for slot in self._calls.values() if slot.queue == name]
        waiting = [slot for slot in slots if not slot.offered]
        for slot in waiting:
            self._table.unplace(slot)
        self._table.drop_queue(name)
        self._policies[name] = policy
        self._open.add(name)
        for slot in slots:
            _, breakpoints, step_classes = self._table.profile_entry(slot.call, policy)
            slot.become(slot.call, breakpoints, step_classes)
        now = self._clock()
        for slot in waiting:
            self._table.place(slot, now)

    def remove_queue(self, queue: str) -> None:
        """The queue takes no new calls (``enqueue`` and ``move`` into it raise); the calls
        in it are still routed by its policy until they leave, then it is forgotten."""
        if queue not in self._open:
            raise RoutingError(f"unknown queue {queue!r}")
        self._open.discard(queue)
        if not self._held.get(queue):
            self._forget_queue(queue)

    def revise(self, call: WaitingCall) -> None:
        """A call the router holds takes a new profile and priority (a reload changed its
        queue's skills or the priority weights); its queue, entry time, preferred agent and
        sequence stay. A call out on an offer keeps the offer and comes back revised."""
        slot = self._call(call.call_id)
        same = (slot.queue, slot.entry, slot.preferred)
        if (call.queue, call.entry_time, call.preferred_agent) != same:
            raise RoutingError(f"call {call.call_id!r}: a revision keeps queue and entry time")
        _, breakpoints, step_classes = self._table.profile_entry(call, self._policies[slot.queue])
        if slot.offered:
            slot.become(call, breakpoints, step_classes)
            return
        self._table.unplace(slot)
        slot.become(call, breakpoints, step_classes)
        self._table.place(slot, self._clock())

    # agents ----------------------------------------------------------------------------
    def add_agent(self, agent_id: str, skills: SkillLevels, *, order: int | None = None) -> None:
        """An agent logged in (unavailable until ``set_available``)."""
        if self._table.has_agent(agent_id):
            raise RoutingError(f"agent {agent_id!r} is already known")
        self._table.add_agent(agent_id, skills, order, self._clock())

    def remove_agent(self, agent_id: str) -> None:
        """An agent logged out: calls waiting for them stop waiting for them."""
        self._known_agent(agent_id)
        self._table.remove_agent(agent_id, self._clock())

    def set_available(
        self,
        agent_id: str,
        *,
        idle_since: float,
        calls_handled: int,
        channels: frozenset[str] = VOICE_SEAT,
    ) -> None:
        """The agent may be offered tasks on ``channels`` now (empty: unavailable)."""
        self._known_agent(agent_id)
        self._table.set_available(
            agent_id, channels, idle_since=idle_since, calls_handled=calls_handled
        )

    def set_unavailable(self, agent_id: str) -> None:
        agent = self._table.agent(agent_id)
        if agent is None:
            raise RoutingError(f"unknown agent {agent_id!r}")
        if agent.available:
            self._table.make_unavailable(agent)

    # calls -----------------------------------------------------------------------------
    def enqueue(self, call: WaitingCall) -> None:
        policy = self._open_policy(call.queue)
        if call.call_id in self._calls:
            raise RoutingError(f"call {call.call_id!r} is already queued")
        now = self._clock()
        if call.entry_time > now:
            raise ValueError(f"call {call.call_id!r} enters in the future")
        cached = self._table.profile_entry(call, policy)
        slot = CallSlot(call, self._seq, cached[1], cached[2])
        self._seq += 1
        self._calls[call.call_id] = slot
        self._held[call.queue] = self._held.get(call.queue, 0) + 1
        self._table.track(slot)
        self._table.place(slot, now)

    def withdraw(self, call_id: str) -> WaitingCall:
        """The caller hung up (waiting or while offered): forget the call."""
        slot = self._call(call_id)
        if slot.offered:
            self._out -= 1
        else:
            self._table.unplace(slot)
        self._forget(slot)
        return slot.call

    def requeue(self, call_id: str) -> None:
        """The offer failed (no answer, busy, unreachable): back in line, same entry time."""
        slot = self._call(call_id)
        if not slot.offered:
            raise RoutingError(f"call {call_id!r} is not out on an offer")
        slot.offered = False
        self._out -= 1
        self._table.place(slot, self._clock())

    def raise_priority(self, call_id: str, by: float, *, detail: str = "") -> WaitingCall:
        """A supervisor lifts a waiting call's base priority by ``by`` (> 0); aging goes on
        from the same entry time. Returns the call as it now waits."""
        slot = self._waiting_slot(call_id)
        call = bumped(slot.call, by, detail)
        self._table.unplace(slot)
        slot.become(call)
        self._table.place(slot, self._clock())
        return call

    def move(self, call_id: str, queue: str, profile: RoutingProfile) -> WaitingCall:
        """A waiting call changes queue: the new queue's policy and ``profile`` (its skills
        for this caller), with the same entry time, so aging and relaxation continue."""
        slot = self._waiting_slot(call_id)
        policy = self._open_policy(queue)
        if queue == slot.queue:
            raise RoutingError(f"call {call_id!r} already waits in {queue!r}")
        before = slot.queue
        call = replace(slot.call, queue=queue, profile=profile)
        _, breakpoints, step_classes = self._table.profile_entry(call, policy)
        self._table.unplace(slot)
        slot.become(call, breakpoints, step_classes)
        self._table.place(slot, self._clock())
        self._held[queue] = self._held.get(queue, 0) + 1
        self._release(before)
        return call

    def settle(self, call_id: str) -> WaitingCall:
        """The offered agent answered: the call leaves the router."""
        slot = self._call(call_id)
        if not slot.offered:
            raise RoutingError(f"call {call_id!r} is not out on an offer")
        self._out -= 1
        self._forget(slot)
        return slot.call

    # decisions -------------------------------------------------------------------------
    def next_change_at(self) -> float | None:
        """When a waiting call next changes phase, step or reservation (None: no need to
        wake up: with no agent available no such change can produce an offer)."""
        return self._table.next_change_at()

    def dispatch(self) -> list[Offer]:
        """Every offer that can be made now, best call first."""
        now = self._clock()
        self._table.advance(now)
        offers: list[Offer] = []
        while (slot := self._table.best_call(now)) is not None:
            offers.append(self._offer(slot, now))
        self._table.settle()
        return offers

    # internals -------------------------------------------------------------------------
    def _known_agent(self, agent_id: str) -> None:
        if not self._table.has_agent(agent_id):
            raise RoutingError(f"unknown agent {agent_id!r}")

    def _call(self, call_id: str) -> CallSlot:
        try:
            return self._calls[call_id]
        except KeyError:
            raise RoutingError(f"unknown call {call_id!r}") from None

    def _waiting_slot(self, call_id: str) -> CallSlot:
        slot = self._call(call_id)
        if slot.offered:
            raise RoutingError(f"call {call_id!r} is out on an offer")
        return slot

    def _open_policy(self, queue: str) -> QueuePolicy:
        if queue not in self._open:
            raise RoutingError(f"unknown queue {queue!r}")
        return self._policies[queue]

    def _release(self, queue: str) -> None:
        """A call left ``queue``; a draining queue's last call takes the queue with it."""
        left = self._held[queue] - 1
        if left:
            self._held[queue] = left
        else:
            del self._held[queue]
            if queue not in self._open:
                self._forget_queue(queue)

    def _forget_queue(self, queue: str) -> None:
        self._table.drop_queue(queue)
        del self._policies[queue]

    def _forget(self, slot: CallSlot) -> None:
        slot.offered = True  # out of every index for good
        slot.token += 1
        del self._calls[slot.call.call_id]
        self._table.untrack(slot)
        self._release(slot.queue)

    def _offer(self, slot: CallSlot, now: float) -> Offer:
        agent, choice = self._table.hand_out(slot)
        slot.offered = True
        self._out += 1
        waited = now - slot.entry
        return Offer(
            call_id=slot.call.call_id,
            agent_id=agent.agent_id,
            queue=slot.queue,
            at=now,
            entry_time=slot.entry,
            priority=slot.call.priority.plus(*self.urgency(slot.queue, slot.channel).terms(waited)),
            match=explain_match(slot.profile, slot.step, agent.skills),
            choice=choice,
            channel=slot.channel,
        )
