"""The router: which waiting call goes to which available agent, now.

Pure and synchronous; the only source of time is the injected clock. A decision is the
pair with the highest-priority call among the calls that some available agent can take,
then for that call the agent with the best skill match, then the queue's strategy.

Cost per decision does not depend on the number of calls or agents (see
``acd.routing_index``): the router looks at the head of each *active* routing class (one
that has both waiting calls and available agents), plus calls reserved for an available
preferred agent. Calls move between phases/classes at precomputed times (priority phase
changes, relaxation steps, the end of a preferred-agent window) from one timer heap.
Semantics are specified by ``acd.naive_router.NaiveRouter``, which the tests compare with.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Iterator
from heapq import heappop, heappush

from acd.clock import Clock
from acd.offer import AgentChoice, Offer
from acd.queue import QueuePolicy, WaitingCall
from acd.routing_index import AgentSlot, CallSlot, RoutingClass
from acd.skills import Requirement, RoutingProfile, SkillLevels, explain_match
from acd.strategy import Strategy, strategy_key

__all__ = ["Router", "RoutingError"]


#: per (profile, queue, has preferred agent): the profile (kept alive: the key is its id),
#: the call's breakpoints, and the routing class of each step (made on first use)
_ProfileEntry = tuple[RoutingProfile, tuple[float, ...], list[RoutingClass | None]]


class RoutingError(LookupError):
    """A call or agent the router does not know, or a call in the wrong state."""


class Router:
    def __init__(self, queues: Iterable[QueuePolicy], *, clock: Clock, seed: int = 0) -> None:
        self._policies = {q.name: q for q in queues}
        self._clock = clock
        self._rng = random.Random(seed)
        self._agents: dict[str, AgentSlot] = {}
        #: skill -> agents with it at level >= 1: a new class only looks at these
        self._with_skill: dict[str, dict[str, AgentSlot]] = {}
        self._calls: dict[str, CallSlot] = {}
        self._classes: dict[tuple[str, Requirement], RoutingClass] = {}
        self._profile_classes: dict[tuple[int, str, bool], _ProfileEntry] = {}
        self._active: set[RoutingClass] = set()
        self._reserved: dict[str, dict[int, CallSlot]] = {}
        self._reserved_ready: set[str] = set()
        self._preferring: dict[str, dict[int, CallSlot]] = {}
        self._due: list[tuple[float, int, int, CallSlot]] = []
        self._seq = 0
        self._offers = 0
        self._out = 0
        self._available = 0
        self._agent_order = 0
        #: one counter for every agent's availability epochs: heap entries never tie
        self._epoch = 0

    # views -----------------------------------------------------------------------------
    @property
    def waiting_count(self) -> int:
        return len(self._calls) - self._out

    @property
    def offered_count(self) -> int:
        return self._out

    @property
    def available_count(self) -> int:
        return self._available

    def waiting(self) -> Iterator[WaitingCall]:
        return (s.call for s in self._calls.values() if not s.offered)

    def is_available(self, agent_id: str) -> bool:
        agent = self._agents.get(agent_id)
        return agent is not None and agent.available

    def has_agent(self, agent_id: str) -> bool:
        return agent_id in self._agents

    def policy(self, queue: str) -> QueuePolicy:
        try:
            return self._policies[queue]
        except KeyError:
            raise RoutingError(f"unknown queue {queue!r}") from None

    # agents ----------------------------------------------------------------------------
    def add_agent(self, agent_id: str, skills: SkillLevels, *, order: int | None = None) -> None:
        """An agent logged in (unavailable until ``set_available``)."""
        if agent_id in self._agents:
            raise RoutingError(f"agent {agent_id!r} is already known")
        if order is None:
            order = self._agent_order
        self._agent_order = max(self._agent_order, order) + 1
        agent = AgentSlot(agent_id, skills, order)
        self._agents[agent_id] = agent
        for skill, level in agent.skills.items():
            if level > 0:
                self._with_skill.setdefault(skill, {})[agent_id] = agent
        for cls in self._classes.values():
            self._admit(cls, agent)
        self._replace_preferring(agent_id)

    def remove_agent(self, agent_id: str) -> None:
        """An agent logged out: calls waiting for them stop waiting for them."""
        agent = self._agent(agent_id)
        if agent.available:
            self._make_unavailable(agent)
        for cls in agent.classes:
            del cls.eligible[agent_id]
        for skill in agent.skills:
            self._with_skill.get(skill, {}).pop(agent_id, None)
        del self._agents[agent_id]
        self._replace_preferring(agent_id)

    def set_available(self, agent_id: str, *, idle_since: float, calls_handled: int) -> None:
        agent = self._agent(agent_id)
        if agent.available:
            self._make_unavailable(agent)
        agent.available = True
        agent.epoch = self._epoch = self._epoch + 1
        agent.idle_since = idle_since
        agent.calls_handled = calls_handled
        agent.draw = 1.0 - self._rng.random()
        self._available += 1
        keys: dict[str, float] = {}  # one strategy key per queue (weighted: per class)
        for cls in agent.classes:
            key = keys.get(cls.queue)
            if key is None:
                key = self._strategy_key(cls, agent)
                if self._policies[cls.queue].strategy is not Strategy.WEIGHTED:
                    keys[cls.queue] = key
            cls.push_agent(agent, cls.eligible[agent_id][0], key)
            if cls.calls:
                self._active.add(cls)
        if self._reserved.get(agent_id):
            self._reserved_ready.add(agent_id)

    def set_unavailable(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        if agent.available:
            self._make_unavailable(agent)

    # calls -----------------------------------------------------------------------------
    def enqueue(self, call: WaitingCall) -> None:
        policy = self.policy(call.queue)
        if call.call_id in self._calls:
            raise RoutingError(f"call {call.call_id!r} is already queued")
        now = self._clock()
        if call.entry_time > now:
            raise ValueError(f"call {call.call_id!r} enters in the future")
        has_pref = call.preferred_agent is not None and policy.preferred_window_s > 0
        key = (id(call.profile), call.queue, has_pref)
        cached = self._profile_classes.get(key)
        if cached is None:
            marks = {*call.profile.breakpoints, *policy.urgency.breakpoints}
            if has_pref:
                marks.add(policy.preferred_window_s)
            cached = (
                call.profile,
                tuple(sorted(m for m in marks if m > 0)),
                [None] * len(call.profile.steps),
            )
            self._profile_classes[key] = cached
        slot = CallSlot(call, self._seq, cached[1], cached[2])
        self._seq += 1
        self._calls[call.call_id] = slot
        if call.preferred_agent is not None:
            self._preferring.setdefault(call.preferred_agent, {})[slot.seq] = slot
        self._place(slot, now)

    def withdraw(self, call_id: str) -> WaitingCall:
        """The caller hung up (waiting or while offered): forget the call."""
        slot = self._call(call_id)
        if slot.offered:
            self._out -= 1
        else:
            self._unplace(slot)
        self._forget(slot)
        return slot.call

    def requeue(self, call_id: str) -> None:
        """The offer failed (no answer, busy, unreachable): back in line, same entry time."""
        slot = self._call(call_id)
        if not slot.offered:
            raise RoutingError(f"call {call_id!r} is not out on an offer")
        slot.offered = False
        self._out -= 1
        self._place(slot, self._clock())

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
        due = self._due
        while due and (due[0][3].token != due[0][2] or due[0][3].offered):
            heappop(due)
        return due[0][0] if due and self._available else None

    def dispatch(self) -> list[Offer]:
        """Every offer that can be made now, best call first."""
        now = self._clock()
        self._advance(now)
        offers: list[Offer] = []
        while True:
            best: tuple[float, float, int] | None = None
            best_slot: CallSlot | None = None
            for cls in self._active:
                for slot in cls.top_calls():
                    rank = (-self._effective(slot, now), slot.entry, slot.seq)
                    if best is None or rank < best:
                        best, best_slot = rank, slot
            for agent_id in self._reserved_ready:
                for slot in self._reserved[agent_id].values():
                    rank = (-self._effective(slot, now), slot.entry, slot.seq)
                    if best is None or rank < best:
                        best, best_slot = rank, slot
            if best_slot is None:
                return offers
            offers.append(self._offer(best_slot, now))

    # internals -------------------------------------------------------------------------
    def _agent(self, agent_id: str) -> AgentSlot:
        try:
            return self._agents[agent_id]
        except KeyError:
            raise RoutingError(f"unknown agent {agent_id!r}") from None

    def _call(self, call_id: str) -> CallSlot:
        try:
            return self._calls[call_id]
        except KeyError:
            raise RoutingError(f"unknown call {call_id!r}") from None

    def _effective(self, slot: CallSlot, now: float) -> float:
        return self._policies[slot.queue].urgency.effective(slot.base, now - slot.entry)

    def _class_for(self, queue: str, requirement: Requirement) -> RoutingClass:
        cls = self._classes.get((queue, requirement))
        if cls is None:
            phases = len(self._policies[queue].urgency.phases)
            cls = self._classes[(queue, requirement)] = RoutingClass(queue, requirement, phases)
            pools = [self._with_skill.get(skill, {}) for skill, _ in requirement.required]
            for agent in list(min(pools, key=len).values() if pools else self._agents.values()):
                self._admit(cls, agent)
        return cls

    def _admit(self, cls: RoutingClass, agent: AgentSlot) -> None:
        requirement = cls.requirement
        if requirement.admits(agent.skills):
            match = requirement.match_score(agent.skills)
            weighted = self._policies[cls.queue].strategy is Strategy.WEIGHTED
            weight = requirement.level_weight(agent.skills) if weighted else 1.0
            cls.eligible[agent.agent_id] = (match, weight)
            agent.classes.append(cls)
            if agent.available:
                self._push_agent(cls, agent)

    def _push_agent(self, cls: RoutingClass, agent: AgentSlot) -> None:
        cls.push_agent(agent, cls.eligible[agent.agent_id][0], self._strategy_key(cls, agent))
        if cls.calls:
            self._active.add(cls)

    def _strategy_key(self, cls: RoutingClass, agent: AgentSlot) -> float:
        return strategy_key(
            self._policies[cls.queue].strategy,
            idle_since=agent.idle_since,
            calls_handled=agent.calls_handled,
            last_offered=agent.last_offered.get(cls.queue, -1),
            draw=agent.draw,
            weight=cls.eligible[agent.agent_id][1],
            order=agent.order,
        )

    def _make_unavailable(self, agent: AgentSlot) -> None:
        agent.available = False
        agent.epoch = self._epoch = self._epoch + 1
        self._available -= 1
        for cls in agent.classes:
            cls.available -= 1
            if not cls.available:
                self._active.discard(cls)
        self._reserved_ready.discard(agent.agent_id)

    def _place(self, slot: CallSlot, now: float) -> None:
        waited = now - slot.entry
        policy = self._policies[slot.queue]
        step = slot.profile.step_at(waited)
        cls = slot.step_classes[step]
        if cls is None:
            cls = slot.step_classes[step] = self._class_for(
                slot.queue, slot.profile.steps[step].requirement
            )
        slot.step = step
        slot.token += 1
        pref = slot.preferred
        if pref is not None and waited < policy.preferred_window_s and pref in cls.eligible:
            slot.reserved_for = self._agents[pref]
            self._reserved.setdefault(pref, {})[slot.seq] = slot
            if slot.reserved_for.available:
                self._reserved_ready.add(pref)
        else:
            urgency = policy.urgency
            phase = urgency.phase_index(waited)
            shape = urgency.phases[phase]
            if shape.linear:
                order_key = slot.base + shape.bonus - urgency.rate * slot.entry
            else:
                order_key = slot.base + (urgency.cap or 0.0) + shape.bonus
            slot.cls = cls
            cls.push_call(slot, phase, order_key)
            if cls.available:
                self._active.add(cls)
        for mark in slot.breakpoints:
            if mark > waited:
                due = slot.entry + mark
                if due <= now:  # rounding: never re-fire at the same instant
                    due = math.nextafter(now, math.inf)
                heappush(self._due, (due, slot.seq, slot.token, slot))
                break

    def _unplace(self, slot: CallSlot) -> None:
        slot.token += 1
        cls = slot.cls
        if cls is not None:
            cls.calls -= 1
            if not cls.calls:
                self._active.discard(cls)
            slot.cls = None
        agent = slot.reserved_for
        if agent is not None:
            reserved = self._reserved[agent.agent_id]
            del reserved[slot.seq]
            if not reserved:
                self._reserved_ready.discard(agent.agent_id)
            slot.reserved_for = None

    def _forget(self, slot: CallSlot) -> None:
        slot.offered = True  # out of every index for good
        slot.token += 1
        del self._calls[slot.call.call_id]
        if slot.preferred is not None:
            preferring = self._preferring[slot.preferred]
            del preferring[slot.seq]
            if not preferring:
                del self._preferring[slot.preferred]

    def _advance(self, now: float) -> None:
        due = self._due
        while due and due[0][0] <= now:
            _, _, token, slot = heappop(due)
            if slot.token == token and not slot.offered:
                self._unplace(slot)
                self._place(slot, now)

    def _replace_preferring(self, agent_id: str) -> None:
        now = self._clock()
        for slot in list(self._preferring.get(agent_id, {}).values()):
            if not slot.offered:
                self._unplace(slot)
                self._place(slot, now)

    def _offer(self, slot: CallSlot, now: float) -> Offer:
        policy = self._policies[slot.queue]
        cls = slot.step_classes[slot.step]
        assert cls is not None, "a placed call has its class"
        reserved = slot.reserved_for
        pref = self._agents.get(slot.preferred) if slot.preferred is not None else None
        if reserved is not None:
            agent, reason, key = reserved, "reserved for preferred agent", 0.0
        elif pref is not None and pref.available and pref.agent_id in cls.eligible:
            agent, reason, key = pref, "preferred agent", 0.0
        else:
            top = cls.top_agent()
            assert top is not None, "an active class has an available agent"
            (agent, key), reason = top, "best match"
        choice = AgentChoice(reason, policy.strategy, key, cls.available)
        self._unplace(slot)
        slot.offered = True
        self._out += 1
        agent.last_offered[slot.queue] = self._offers
        self._offers += 1
        self._make_unavailable(agent)
        waited = now - slot.entry
        return Offer(
            call_id=slot.call.call_id,
            agent_id=agent.agent_id,
            queue=slot.queue,
            at=now,
            entry_time=slot.entry,
            priority=slot.call.priority.plus(*policy.urgency.terms(waited)),
            match=explain_match(slot.profile, slot.step, agent.skills),
            choice=choice,
        )
