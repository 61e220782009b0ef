"""Faults on the real Asterisk: hotline killed with callers on hold, and offers landing
while a waiting caller hears an announcement. Whatever happens, every caller ends somewhere
defined, and no AGI session or channel is left behind."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

from acd.agent_events import Ready
from acd.events import CallAnswered, CallQueued
from history.outcomes import Outcome

from .process import HotlineProcess
from .rig import Asterisk
from .service import running_service
from .sipp import SippAgent, SippCaller
from .test_calls import TO_AN_AGENT, kinds, settled

pytestmark = pytest.mark.asterisk

#: hotline with no agent logged in, and callers kept waiting in its queue all the same.
NOBODY_LOGGED_IN = {
    "waiting.login_all_agents_at_start": False,
    "waiting.defaults.join_empty": True,
    "waiting.defaults.leave_when_empty": False,
}


def queued_in_hotline(pbx: Asterisk) -> int:
    """Callers that heard hotline's "transfer" prompt (the queue's entry), from the AGI log."""
    return sum(
        1
        for line in pbx.log().splitlines()
        if "AGI Rx << STREAM FILE" in line and "/en/transfer " in line
    )


async def callers_on_hold(
    pbx: Asterisk, sip_dir: Path, numbers: list[str], *, hold_s: float = 40
) -> list[SippCaller]:
    """Callers in hotline's queue; each hangs up ``hold_s`` after its keys if still there."""
    before = queued_in_hotline(pbx)
    callers = [SippCaller(n, sip_dir, TO_AN_AGENT, hold_s=hold_s) for n in numbers]
    for caller in callers:
        await caller.start(pbx)
    await pbx.until(lambda: queued_in_hotline(pbx) - before == len(numbers), timeout_s=30)
    await asyncio.sleep(1.0)  # past the prompt: on hold
    return callers


async def test_callers_on_hold_when_hotline_is_killed_are_answered_by_the_fallback_queue(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    """kill -9: Asterisk sees the FastAGI sockets close with no HOTLINE_DONE, and the
    dialplan sends each caller to [hotline-fallback], whose Queue() rings the agents."""
    numbers = ["+971501110011", "+971501110012", "+971501110013"]
    agents = [SippAgent(a, sip_dir, ring_s=0.3, talk_s=1.0) for a in ("1001", "1002", "1003")]
    for agent in agents:
        await agent.start(pbx)
    hotline = HotlineProcess(pbx, tmp_path, NOBODY_LOGGED_IN)
    try:
        await hotline.start()
        callers = await callers_on_hold(pbx, sip_dir, numbers)
        await hotline.kill()
        exit_codes = await asyncio.gather(*(c.wait(60) for c in callers))
        await pbx.until(lambda: not pbx.channels())
    finally:
        await hotline.stop()
        for agent in agents:
            await agent.stop()
    assert exit_codes == [0, 0, 0]
    for caller in callers:
        assert caller.events() == ["answered", "ended-by-asterisk"]
    answered = [e for agent in agents for e in agent.outcomes("answered")]
    assert sorted(n for n in numbers for e in answered if n in e) == numbers
    for number in numbers:
        (cdr,) = [c for c in pbx.cdrs() if c.src == number]
        assert cdr.lastapp == "Queue"
        assert cdr.dstchannel.startswith("PJSIP/agent100")
        assert cdr.disposition == "ANSWERED"


async def test_the_calls_of_a_killed_hotline_are_closed_at_its_next_start(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    numbers = ["+971501110014", "+971501110015"]
    hotline = HotlineProcess(pbx, tmp_path, NOBODY_LOGGED_IN)
    try:
        await hotline.start()
        callers = await callers_on_hold(pbx, sip_dir, numbers, hold_s=10)
        await hotline.kill()
        for caller in callers:  # nobody answers the fallback here: they give up
            assert await caller.wait(30) == 0
        await pbx.until(lambda: not pbx.channels())
    finally:
        await hotline.stop()
    async with running_service(pbx, tmp_path, NOBODY_LOGGED_IN) as service:
        interactions = await service.interactions()
    assert len(interactions) == len(numbers)
    for interaction in interactions:
        assert interaction["ended_at"] is not None
        assert interaction["outcome"] == Outcome.FAILED


async def test_offers_landing_during_announcements_leave_no_session_or_channel_behind(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    """Position and expected-wait announcements every 2 s; agents come free at random
    moments, so offers land while an announcement plays (issue 11, defect 1)."""
    numbers = [f"+9715011100{n}" for n in range(21, 27)]
    agents = [SippAgent(a, sip_dir, ring_s=0.2, talk_s=0.5) for a in ("1001", "1004")]
    for agent in agents:
        await agent.start(pbx)
    overrides = {
        "waiting.defaults.announce": {
            "first_after_s": 0.5,
            "every_s": 2,
            "position": True,
            "expected_wait": True,
        },
        "agents.policy.wrap_up_s": 0.1,
    }
    rng = random.Random(11)
    try:
        async with running_service(pbx, tmp_path, overrides) as service:
            acd = service.hotline.acd
            service.only_agents()
            callers = await callers_on_hold(pbx, sip_dir, numbers, hold_s=25)
            for _ in numbers:
                await asyncio.sleep(rng.uniform(0.5, 2.5))
                for agent_id in ("1001", "1004"):
                    if acd.distributor.book.view(agent_id).state.value == "paused":
                        acd.agent_event(Ready(agent_id))
                        break
                await asyncio.sleep(0)
            exit_codes = await asyncio.gather(*(c.wait(90) for c in callers))
            interactions = await settled(pbx, service)
            answered = service.events(CallAnswered)
            queued = service.events(CallQueued)
    finally:
        for agent in agents:
            await agent.stop()
    assert exit_codes == [0] * len(numbers)
    for caller in callers:
        assert caller.events() == ["answered", "ended-by-asterisk"]
    assert len(queued) == len(answered) == len(numbers)
    assert sum(len(agent.outcomes("answered")) for agent in agents) == len(numbers)
    assert [i["outcome"] for i in interactions] == [Outcome.ANSWERED] * len(numbers)
    assert all(kinds(agent.events())[0] == "registered" for agent in agents)
