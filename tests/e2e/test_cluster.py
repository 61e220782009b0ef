"""Two hotline services, each with its own Asterisk, sharing one ACD through Redis: the real
composition root (``hotline.yaml`` ``cluster:``), calls from both Asterisks through the IVR to
agents, each agent on one call at a time, both services' ACDs telling the same story."""

from __future__ import annotations

import asyncio
import base64
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path

import pytest

from acd.events import CallAnswered, CallOffered
from hotline.config_models import ClusterConfig
from telephony.emulator import Caller
from tests.cluster.rig import REDIS, Cable, RedisServer

from .stack import TIME_SCALE, Stack, agent_phones, running_stack, wait_until

TO_AN_AGENT = "10"
#: Both services' keys: the same, as a deployment's nodes share them (they sign the log).
KEYS = base64.urlsafe_b64encode(bytes(range(32))).decode()


def node(tmp_path: Path, name: str, redis_url: str) -> AbstractAsyncContextManager[Stack]:
    """One node: its Asterisk (emulated, uniqueids prefixed with its system name) and its
    hotline service in cluster mode. Each keeps its own SQLite history here (a deployment
    shares PostgreSQL: config validation requires it; this test is about the ACD)."""
    directory = tmp_path / name
    directory.mkdir()
    shared = ClusterConfig(redis_url=redis_url, node_id=name, lease_s=0.6)
    return running_stack(
        directory,
        phones=lambda config: agent_phones(config, talk_s=20.0),
        adjust=lambda config: config.model_copy(update={"cluster": shared}),
        system_name=f"pbx-{name}",
        environ={"HOTLINE_SECRET_KEYS": KEYS},
    )


async def test_two_services_with_their_own_asterisks_share_the_agents(tmp_path: Path) -> None:
    if REDIS is None:
        pytest.skip("redis-server is not installed: run scripts/system-deps.sh")
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        async with AsyncExitStack() as nodes:
            a = await nodes.enter_async_context(node(tmp_path, "a", redis.url))
            b = await nodes.enter_async_context(node(tmp_path, "b", redis.url))
            assert a.service.node is not None
            assert b.service.node is not None
            shared_a, shared_b = a.service.node.cluster, b.service.node.cluster
            await wait_until(lambda: shared_a.caught_up and shared_b.caught_up)
            callers = [
                await stack.place(
                    Caller(number=f"+97150111{i:04d}", dtmf=TO_AN_AGENT, barge_in=False)
                )
                for i, stack in enumerate((a, b, a, b, a, b))
            ]
            results = await asyncio.gather(*(c.wait_done(60) for c in callers))
            await wait_until(lambda: shared_a.position == shared_b.position)
    finally:
        redis.stop()

    assert all(not r.fallback_used for r in results)
    answered = [r for r in results if any(d.status == "ANSWER" for d in r.dials)]
    assert len(answered) == len(results)
    # one decision, told alike on both services
    offers_a = [(e.call_id, e.agent_id) for e in a.events(CallOffered)]
    offers_b = [(e.call_id, e.agent_id) for e in b.events(CallOffered)]
    assert offers_a == offers_b
    assert {e.call_id for e in a.events(CallAnswered)} == {r.uniqueid for r in results}
    assert {r.uniqueid.split("-", 2)[1] for r in results} == {"a", "b"}  # both Asterisks


async def test_a_caller_waits_as_usual_and_leaves_at_once_while_the_shared_log_is_out_of_reach(
    tmp_path: Path,
) -> None:
    """The node loses Redis just before a call queues: its arrival never comes back from the
    log, so no offer ever comes. The caller still hears hold slices and announcements, and
    when they hang up the session ends within seconds (nothing waits on the log)."""
    if REDIS is None:
        pytest.skip("redis-server is not installed: run scripts/system-deps.sh")
    redis = RedisServer(tmp_path)
    redis.start()
    cable = Cable(redis.port)
    await cable.start()
    shared = ClusterConfig(redis_url=cable.url, node_id="a", lease_s=0.6)
    try:
        async with running_stack(
            tmp_path,
            adjust=lambda config: config.model_copy(update={"cluster": shared}),
            overrides={
                "waiting.defaults.announce": {"first_after_s": 1.5, "every_s": 2.0},
                "waiting.poll_s": 0.5,
            },
            system_name="pbx-a",
            environ={"HOTLINE_SECRET_KEYS": KEYS},
        ) as a:
            assert a.service.node is not None
            cluster = a.service.node.cluster
            await wait_until(lambda: cluster.caught_up)
            cable.cut()
            # virtual seconds (the emulator's time scale): the IVR, then about 5 s on hold
            call = await a.place(
                Caller(number="+971501110999", dtmf=TO_AN_AGENT, barge_in=False,
                       hangup_after_s=10 / TIME_SCALE)
            )  # fmt: skip
            result = await call.wait_done(60)
            await wait_until(lambda: a.service.agi.active_sessions == 0, timeout_s=5)
            assert cluster.problem() is not None  # the log was out of reach throughout
            assert not cluster.caught_up
    finally:
        await cable.close()
        redis.stop()
    assert not result.dials
    slices = [c for c in result.commands if c.startswith("WAIT FOR DIGIT")]
    assert len(slices) >= 4
    # the announcements: the callback offer (position and wait are not told: the shared
    # ACD never had the call)
    said = [c for c in result.commands if c.startswith("STREAM FILE") and "callback-offer" in c]
    assert len(said) >= 2  # the first announcement and the next
