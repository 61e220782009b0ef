"""A simulated contact centre, described in YAML, and the traffic it generates.

Traffic (arrival times, call types, callers' facts, patience, base handle times) is drawn
from its own seeded stream before routing has any say, so two routing policies run on the
same scenario and seed see exactly the same callers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from acd.calls import CallFacts
from acd.policy import (
    AgentPolicyConfig,
    AgingConfig,
    PreferredAgentConfig,
    PriorityConfig,
    QueuesConfig,
    SlRiskConfig,
)
from acd.strategy import Strategy

__all__ = [
    "POLICIES",
    "AgentGroup",
    "CallTypeConfig",
    "HandleConfig",
    "ScenarioConfig",
    "SimCall",
    "apply_policy",
    "erlang_scenario",
    "generate_traffic",
    "load_scenario",
]

Probability = Annotated[float, Field(ge=0, le=1)]
Positive = Annotated[float, Field(gt=0)]

#: hotline's own routing, and app_queue-like baselines (strict priority, FIFO within a
#: priority, queue membership instead of skill levels; linear or ring-all member order).
POLICIES = ("hotline", "app_queue_linear", "app_queue_ringall")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HandleConfig(_Model):
    distribution: Literal["exponential", "lognormal", "fixed"] = "exponential"
    mean_s: Positive = 180.0
    #: coefficient of variation for lognormal
    cv: Annotated[float, Field(ge=0)] = 1.0

    def draw(self, rng: random.Random) -> float:
        if self.distribution == "fixed":
            return self.mean_s
        if self.distribution == "exponential":
            return rng.expovariate(1.0 / self.mean_s)
        sigma2 = math.log1p(self.cv * self.cv)
        return rng.lognormvariate(math.log(self.mean_s) - sigma2 / 2, math.sqrt(sigma2))


class CallTypeConfig(_Model):
    name: str
    share: Positive
    queue: str
    intent: str | None = None
    handle: HandleConfig = HandleConfig()
    #: the skill whose level speeds handling up, and handle-time factors by level
    handle_skill: str | None = None
    level_factors: dict[int, Positive] = {}
    #: mean patience (exponential); null: nobody hangs up while waiting
    patience_s: Positive | None = None
    complexity: dict[int, Probability] = {0: 1.0}
    tiers: dict[str, Probability] = {}
    languages: dict[str, Probability] = {}
    repeat_share: Probability = 0.0
    tags: dict[str, Probability] = {}

    def factor(self, level: int) -> float:
        below = [lvl for lvl in self.level_factors if lvl <= level]
        return self.level_factors[max(below)] if below else 1.0


class AgentGroup(_Model):
    group: str
    count: Annotated[int, Field(ge=1, le=100_000)]
    skills: dict[str, Annotated[int, Field(ge=0, le=100)]] = {}
    rona_probability: Probability = 0.0


class ScenarioConfig(_Model):
    name: str = "scenario"
    seed: int = 1
    calls: Annotated[int, Field(ge=1)] = 10_000
    arrivals_per_hour: Positive = 100.0
    #: seconds an agent's phone rings before they answer (0: at once)
    ring_s: Annotated[float, Field(ge=0)] = 0.0
    ring_timeout_s: Positive = 15.0
    #: a RONA-paused agent makes themselves ready again after this
    pause_after_rona_s: Annotated[float, Field(ge=0)] = 30.0
    #: manual wrap-up (agent_policy.wrap_up_s null) ends after this
    manual_wrap_s: Annotated[float, Field(ge=0)] = 10.0
    priority: PriorityConfig = PriorityConfig()
    queues: QueuesConfig
    agent_policy: AgentPolicyConfig = AgentPolicyConfig(wrap_up_s=0.0)
    agents: list[AgentGroup]
    call_types: list[CallTypeConfig]

    @model_validator(mode="after")
    def _queues_exist(self) -> ScenarioConfig:
        for call_type in self.call_types:
            if call_type.queue not in self.queues.queues:
                raise ValueError(f"call type {call_type.name}: unknown queue {call_type.queue!r}")
        return self


def load_scenario(path: Path | str) -> ScenarioConfig:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    return ScenarioConfig.model_validate(data)


def apply_policy(scenario: ScenarioConfig, policy: str) -> ScenarioConfig:
    """The scenario routed by ``policy``; "hotline" leaves it as written."""
    if policy == "hotline":
        return scenario
    if policy not in POLICIES:
        raise ValueError(f"unknown policy {policy!r} (one of {', '.join(POLICIES)})")
    strategy = Strategy.LINEAR if policy == "app_queue_linear" else Strategy.RANDOM
    queues = {
        name: q.model_copy(
            update={
                "strategy": strategy,
                "aging": AgingConfig(),
                "sl_risk": SlRiskConfig(points=0.0),
                "required": dict.fromkeys(q.required, 1),
                "preferred": {},
                "rules": [],
                "relax": [],
                "preferred_agent": PreferredAgentConfig(),
                "language": None
                if q.language is None
                else q.language.model_copy(update={"min_level": 1}),
            }
        )
        for name, q in scenario.queues.queues.items()
    }
    return scenario.model_copy(
        update={"queues": scenario.queues.model_copy(update={"queues": queues})}
    )


@dataclass(frozen=True, slots=True)
class SimCall:
    index: int
    arrival: float
    call_type: int
    queue: str
    facts: CallFacts
    patience: float | None
    base_handle: float


def _pick_from(
    rng: random.Random, weights: dict[str, float] | dict[int, float], total: float
) -> object:
    u = rng.random() * total
    for key, weight in weights.items():
        u -= weight
        if u < 0:
            return key
    return next(reversed(weights))


def generate_traffic(scenario: ScenarioConfig, calls: int, seed: int) -> Iterator[SimCall]:
    rng = random.Random(f"traffic/{seed}")
    rate = scenario.arrivals_per_hour / 3600.0
    shares = {i: ct.share for i, ct in enumerate(scenario.call_types)}
    shares_total = sum(shares.values())
    #: per call type, what every call of it draws from (the weights' totals made once)
    kinds = [
        (
            ct,
            sum(ct.tiers.values()),
            sum(ct.languages.values()),
            sum(ct.complexity.values()),
            tuple(ct.tags.items()),
        )
        for ct in scenario.call_types
    ]
    t = 0.0
    for index in range(calls):
        t += rng.expovariate(rate)
        kind = _pick_from(rng, shares, shares_total)
        assert isinstance(kind, int)
        ct, tiers, languages, complexities, tag_odds = kinds[kind]
        tier = _pick_from(rng, ct.tiers, tiers) if ct.tiers else None
        language = _pick_from(rng, ct.languages, languages) if ct.languages else None
        complexity = _pick_from(rng, ct.complexity, complexities)
        repeat = rng.random() < ct.repeat_share
        tags = frozenset(tag for tag, p in tag_odds if rng.random() < p)
        facts = CallFacts(
            intent=ct.intent,
            tier=tier if isinstance(tier, str) else None,
            complexity=complexity if isinstance(complexity, int) else 0,
            days_since_last_contact=1.0 if repeat else None,
            tags=tags,
            language=language if isinstance(language, str) else None,
        )
        patience = None if ct.patience_s is None else rng.expovariate(1.0 / ct.patience_s)
        yield SimCall(index, t, kind, ct.queue, facts, patience, ct.handle.draw(rng))


def erlang_scenario(
    *,
    agents: int,
    erlangs: float,
    aht: float,
    calls: int,
    seed: int = 1,
    target_s: float = 20.0,
    patience_s: float | None = None,
) -> ScenarioConfig:
    """One queue, one skill, FIFO: the M/M/N (+M with patience) centre of ``hotline
    simulate``. Without patience it is exactly Erlang C's model."""
    return ScenarioConfig.model_validate(
        {
            "name": f"{agents} agents, {erlangs:g} erlangs, AHT {aht:g} s",
            "seed": seed,
            "calls": calls,
            "arrivals_per_hour": erlangs / aht * 3600.0,
            "queues": {
                "service_level": {"short_abandon_s": 0.0},
                "queues": {"main": {"sl_target_s": target_s, "required": {"main": 1}}},
            },
            "agent_policy": {"wrap_up_s": 0.0},
            "agents": [{"group": "agent", "count": agents, "skills": {"main": 1}}],
            "call_types": [
                {
                    "name": "call",
                    "share": 1.0,
                    "queue": "main",
                    "handle": {"distribution": "exponential", "mean_s": aht},
                    "patience_s": patience_s,
                }
            ],
        }
    )
