"""The routing rules written the obvious way: every decision scans every waiting call and,
for each, every available agent. Slow on purpose; it is the specification the indexed
``Router`` is tested against and the baseline the benchmark compares with.

Rules (both routers):

1. A call's requirement is its profile's step at ``waited = now - entry``; its priority is
   ``queue.urgency_of(channel).effective(base, waited)`` (each channel's own service-level
   target).
2. A call with a preferred agent who is logged in and meets that requirement, and that has
   waited less than the queue's ``preferred_window_s``, is *reserved*: only that agent may
   take it. Otherwise any available agent meeting the requirement may.
   An agent may take a task only on a channel they are available on (``set_available``'s
   ``channels``: the voice seat, or digital channels with capacity left).
3. Repeatedly: among calls with at least one agent who may take them, pick the highest
   priority (then earliest entry, then first enqueued); give it its preferred agent if that
   agent may take it, else the agent with the highest skill match, then the smallest
   strategy key, then the smallest agent id.
4. A supervisor may raise a waiting call's base priority (a ``supervisor`` term) or move it
   to another queue (that queue's policy, a new profile); either way it keeps its entry
   time and its place in the "first enqueued" tie-break.
5. A config reload may add a queue or change its policy (its calls follow the new policy
   at once), give a call a new profile and priority (``revise``: same queue, entry time and
   place), or remove a queue: it takes no new calls, but the calls in it are routed by its
   policy until they leave.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import replace

from acd.clock import Clock
from acd.contacts import VOICE_SEAT
from acd.offer import AgentChoice, Offer
from acd.queue import QueuePolicy, WaitingCall
from acd.router import RoutingError, bumped
from acd.skills import RoutingProfile, SkillLevels, explain_match
from acd.strategy import strategy_key

__all__ = ["NaiveRouter"]


class _Agent:
    def __init__(self, agent_id: str, skills: SkillLevels, order: int) -> None:
        self.agent_id = agent_id
        self.skills = dict(skills)
        self.order = order
        self.idle_since = 0.0
        self.calls_handled = 0
        self.draw = 1.0
        self.last_offered: dict[str, int] = {}
        self.channels: frozenset[str] = frozenset()


class NaiveRouter:
    """Same interface and same decisions as ``acd.router.Router``; O(calls x agents)."""

    def __init__(self, queues: Iterable[QueuePolicy], *, clock: Clock, seed: int = 0) -> None:
        self._policies = {q.name: q for q in queues}
        self._open = set(self._policies)
        self._clock = clock
        self._rng = random.Random(seed)
        self._agents: dict[str, _Agent] = {}
        self._available: dict[str, _Agent] = {}
        self._calls: dict[str, tuple[int, WaitingCall]] = {}
        self._offered: dict[str, tuple[int, WaitingCall]] = {}
        self._seq = 0
        self._offers = 0
        self._agent_order = 0

    @property
    def waiting_count(self) -> int:
        return len(self._calls)

    @property
    def available_count(self) -> int:
        return len(self._available)

    def add_agent(self, agent_id: str, skills: SkillLevels, *, order: int | None = None) -> None:
        if order is None:
            order = self._agent_order
        self._agent_order = max(self._agent_order, order) + 1
        self._agents[agent_id] = _Agent(agent_id, skills, order)

    def remove_agent(self, agent_id: str) -> None:
        self._available.pop(agent_id, None)
        del self._agents[agent_id]

    def set_available(
        self,
        agent_id: str,
        *,
        idle_since: float,
        calls_handled: int,
        channels: frozenset[str] = VOICE_SEAT,
    ) -> None:
        agent = self._agents[agent_id]
        agent.idle_since = idle_since
        agent.calls_handled = calls_handled
        agent.draw = 1.0 - self._rng.random()
        agent.channels = channels
        if channels:
            self._available[agent_id] = agent
        else:
            self._available.pop(agent_id, None)

    def set_unavailable(self, agent_id: str) -> None:
        self._available.pop(agent_id, None)

    def update_queue(self, policy: QueuePolicy) -> None:
        self._policies[policy.name] = policy
        self._open.add(policy.name)

    def remove_queue(self, queue: str) -> None:
        if queue not in self._open:
            raise RoutingError(f"unknown queue {queue!r}")
        self._open.discard(queue)

    def revise(self, call: WaitingCall) -> None:
        for held in (self._calls, self._offered):
            if call.call_id in held:
                held[call.call_id] = (held[call.call_id][0], call)
                return
        raise RoutingError(f"unknown call {call.call_id!r}")

    def enqueue(self, call: WaitingCall) -> None:
        if call.queue not in self._open:
            raise RoutingError(f"unknown queue {call.queue!r}")
        self._calls[call.call_id] = (self._seq, call)
        self._seq += 1

    def withdraw(self, call_id: str) -> WaitingCall:
        entry = self._calls.pop(call_id, None) or self._offered.pop(call_id)
        return entry[1]

    def requeue(self, call_id: str) -> None:
        self._calls[call_id] = self._offered.pop(call_id)

    def raise_priority(self, call_id: str, by: float, *, detail: str = "") -> WaitingCall:
        seq, call = self._waiting(call_id)
        call = bumped(call, by, detail)
        self._calls[call_id] = (seq, call)
        return call

    def move(self, call_id: str, queue: str, profile: RoutingProfile) -> WaitingCall:
        seq, call = self._waiting(call_id)
        if queue not in self._open or queue == call.queue:
            raise RoutingError(f"call {call_id!r} cannot move to {queue!r}")
        call = replace(call, queue=queue, profile=profile)
        self._calls[call_id] = (seq, call)
        return call

    def _waiting(self, call_id: str) -> tuple[int, WaitingCall]:
        try:
            return self._calls[call_id]
        except KeyError:
            raise RoutingError(f"call {call_id!r} is not waiting") from None

    def settle(self, call_id: str) -> WaitingCall:
        return self._offered.pop(call_id)[1]

    def dispatch(self) -> list[Offer]:
        now = self._clock()
        offers: list[Offer] = []
        while True:
            best: tuple[float, float, int] | None = None
            chosen: tuple[WaitingCall, list[_Agent], bool] | None = None
            for seq, call in self._calls.values():
                waited = now - call.entry_time
                policy = self._policies[call.queue]
                requirement = call.profile.requirement_at(waited)
                pref = self._agents.get(call.preferred_agent or "")
                reserved = (
                    pref is not None
                    and waited < policy.preferred_window_s
                    and requirement.admits(pref.skills)
                )
                if reserved:
                    assert pref is not None
                    can = [pref] if self._free(pref.agent_id, call.channel) else []
                else:
                    can = [
                        a
                        for a in self._available.values()
                        if call.channel in a.channels and requirement.admits(a.skills)
                    ]
                if not can:
                    continue
                rank = (
                    -policy.urgency_of(call.channel).effective(call.priority.total, waited),
                    call.entry_time,
                    seq,
                )
                if best is None or rank < best:
                    best, chosen = rank, (call, can, reserved)
            if chosen is None:
                return offers
            offers.append(self._offer(*chosen, now))

    def _offer(self, call: WaitingCall, can: list[_Agent], reserved: bool, now: float) -> Offer:
        waited = now - call.entry_time
        policy = self._policies[call.queue]
        step = call.profile.step_at(waited)
        requirement = call.profile.steps[step].requirement

        def key(agent: _Agent) -> float:
            return strategy_key(
                policy.strategy,
                idle_since=agent.idle_since,
                calls_handled=agent.calls_handled,
                last_offered=agent.last_offered.get(call.queue, -1),
                draw=agent.draw,
                weight=requirement.level_weight(agent.skills),
                order=agent.order,
            )

        preferred = [a for a in can if a.agent_id == call.preferred_agent]
        if reserved:
            agent, reason, tie = can[0], "reserved for preferred agent", 0.0
        elif preferred:
            agent, reason, tie = preferred[0], "preferred agent", 0.0
        else:
            agent = min(can, key=lambda a: (-requirement.match_score(a.skills), key(a), a.agent_id))
            reason, tie = "best match", key(agent)
        eligible = sum(
            1
            for a in self._available.values()
            if call.channel in a.channels and requirement.admits(a.skills)
        )
        self._offered[call.call_id] = self._calls.pop(call.call_id)
        del self._available[agent.agent_id]
        agent.last_offered[call.queue] = self._offers
        self._offers += 1
        return Offer(
            call_id=call.call_id,
            agent_id=agent.agent_id,
            queue=call.queue,
            at=now,
            entry_time=call.entry_time,
            priority=call.priority.plus(*policy.urgency_of(call.channel).terms(waited)),
            match=explain_match(call.profile, step, agent.skills),
            choice=AgentChoice(reason, policy.strategy, tie, eligible),
            channel=call.channel,
        )

    def _free(self, agent_id: str, channel: str) -> bool:
        agent = self._available.get(agent_id)
        return agent is not None and channel in agent.channels
