"""From the four validated config models to a running ``CallDistributor``, with the
cross-file checks that single-file validation cannot make."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from acd.agents import AgentPolicy
from acd.clock import Clock
from acd.desk_rules import DeskRules
from acd.distributor import AgentProfile, CallDistributor, QueueSetup
from acd.events import EventSink
from acd.kpi import SlPolicy
from acd.policy import AgentsConfig, PriorityConfig, QueueConfig, QueuesConfig, SkillsConfig
from acd.priority import PriorityWeights
from acd.skills import Requirement

__all__ = ["AcdConfigError", "AcdConfigIssue", "AcdSetup", "build_acd", "check_acd_config"]


@dataclass(frozen=True, slots=True)
class AcdConfigIssue:
    severity: str  # "error" | "warning"
    file: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.file}: {self.path}: {self.message}"


class AcdConfigError(ValueError):
    def __init__(self, issues: list[AcdConfigIssue]) -> None:
        super().__init__("\n".join(map(str, issues)))
        self.issues = issues


@dataclass(frozen=True, slots=True)
class AcdSetup:
    """Everything the distributor is made of; built once per (re)load."""

    queues: tuple[QueueSetup, ...]
    agents: tuple[AgentProfile, ...]
    priority: PriorityWeights
    agent_policy: AgentPolicy
    sl_policy: SlPolicy
    ring_timeout_s: float
    warnings: tuple[AcdConfigIssue, ...] = ()
    #: the agent desktop's pause reasons, disposition codes and canned responses
    desk: DeskRules = field(default_factory=DeskRules)

    def distributor(self, *, clock: Clock, sink: EventSink, seed: int = 0) -> CallDistributor:
        return CallDistributor(
            queues=self.queues,
            agents=self.agents,
            priority=self.priority,
            clock=clock,
            sink=sink,
            agent_policy=self.agent_policy,
            seed=seed,
        )


def build_acd(
    priority: PriorityConfig,
    queues: QueuesConfig,
    agents: AgentsConfig,
    skills: SkillsConfig | None = None,
) -> AcdSetup:
    """Raises ``AcdConfigError`` on errors; warnings travel in ``AcdSetup.warnings``."""
    issues = check_acd_config(priority, queues, agents, skills)
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise AcdConfigError(errors)
    return AcdSetup(
        queues=tuple(
            QueueSetup(q.policy(name, queues.service_level.channel_targets_s), q.skills(name))
            for name, q in queues.queues.items()
        ),
        agents=tuple(
            AgentProfile(
                a.id, dict(a.skills), a.endpoint, a.name, (a.capacity or agents.capacity).capacity()
            )
            for a in agents.agents
        ),
        priority=priority.weights(),
        agent_policy=agents.policy.agent_policy(),
        sl_policy=queues.sl_policy(),
        ring_timeout_s=agents.policy.ring_timeout_s,
        warnings=tuple(issues),
        desk=agents.desk_rules(queues),
    )


def check_acd_config(
    priority: PriorityConfig,
    queues: QueuesConfig,
    agents: AgentsConfig,
    skills: SkillsConfig | None = None,
) -> list[AcdConfigIssue]:
    issues: list[AcdConfigIssue] = []
    roster = [dict(a.skills) for a in agents.agents]
    if skills is not None and skills.skills:
        for agent in agents.agents:
            for skill, level in agent.skills.items():
                known = skills.definition(skill)
                where = f"agents.{agent.id}.skills.{skill}"
                if known is None:
                    issues.append(AcdConfigIssue("error", "agents.yaml", where, "unknown skill"))
                elif level > known.max_level:
                    issues.append(
                        AcdConfigIssue(
                            "error",
                            "agents.yaml",
                            where,
                            f"level {level} above max_level {known.max_level}",
                        )
                    )
    spread = priority.weights().spread()
    for name, queue in queues.queues.items():
        issues += _check_queue(name, queue, roster, skills, spread)
    return issues


def _check_queue(
    name: str,
    queue: QueueConfig,
    roster: list[dict[str, int]],
    skills: SkillsConfig | None,
    spread: float,
) -> list[AcdConfigIssue]:
    issues: list[AcdConfigIssue] = []
    at = f"queues.{name}"
    named: dict[str, Mapping[str, object]] = {
        "required": queue.required,
        "preferred": queue.preferred,
    }
    for i, rule in enumerate(queue.rules):
        named[f"rules.{i}.required"] = rule.required
        named[f"rules.{i}.preferred"] = rule.preferred
    for path, mapping in named.items():
        for skill in mapping:
            if skills is not None and skills.skills and skills.definition(skill) is None:
                issues.append(
                    AcdConfigIssue("error", "queues.yaml", f"{at}.{path}.{skill}", "unknown skill")
                )
            elif not any(agent.get(skill, 0) > 0 for agent in roster):
                issues.append(
                    AcdConfigIssue(
                        "warning", "queues.yaml", f"{at}.{path}.{skill}", "no agent has this skill"
                    )
                )
    qs = queue.skills(name)
    cases = [("", dict(qs.required))] + [
        (f" (rule {r.name})", {**dict(qs.required), **dict(r.required)}) for r in qs.rules
    ]
    for label, required in cases:
        for step in qs.steps:
            required = step.apply(required)
        if not any(Requirement.of(required).admits(agent) for agent in roster):
            need = Requirement.of(required).describe()
            issues.append(
                AcdConfigIssue(
                    "warning",
                    "queues.yaml",
                    at,
                    f"calls{label} can never be served: no agent has {need}",
                )
            )
    overtake = queue.policy(name).urgency.overtake_after_s(spread)
    if overtake is None and spread > 0:
        issues.append(
            AcdConfigIssue(
                "warning",
                "queues.yaml",
                f"{at}.aging",
                f"low-priority calls can starve: aging cannot make up the "
                f"{spread:g}-point priority spread (raise max_points above it)",
            )
        )
    return issues
