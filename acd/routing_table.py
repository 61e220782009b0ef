"""The routing table: the router's indexes, kept in step with its calls and agents.

Cost per decision does not depend on the number of calls or agents: the table keeps every
logged-in agent in the routing classes (``acd.routing_index``) whose requirement they meet,
and every waiting call *placed* in the class of its current relaxation step, or reserved
for an available preferred agent. A decision looks at the head of each *active* class (one
that has both waiting calls and available agents) and at the reserved calls. Calls move
between phases/classes at precomputed times (priority phase changes, relaxation steps, the
end of a preferred-agent window) from one timer heap. An agent made available joins their
classes' agent heaps only once a decision has not given them a task (``settle``): until
then a decision looks at their classes directly.

The router (``acd.router``) says what happens to a call or an agent; the table only places
and unplaces them. It reads the queues' policies from the router's mapping and never
changes it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from heapq import heappop, heappush

from acd.offer import AgentChoice
from acd.priority import Urgency
from acd.queue import QueuePolicy, WaitingCall
from acd.routing_index import AgentSlot, CallSlot, RoutingClass
from acd.skills import Requirement, RoutingProfile, SkillLevels
from acd.strategy import Strategy, strategy_key

__all__ = ["ProfileEntry", "RoutingTable"]

#: per (profile, queue, channel, has preferred agent): the profile (kept alive: the key is
#: its id), the call's breakpoints, and the routing class of each step (made on first use)
ProfileEntry = tuple[RoutingProfile, tuple[float, ...], list[RoutingClass | None]]

#: relative slack of a phase top's priority read from its heap key (floating-point
#: rounding of ``key + rate * now`` against the exact formula); tops within it of the best
#: are ranked exactly
_ROUNDING = 1e-9


class RoutingTable:
    def __init__(self, policies: Mapping[str, QueuePolicy], *, seed: int = 0) -> None:
        #: the router's open and draining queues
        self._policies = policies
        self._rng = random.Random(seed)
        self._agents: dict[str, AgentSlot] = {}
        #: skill -> agents with it at level >= 1: a new class only looks at these
        self._with_skill: dict[str, dict[str, AgentSlot]] = {}
        self._classes: dict[tuple[str, str, Requirement], RoutingClass] = {}
        self._profile_classes: dict[tuple[int, str, str, bool], ProfileEntry] = {}
        self._active: set[RoutingClass] = set()
        self._reserved: dict[str, dict[int, CallSlot]] = {}
        self._reserved_ready: set[str] = set()
        self._preferring: dict[str, dict[int, CallSlot]] = {}
        self._due: list[tuple[float, int, int, CallSlot]] = []
        self._offers = 0
        self._available = 0
        #: agents made available whose classes have not been told yet: a decision looks at
        #: their classes directly, and most are offered a task at once (a busy centre), so
        #: they never join ~90 class heaps only to leave them; ``settle`` tells the rest
        self._pending: dict[str, AgentSlot] = {}
        self._agent_order = 0
        #: one counter for every agent's availability epochs: heap entries never tie
        self._epoch = 0

    @property
    def class_count(self) -> int:
        """Routing classes made so far (a benchmark's measure of the index's size)."""
        return len(self._classes)

    # agents ----------------------------------------------------------------------------
    @property
    def available_count(self) -> int:
        return self._available

    def has_agent(self, agent_id: str) -> bool:
        return agent_id in self._agents

    def agent(self, agent_id: str) -> AgentSlot | None:
        return self._agents.get(agent_id)

    def add_agent(self, agent_id: str, skills: SkillLevels, order: int | None, now: float) -> None:
        """A new (unavailable) agent joins the classes they qualify for; calls that prefer
        them are placed again (they may now be reserved for them)."""
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
        self._replace_preferring(agent_id, now)

    def remove_agent(self, agent_id: str, now: float) -> None:
        agent = self._agents[agent_id]
        if agent.available:
            self.make_unavailable(agent)
        for group in agent.classes.values():
            for cls in group:
                del cls.eligible[agent_id]
        for skill in agent.skills:
            self._with_skill.get(skill, {}).pop(agent_id, None)
        del self._agents[agent_id]
        self._replace_preferring(agent_id, now)

    def set_available(
        self, agent_id: str, channels: frozenset[str], *, idle_since: float, calls_handled: int
    ) -> None:
        """The agent may be offered tasks on ``channels`` (empty: none, unavailable)."""
        agent = self._agents[agent_id]
        if agent.available:
            self.make_unavailable(agent)
        if not channels:
            return
        agent.channels = channels
        agent.epoch = self._epoch = self._epoch + 1
        agent.idle_since = idle_since
        agent.calls_handled = calls_handled
        agent.draw = 1.0 - self._rng.random()
        self._available += 1
        self._pending[agent_id] = agent
        if self._reserved.get(agent_id):
            self._reserved_ready.add(agent_id)

    def settle(self) -> None:
        """The agents still available after a decision join their classes' heaps."""
        for agent in self._pending.values():
            self._join_classes(agent)
        self._pending.clear()

    def _join_classes(self, agent: AgentSlot) -> None:
        keys: dict[str, float] = {}  # one strategy key per queue (weighted: per class)
        active = self._active
        for channel in agent.channels:
            for cls in agent.classes.get(channel, ()):
                known = None if cls.weighted else keys.get(cls.queue)
                if known is None:
                    known = self._strategy_key(cls, agent)
                    if not cls.weighted:
                        keys[cls.queue] = known
                cls.push_agent(agent, cls.eligible[agent.agent_id][0], known)
                if cls.calls:
                    active.add(cls)

    def make_unavailable(self, agent: AgentSlot) -> None:
        channels, agent.channels = agent.channels, frozenset()
        agent.epoch = self._epoch = self._epoch + 1
        self._available -= 1
        if self._pending.pop(agent.agent_id, None) is not None:
            channels = frozenset()  # never joined its classes
        for channel in channels:
            for cls in agent.classes.get(channel, ()):
                cls.available -= 1
                if not cls.available:
                    self._active.discard(cls)
        self._reserved_ready.discard(agent.agent_id)

    # calls -----------------------------------------------------------------------------
    def profile_entry(self, call: WaitingCall, policy: QueuePolicy) -> ProfileEntry:
        has_pref = call.preferred_agent is not None and policy.preferred_window_s > 0
        key = (id(call.profile), call.queue, call.channel, has_pref)
        cached = self._profile_classes.get(key)
        if cached is None:
            marks = {*call.profile.breakpoints, *policy.urgency_of(call.channel).breakpoints}
            if has_pref:
                marks.add(policy.preferred_window_s)
            cached = (
                call.profile,
                tuple(sorted(m for m in marks if m > 0)),
                [None] * len(call.profile.steps),
            )
            self._profile_classes[key] = cached
        return cached

    def track(self, slot: CallSlot) -> None:
        """A new call: remember whom it prefers (it is placed again when they come or go)."""
        if slot.preferred is not None:
            self._preferring.setdefault(slot.preferred, {})[slot.seq] = slot

    def untrack(self, slot: CallSlot) -> None:
        """The call left the router (it must be out of every index)."""
        if slot.preferred is not None:
            preferring = self._preferring[slot.preferred]
            del preferring[slot.seq]
            if not preferring:
                del self._preferring[slot.preferred]

    def place(self, slot: CallSlot, now: float) -> None:
        """Put a waiting call in its class (or reserve it) as of ``now``, and time its next
        move."""
        waited = now - slot.entry
        policy = self._policies[slot.queue]
        step = slot.profile.step_at(waited)
        cls = slot.step_classes[step]
        if cls is None:
            cls = slot.step_classes[step] = self._class_for(
                slot.queue, slot.channel, slot.profile.steps[step].requirement
            )
        slot.step = step
        slot.token += 1
        pref = slot.preferred
        # a directed task (a transfer to a named agent) is theirs alone while they are
        # logged in; a preferred agent only has it first for the queue's window, if qualified
        directed = slot.directed and pref in self._agents
        if pref is not None and (
            directed or (waited < policy.preferred_window_s and pref in cls.eligible)
        ):
            slot.reserved_for = self._agents[pref]
            self._reserved.setdefault(pref, {})[slot.seq] = slot
            if slot.channel in slot.reserved_for.channels:
                self._reserved_ready.add(pref)
        else:
            urgency = policy.urgency_of(slot.channel)
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

    def unplace(self, slot: CallSlot) -> None:
        slot.token += 1
        cls = slot.cls
        if cls is not None:
            cls.call_left()
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

    def drop_queue(self, queue: str) -> None:
        """Forget the queue's routing classes (none of its calls may be placed in them)."""
        for key in [k for k in self._classes if k[0] == queue]:
            cls = self._classes.pop(key)
            self._active.discard(cls)
            for agent_id in cls.eligible:
                self._agents[agent_id].classes[cls.channel].remove(cls)
        for cached in [k for k in self._profile_classes if k[1] == queue]:
            del self._profile_classes[cached]

    # decisions -------------------------------------------------------------------------
    def next_change_at(self) -> float | None:
        due = self._due
        while due and (due[0][3].token != due[0][2] or due[0][3].offered):
            heappop(due)
        return due[0][0] if due and self._available else None

    def advance(self, now: float) -> None:
        """Move the calls whose phase, step or reservation has ended by ``now``."""
        due = self._due
        while due and due[0][0] <= now:
            _, _, token, slot = heappop(due)
            if slot.token == token and not slot.offered:
                self.unplace(slot)
                self.place(slot, now)

    def best_call(self, now: float) -> CallSlot | None:
        """The highest-priority call some available agent can take (then the longest
        waiting, then the first queued).

        Inside a phase a call's priority is its heap key (+ the queue's rate x ``now`` in a
        linear phase), so each class's phase tops are ranked from their keys first; only
        the ones within rounding of the best are ranked by the exact formula (``Urgency.
        effective``), so a decision costs one key read per active class and phase."""
        tops: list[tuple[float, CallSlot, Urgency]] = []
        high = -math.inf
        lift_max = 0.0
        classes = self._active
        if self._pending:
            classes = set(classes)
            for agent in self._pending.values():
                for channel in agent.channels:
                    classes.update(c for c in agent.classes.get(channel, ()) if c.calls)
        for cls in classes:
            urgency = cls.urgency
            lift = urgency.rate * now
            if lift > lift_max:
                lift_max = lift
            offset = cls.offset
            live = cls.tops
            if live is None:
                live = cls.live_tops()
            for key, slot, linear in live:
                bound = (lift if linear else offset) - key
                if bound > high:
                    high = bound
                tops.append((bound, slot, urgency))
        best: tuple[float, float, int] | None = None
        best_slot: CallSlot | None = None
        if tops:
            floor = high - _ROUNDING * (1.0 + abs(high) + lift_max)
            for bound, slot, urgency in tops:
                if bound >= floor:
                    rank = (-urgency.effective(slot.base, now - slot.entry), slot.entry, slot.seq)
                    if best is None or rank < best:
                        best, best_slot = rank, slot
        for agent_id in self._reserved_ready:
            channels = self._agents[agent_id].channels
            for slot in self._reserved[agent_id].values():
                if slot.channel not in channels:
                    continue
                rank = (-self._effective(slot, now), slot.entry, slot.seq)
                if best is None or rank < best:
                    best, best_slot = rank, slot
        return best_slot

    def hand_out(self, slot: CallSlot) -> tuple[AgentSlot, AgentChoice]:
        """The agent a placed call goes to (reserved, preferred, else the class's best);
        the call is unplaced and the agent made unavailable."""
        cls = slot.step_classes[slot.step]
        assert cls is not None, "a placed call has its class"
        reserved = slot.reserved_for
        pref = self._agents.get(slot.preferred) if slot.preferred is not None else None
        if reserved is not None:
            agent, reason, key = reserved, "reserved for preferred agent", 0.0
        elif pref is not None and slot.channel in pref.channels and pref.agent_id in cls.eligible:
            agent, reason, key = pref, "preferred agent", 0.0
        else:
            agent, key = self._best_agent(cls)
            reason = "best match"
        eligible = cls.available + sum(
            1
            for a in self._pending.values()
            if cls.channel in a.channels and a.agent_id in cls.eligible
        )
        choice = AgentChoice(reason, self._policies[slot.queue].strategy, key, eligible)
        self.unplace(slot)
        agent.last_offered[slot.queue] = self._offers
        self._offers += 1
        self.make_unavailable(agent)
        return agent, choice

    # internals -------------------------------------------------------------------------
    def _best_agent(self, cls: RoutingClass) -> tuple[AgentSlot, float]:
        """The class's best available agent: its heap's top or an agent not settled yet."""
        best: tuple[float, float, str] | None = None
        chosen: tuple[AgentSlot, float] | None = None
        top = cls.top_agent()
        if top is not None:
            agent, key = top
            best, chosen = (-cls.eligible[agent.agent_id][0], key, agent.agent_id), top
        for agent in self._pending.values():
            if cls.channel in agent.channels and agent.agent_id in cls.eligible:
                key = self._strategy_key(cls, agent)
                rank = (-cls.eligible[agent.agent_id][0], key, agent.agent_id)
                if best is None or rank < best:
                    best, chosen = rank, (agent, key)
        assert chosen is not None, "an active class has an available agent"
        return chosen

    def _effective(self, slot: CallSlot, now: float) -> float:
        urgency = self._policies[slot.queue].urgency_of(slot.channel)
        return urgency.effective(slot.base, now - slot.entry)

    def _class_for(self, queue: str, channel: str, requirement: Requirement) -> RoutingClass:
        key = (queue, channel, requirement)
        cls = self._classes.get(key)
        if cls is None:
            policy = self._policies[queue]
            cls = self._classes[key] = RoutingClass(
                queue,
                channel,
                requirement,
                policy.urgency_of(channel),
                weighted=policy.strategy is Strategy.WEIGHTED,
            )
            pools = [self._with_skill.get(skill, {}) for skill, _ in requirement.required]
            for agent in list(min(pools, key=len).values() if pools else self._agents.values()):
                self._admit(cls, agent)
        return cls

    def _admit(self, cls: RoutingClass, agent: AgentSlot) -> None:
        requirement = cls.requirement
        if requirement.admits(agent.skills):
            match = requirement.match_score(agent.skills)
            weight = requirement.level_weight(agent.skills) if cls.weighted else 1.0
            cls.eligible[agent.agent_id] = (match, weight)
            agent.classes.setdefault(cls.channel, []).append(cls)
            if cls.channel in agent.channels and agent.agent_id not in self._pending:
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

    def _replace_preferring(self, agent_id: str, now: float) -> None:
        for slot in list(self._preferring.get(agent_id, {}).values()):
            if not slot.offered:
                self.unplace(slot)
                self.place(slot, now)
