"""A config reload while callers wait on real sockets (emulated Asterisk): a removed queue
turns new calls away but its waiting caller is still answered, a changed queue's waiting
caller is served by its new skills, a new queue takes calls at once, and a new
``waiting.yaml`` applies to new callers and to those already waiting; through the service,
a bad one is refused and the running one kept."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from acd.agent_events import Login, Ready
from acd.build import AcdSetup, build_acd
from acd.events import CallAbandoned, CallQueued, QueueUpdated
from acd.policy import AgentsConfig, PriorityConfig, QueuesConfig
from center.settings import WaitingConfig
from hotline.app import Hotline
from hotline.config import load_config

from .support import PRIORITY, QUEUES, WAITING, Agent, live_acd, wait_until

INTERNET = {"internet": 2}
BILLING = {"billing": 1}
AGENTS = [Agent("1001", INTERNET), Agent("1002", BILLING)]


def reloaded(queues: Mapping[str, Any]) -> AcdSetup:
    return build_acd(
        PriorityConfig.model_validate(PRIORITY),
        QueuesConfig.model_validate({"queues": queues}),
        AgentsConfig.model_validate(
            {"agents": [{"id": a.id, "endpoint": a.endpoint, "skills": a.skills} for a in AGENTS]}
        ),
    )


async def test_a_removed_queue_turns_new_callers_away_and_still_answers_its_waiting_one() -> None:
    async with live_acd(AGENTS, login=[]) as rig:
        # billing could be served: wait
        rig.service.agent_event(Login("1002", paused_reason="lunch"))
        rig.attributes["+441632960400"] = {"queue": "billing"}
        rig.attributes["+441632960401"] = {"queue": "billing"}
        waiting = await rig.place("+441632960400")
        await wait_until(lambda: rig.service.distributor.router.waiting_count == 1)

        rig.service.reconfigure(reloaded({"support": QUEUES["support"]}))
        assert "billing" not in rig.service.queue_names
        turned_away = await rig.call("+441632960401")
        assert turned_away.fallback_used
        rig.service.agent_event(Ready("1002"))
        answered = await waiting.wait_done(timeout_s=5)

        assert [d.answered_by for d in answered.dials] == ["SIP/agent1002"]
        assert rig.events(QueueUpdated) == [QueueUpdated("billing", "removed")]


async def test_a_waiting_caller_is_answered_by_the_skills_a_reload_gives_the_queue() -> None:
    async with live_acd(AGENTS, login=["1002"]) as rig:  # billing only: support waits
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        rig.attributes["+441632960410"] = {"queue": "support"}
        placed = await rig.place("+441632960410")
        await wait_until(lambda: rig.service.distributor.router.waiting_count == 1)

        rig.service.reconfigure(reloaded({**QUEUES, "support": {"required": {"billing": 1}}}))
        result = await placed.wait_done(timeout_s=5)

        assert [d.answered_by for d in result.dials] == ["SIP/agent1002"]
        kinds = [kind for kind, _, _ in rig.interactions.log]
        assert kinds[:2] == ["queued", "answered"]


async def test_a_queue_added_by_a_reload_takes_a_call_at_once() -> None:
    async with live_acd(AGENTS) as rig:
        rig.service.reconfigure(reloaded({**QUEUES, "tv": {"required": {"billing": 1}}}))
        rig.attributes["+441632960420"] = {"queue": "tv"}
        result = await rig.call("+441632960420")

        assert [d.answered_by for d in result.dials] == ["SIP/agent1002"]
        assert ("queued", result.uniqueid, {"queue": "tv"}) in rig.interactions.log


def waiting_rules(**support: Any) -> WaitingConfig:
    """The test's waiting.yaml with ``support``'s own rules."""
    return WaitingConfig.model_validate({**WAITING, "queues": {"support": support}})


def heard(commands: tuple[str, ...], prompt: str) -> int:
    return sum(line.split()[2:3] == [prompt] for line in commands if line.startswith("STREAM"))


async def test_a_maximum_wait_set_by_a_reload_overflows_a_waiting_caller_and_a_new_one() -> None:
    async with live_acd(AGENTS, login=["1002"]) as rig:  # billing only: support waits
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        for number in ("+441632960430", "+441632960431"):
            rig.attributes[number] = {"queue": "support"}
        waiting = await rig.place("+441632960430")
        await wait_until(lambda: rig.service.distributor.router.waiting_count == 1)
        await asyncio.sleep(0.2)
        assert not rig.events(CallAbandoned)  # no maximum wait yet

        overflow = {"action": "queue", "queue": "billing"}
        rig.gateway.settings = waiting_rules(max_wait_s=0.3, on_max_wait=overflow)
        joining = await rig.place("+441632960431")
        results = await asyncio.gather(waiting.wait_done(timeout_s=5), joining.wait_done(5))

        assert [r.dials[0].answered_by for r in results] == ["SIP/agent1002"] * 2
        left = rig.events(CallAbandoned)
        assert sorted(e.call_id for e in left) == sorted(r.uniqueid for r in results)
        assert all(e.reason.startswith("max wait") for e in left)
        queued = [(e.call_id, e.queue) for e in rig.events(CallQueued)]
        assert [(r.uniqueid, "billing") in queued for r in results] == [True, True]


async def test_an_announcement_period_set_by_a_reload_reaches_a_waiting_caller_and_a_new_one() -> (
    None
):
    once = {"first_after_s": 0, "every_s": 3600, "expected_wait": False}
    async with live_acd(AGENTS, login=[], waiting={"defaults": {"announce": once}}) as rig:
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        for number in ("+441632960440", "+441632960441"):
            rig.attributes[number] = {"queue": "support"}
        waiting = await rig.place("+441632960440", hangup_after_s=90)
        await wait_until(lambda: rig.service.distributor.router.waiting_count == 1)
        await asyncio.sleep(0.3)  # one announcement at once, then none for an hour

        often = {**once, "every_s": 0.1}
        rig.gateway.settings = WaitingConfig.model_validate(
            {**WAITING, "defaults": {"announce": often}}
        )
        joining = await rig.place("+441632960441", hangup_after_s=50)
        waited, joined = await asyncio.gather(waiting.wait_done(5), joining.wait_done(5))

        assert heard(waited.commands, "queue-youarenext") >= 3
        assert heard(joined.commands, "queue-thereare") >= 2


# through the service -------------------------------------------------------------------
def write_config(directory: Path, waiting: str) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "hotline.yaml").write_text(
        "fastagi:\n  port: 0\nami:\n  port: 1\n  secret: s\nweb:\n  port: 0\n"
        f"database:\n  url: sqlite+aiosqlite:///{directory.parent}/hotline.db\n",
        encoding="utf-8",
    )
    (directory / "speech.yaml").write_text("enabled: false\n", encoding="utf-8")
    (directory / "ivr.yaml").write_text(
        "prompts: {core: [hello-world]}\nentry: welcome\nnodes:\n"
        "  welcome: {play: {prompt: hello-world, next: agents}}\n  agents: {queue: {}}\n",
        encoding="utf-8",
    )
    (directory / "queues.yaml").write_text(
        "queues:\n  support: {required: {internet: 1}}\n", encoding="utf-8"
    )
    (directory / "waiting.yaml").write_text(waiting, encoding="utf-8")
    return directory


async def test_a_reload_gives_the_gateway_and_the_dialler_the_new_waiting_rules(
    tmp_path: Path,
) -> None:
    config_dir = write_config(tmp_path / "config", "queues:\n  support: {max_wait_s: 600}\n")
    service = Hotline(load_config(config_dir, environ={}), config_dir=config_dir, environ={})
    try:
        write_config(
            config_dir,
            "callbacks: {max_attempts: 5}\nqueues:\n  support: {max_wait_s: 30}\n",
        )
        assert await service.reload() is True

        assert service.acd_gateway.settings.policy("support").max_wait_s == 30
        assert service.callbacks.settings.callbacks.max_attempts == 5
        assert "waiting" not in service.restart_needed
    finally:
        await service.close()


async def test_a_bad_waiting_yaml_is_refused_and_the_running_rules_kept(tmp_path: Path) -> None:
    config_dir = write_config(tmp_path / "config", "queues:\n  support: {max_wait_s: 600}\n")
    service = Hotline(load_config(config_dir, environ={}), config_dir=config_dir, environ={})
    try:
        for bad in (
            "queues:\n  support: {max_wait_s: -1}\n",  # the model refuses it
            "queues:\n  nowhere: {max_wait_s: 30}\n",  # not a queue of queues.yaml
        ):
            write_config(config_dir, bad)
            assert await service.reload() is False

            assert service.acd_gateway.settings.policy("support").max_wait_s == 600
            assert service.callbacks.settings is service.acd_gateway.settings
    finally:
        await service.close()
