"""Callers hanging up before an agent answers, on the real Asterisk: in the IVR while a
prompt plays, and while an agent's phone rings. Each is one record with the abandon it was;
the ringing phone is cancelled, and its agent is not taken for one who let it ring."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.events import AgentStateChanged, CallAbandoned, CallOffered, CallQueued, CallRequeued
from history.outcomes import Outcome
from telephony.agi_codec import EXPR_HANGUP_SOURCE

from .rig import Asterisk
from .service import running_service
from .sipp import Dtmf, Pause, SippAgent, SippCaller
from .test_calls import FIRST_KEY, TO_AN_AGENT, kinds, settled

pytestmark = pytest.mark.asterisk


def agi_commands(pbx: Asterisk, since: int) -> list[str]:
    """The AGI commands hotline sent from log offset ``since`` (``agi set debug on``)."""
    return [
        line.split("AGI Rx << ", 1)[1]
        for line in pbx.log()[since:].splitlines()
        if "AGI Rx << " in line
    ]


#: Hanging up 1.5 s into "choose-language" (several seconds long), or 1 s into
#: "main-menu" (after 1 for English and a key that skips the open question).
DURING = {
    "choose-language": ("+971501110031", (Pause(1.5),)),
    "main-menu": ("+971501110033", (FIRST_KEY, Dtmf("1"), Pause(1.8), Dtmf("0"), Pause(1.0))),
}


@pytest.mark.parametrize("prompt", list(DURING))
async def test_a_caller_hanging_up_while_a_prompt_plays_is_abandoned_in_the_ivr(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path, prompt: str
) -> None:
    number, steps = DURING[prompt]
    since = len(pbx.log())
    async with running_service(pbx, tmp_path) as service:
        service.only_agents("1001")
        caller = SippCaller(number, sip_dir, steps, hold_s=0.1)
        exit_code = await caller.run(pbx, timeout_s=30)
        interactions = await settled(pbx, service)
    assert exit_code == 0
    assert caller.events() == ["answered", "hung-up"]
    commands = agi_commands(pbx, since)
    assert commands, "hotline sent no AGI command"
    # the prompt it was hearing when it hung up, then who ended the call (the caller)
    assert prompt in commands[-2]
    assert commands[-1] == f"GET FULL VARIABLE {EXPR_HANGUP_SOURCE}"
    assert service.events(CallQueued) == []
    (interaction,) = interactions
    assert interaction["outcome"] == Outcome.ABANDONED_IVR
    assert interaction["agent"] is None
    assert interaction["ended_at"] is not None
    (cdr,) = [c for c in pbx.cdrs() if c.src == number]
    assert cdr.uniqueid == interaction["idempotency_key"]
    assert cdr.dstchannel == ""  # no agent was ever rung


#: A phone rings up to 20 s; a caller gone 1 s after joining the queue is no short abandon.
RINGING_LONG = {
    "agents.policy.ring_timeout_s": 20,
    "queues.service_level.short_abandon_s": 1,
}


async def test_a_caller_hanging_up_while_the_agent_rings_cancels_the_ring_without_penalty(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    """The phone rings (it never answers); the caller gives up 3 s after asking for an
    agent, well within the 20 s ring timeout: the INVITE is CANCELled, the outcome is
    abandoned_ringing, and the agent is not paused for ring-no-answer. (A caller gone
    within ``short_abandon_s`` of joining the queue is a short abandon even while a phone
    rings, by design: the threshold is lowered to 1 s here.)"""
    number = "+971501110032"
    agent = SippAgent("1001", sip_dir, behaviour="never")
    await agent.start(pbx)
    try:
        async with running_service(pbx, tmp_path, RINGING_LONG) as service:
            service.only_agents("1001")
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=3)
            exit_code = await caller.run(pbx, timeout_s=60)
            interactions = await settled(pbx, service)
            await pbx.until(lambda: len(agent.events()) >= 2, timeout_s=5)
            agent_state = service.hotline.acd.distributor.book.view("1001").state.value
    finally:
        await agent.stop()
    assert exit_code == 0
    assert caller.events() == ["answered", "hung-up"]
    assert kinds(agent.events()) == ["registered", "cancelled"]  # rang, then CANCEL
    assert number in agent.events()[1]
    (offered,) = service.events(CallOffered)
    assert offered.agent_id == "1001"
    (abandoned,) = service.events(CallAbandoned)
    assert (abandoned.call_id, abandoned.during_offer) == (offered.call_id, True)
    assert service.events(CallRequeued) == []
    changes = [e for e in service.events(AgentStateChanged) if e.agent_id == "1001"]
    assert "ring_no_answer" not in [e.event for e in changes]
    assert agent_state != "paused"
    (interaction,) = interactions
    assert interaction["idempotency_key"] == offered.call_id
    assert interaction["outcome"] == Outcome.ABANDONED_RINGING
    assert interaction["ended_at"] is not None
    (cdr,) = [c for c in pbx.cdrs() if c.src == number]
    assert cdr.lastapp == "Dial"
    assert cdr.dstchannel.startswith("PJSIP/agent1001-")
