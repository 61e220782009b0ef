"""The ACD's config files: the examples load, and cross-file mistakes are caught."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from acd.agent_events import Login
from acd.build import AcdConfigError, build_acd, check_acd_config
from acd.calls import CallFacts, IncomingCall
from acd.clock import ManualClock
from acd.events import InMemoryEventSink
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig, SkillsConfig

CONFIG = Path(__file__).resolve().parents[2] / "config"


def load(name: str) -> Any:
    return yaml.safe_load((CONFIG / name).read_text(encoding="utf-8"))


def example() -> tuple[PriorityConfig, QueuesConfig, AgentsConfig, SkillsConfig]:
    return (
        PriorityConfig.model_validate(load("priority.yaml")),
        QueuesConfig.model_validate(load("queues.yaml")),
        AgentsConfig.model_validate(load("agents.yaml")),
        SkillsConfig.model_validate(load("skills.yaml")),
    )


def test_example_config_builds_a_working_distributor_without_warnings() -> None:
    setup = build_acd(*example())
    assert setup.warnings == ()
    assert {q.policy.name for q in setup.queues} == {"support", "billing", "retention"}
    acd = setup.distributor(clock=ManualClock(), sink=InMemoryEventSink())
    for agent in setup.agents:
        acd.agent_event(Login(agent.agent_id))
    call = IncomingCall(
        "c1", "support", CallFacts(intent="internet_down", language="fr", tier="loyal")
    )
    [offer] = acd.call_arrived(call)
    assert offer.agent_id == "1001"  # the only agent with French >= 2 and internet >= 2


def test_queue_nobody_can_serve_is_a_warning() -> None:
    priority, _queues, agents, skills = example()
    data = load("queues.yaml")
    data["queues"]["retention"]["required"] = {"retention": 3, "product.tv": 5}
    issues = check_acd_config(priority, QueuesConfig.model_validate(data), agents, skills)
    [warning] = [i for i in issues if "never be served" in i.message]
    assert warning.severity == "warning"
    assert warning.path == "queues.retention"
    assert "product.tv>=5" in warning.message


def test_skill_nobody_has_is_a_warning_and_unknown_skill_an_error() -> None:
    priority, _, agents, skills = example()
    data = load("queues.yaml")
    data["queues"]["billing"]["preferred"]["retention"] = 1.0  # known, but only 1001/1004 have it
    data["queues"]["billing"]["required"]["chinese"] = 1  # not in the catalogue
    queues = QueuesConfig.model_validate(data)
    issues = check_acd_config(priority, queues, agents, skills)
    errors = [i for i in issues if i.severity == "error"]
    assert [(e.path, e.message) for e in errors] == [
        ("queues.billing.required.chinese", "unknown skill")
    ]
    with pytest.raises(AcdConfigError, match="chinese"):
        build_acd(priority, queues, agents, skills)


def test_aging_too_weak_to_prevent_starvation_is_a_warning() -> None:
    priority, _, agents, skills = example()
    data = load("queues.yaml")
    data["queues"]["billing"]["aging"] = {"points_per_minute": 5, "max_points": 50}
    issues = check_acd_config(priority, QueuesConfig.model_validate(data), agents, skills)
    assert any(i.path == "queues.billing.aging" and "starve" in i.message for i in issues)


def test_agent_level_above_the_catalogue_maximum_is_an_error() -> None:
    priority, queues, _, skills = example()
    data = load("agents.yaml")
    data["agents"][0]["skills"]["lang.en"] = 9
    issues = check_acd_config(priority, queues, AgentsConfig.model_validate(data), skills)
    assert any(i.severity == "error" and "max_level 3" in i.message for i in issues)


@pytest.mark.parametrize(
    ("model", "data", "message"),
    [
        (QueuesConfig, {"queues": {"q": {"strategy": "fastest"}}}, "strategy"),
        (
            QueuesConfig,
            {"queues": {"q": {"relax": [{"after_s": 60}, {"after_s": 30}]}}},
            "increasing",
        ),
        (QueuesConfig, {"queues": {"q": {"sl_target": 20}}}, "extra"),
        (PriorityConfig, {"intents": {"x": "nonexistent"}}, "unknown call type"),
        (AgentsConfig, {"agents": [{"id": "1"}, {"id": "1"}]}, "twice"),
        (
            QueuesConfig,
            {"queues": {"q": {"aging": {"points_per_minute": -1}}}},
            "greater than or equal",
        ),
    ],
)
def test_bad_config_is_refused_with_the_reason(
    model: Any, data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        model.model_validate(data)


def test_config_models_are_frozen() -> None:
    config = QueuesConfig.model_validate(load("queues.yaml"))
    with pytest.raises(ValidationError):
        config.queues["support"].sl_target_s = 5
