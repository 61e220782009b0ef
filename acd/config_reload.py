"""A config reload, applied to the distributor at once: the agents (``update_roster``),
then the queues and priority weights (``update_queues``). A new queue takes calls, a changed
one routes its waiting calls by its new rules (re-profiled, same entry time), a removed one
takes no new calls and drains: the calls already in it are served by its old rules until
they leave. Offers already out stand.

A part of ``acd.distributor.CallDistributor``, which holds the state and routes; pure.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from acd.events import AcdEvent, PriorityWeightsUpdated, QueueUpdated
from acd.offer import Offer
from acd.priority import PriorityScore, PriorityWeights
from acd.queue import QueuePolicy
from acd.router import SUPERVISOR_TERM

if TYPE_CHECKING:
    from acd.agents import AgentBook
    from acd.distributor import AgentProfile, QueueSetup, _Call
    from acd.router import Router

__all__ = ["ConfigReload"]


class ConfigReload:
    if TYPE_CHECKING:  # the distributor's state and steps these use
        agents: dict[str, AgentProfile]
        book: AgentBook
        router: Router
        _queues: dict[str, QueueSetup]
        _draining: dict[str, QueueSetup]
        _order: dict[str, int]
        _priority: PriorityWeights
        _calls: dict[str, _Call]

        def dispatch(self) -> list[Offer]: ...
        def _log(self, event: AcdEvent) -> None: ...
        def _setup(self, queue: str) -> QueueSetup: ...

    # agents ----------------------------------------------------------------------------
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

    # queues ----------------------------------------------------------------------------
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
