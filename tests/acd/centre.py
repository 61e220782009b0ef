"""Small centres for the ACD specification tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acd.agents import AgentPolicy
from acd.build import build_acd
from acd.clock import ManualClock
from acd.distributor import CallDistributor
from acd.events import InMemoryEventSink
from acd.offer import Offer
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig


class Centre:
    """A distributor on a manual clock with an in-memory log."""

    def __init__(
        self,
        queues: Mapping[str, Any],
        agents: Mapping[str, Mapping[str, int]],
        *,
        priority: Mapping[str, Any] | None = None,
        agent_policy: Mapping[str, Any] | None = None,
        capacity: Mapping[str, Any] | None = None,
        seed: int = 0,
    ) -> None:
        self.clock = ManualClock(1000.0)
        self.sink = InMemoryEventSink()
        setup = build_acd(
            PriorityConfig.model_validate(priority or {}),
            QueuesConfig.model_validate({"queues": queues}),
            AgentsConfig.model_validate(
                {
                    "policy": {"wrap_up_s": 0, **(agent_policy or {})},
                    "capacity": dict(capacity or {}),
                    "agents": [{"id": a, "skills": dict(s)} for a, s in agents.items()],
                }
            ),
        )
        self.acd: CallDistributor = setup.distributor(clock=self.clock, sink=self.sink, seed=seed)
        self.agent_policy: AgentPolicy = setup.agent_policy
        self._agents = agents

    def reload(
        self, queues: Mapping[str, Any], *, priority: Mapping[str, Any] | None = None
    ) -> list[Offer]:
        """A config reload with these queues (and priority weights, if given)."""
        setup = build_acd(
            PriorityConfig.model_validate(priority or {}),
            QueuesConfig.model_validate({"queues": queues}),
            AgentsConfig.model_validate(
                {"agents": [{"id": a, "skills": dict(s)} for a, s in self._agents.items()]}
            ),
        )
        return self.acd.update_queues(setup.queues, None if priority is None else setup.priority)

    def events(self, kind: type) -> list[Any]:
        return [r.event for r in self.sink.records() if isinstance(r.event, kind)]
