"""A routing decision and its explanation: why this call, why this agent."""

from __future__ import annotations

from dataclasses import dataclass

from acd.contacts import VOICE
from acd.priority import PriorityScore
from acd.skills import SkillMatch
from acd.strategy import Strategy

__all__ = ["AgentChoice", "Offer"]


@dataclass(frozen=True, slots=True)
class AgentChoice:
    """How the agent was picked among the eligible available ones."""

    #: "reserved for preferred agent", "preferred agent" or "best match".
    reason: str
    strategy: Strategy
    #: The strategy's tie-break key (smaller wins), for the record.
    key: float
    #: How many agents could take the call at that moment (the class's available count).
    eligible_available: int


@dataclass(frozen=True, slots=True)
class Offer:
    """The router chose ``agent_id`` for ``call_id``; the caller's session dials the agent."""

    call_id: str
    agent_id: str
    queue: str
    at: float
    entry_time: float
    priority: PriorityScore
    match: SkillMatch
    choice: AgentChoice
    #: The task's channel: a voice or callback offer rings the agent's phone; any other is
    #: a reservation the agent accepts or rejects on their desktop.
    channel: str = VOICE

    @property
    def waited_s(self) -> float:
        return self.at - self.entry_time

    def explain(self) -> str:
        choice = self.choice
        how = choice.reason
        if choice.reason == "best match":
            how += f", then {choice.strategy.value} (key {choice.key:g})"
        task = "call" if self.channel == VOICE else f"{self.channel} task"
        return (
            f"{task} {self.call_id} waited {self.waited_s:.1f} s in {self.queue}, priority "
            f"{self.priority.explain()}; agent {self.agent_id}: {how} among "
            f"{choice.eligible_available} eligible; {self.match.explain()}"
        )
