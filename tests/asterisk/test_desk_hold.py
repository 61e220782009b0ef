"""Hold and resume from the agent's desktop on the real Asterisk (center.call_controller:
Atxfer of the agent's leg to the hold extension of docker/asterisk/extensions.conf, then
CancelAtxfer): the caller hears music on hold, Asterisk says Hold/Unhold of the agent's leg
as for the phone's hold, and the interaction keeps the hold time. The caller or the agent
hanging up during the hold ends the call as usual, and nothing is left in Asterisk."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from acd.events import CallEnded, CallHoldChanged, CallQueued
from center.call_control import HOLD_SETTLE_S
from center.call_controller import CallControlError
from history.outcomes import Outcome

from .rig import Asterisk
from .service import running_service
from .sipp import SippAgent, SippCaller
from .test_call_control import answered_by
from .test_calls import TO_AN_AGENT, kinds, settled

pytestmark = pytest.mark.asterisk

MOH_ON = "Started music on hold, class 'default', on channel 'PJSIP/trunk-"
MOH_OFF = "Stopped music on hold on PJSIP/trunk-"


async def test_the_desktop_holds_and_resumes_and_either_side_may_hang_up_on_hold(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    """First call: hold, resume, hold again; the caller hangs up while held (the agent's
    waiting leg goes with it). Second call: hold; the agent hangs up from the desktop (the
    caller's call ends as when the agent hangs up)."""
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=120.0)
    await agent.start(pbx)
    log_from = len(pbx.log())
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001")
            control = service.hotline.call_control
            caller = SippCaller("+971501110091", sip_dir, TO_AN_AGENT, hold_s=25)
            await caller.start(pbx)
            await answered_by(pbx, service, "1001")
            moh_at = len(pbx.log())
            await control.hold("1001")
            await pbx.until(lambda: MOH_ON in pbx.log()[moh_at:], timeout_s=10)
            await pbx.until(lambda: any(c.startswith("Local/20@") for c in pbx.channels()))
            held = control.state("1001")
            with pytest.raises(CallControlError, match="already on hold"):
                await control.hold("1001")
            await asyncio.sleep(HOLD_SETTLE_S)
            await control.resume("1001")
            await pbx.until(lambda: MOH_OFF in pbx.log()[moh_at:], timeout_s=10)
            await pbx.until(lambda: not control.state("1001").on_hold, timeout_s=10)
            await pbx.until(lambda: len(pbx.channels()) == 2, timeout_s=10)  # caller, agent
            await asyncio.sleep(HOLD_SETTLE_S)
            await control.hold("1001")
            exit_code = await caller.wait(60)  # the caller hangs up on hold
            first = await settled(pbx, service)

            caller = SippCaller("+971501110092", sip_dir, TO_AN_AGENT, hold_s=60)
            await caller.start(pbx)
            await answered_by(pbx, service, "1001", count=2)
            await control.hold("1001")
            await pbx.until(lambda: len(service.events(CallHoldChanged)) == 4, timeout_s=10)
            await asyncio.sleep(HOLD_SETTLE_S)
            await control.hang_up("1001")
            second_exit = await caller.wait(60)
            interactions = await settled(pbx, service)
    finally:
        await agent.stop()
    assert (held.on_hold, held.desk_hold, held.consulting) == (True, True, None)
    assert exit_code == second_exit == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]  # the agent's hang-up
    assert kinds(agent.events()) == [
        "registered",
        "answered",
        "ended-by-asterisk",  # the caller hung up on hold: the waiting leg went too
        "answered",
        "ended-by-asterisk",
    ]
    calls = [e.call_id for e in service.events(CallQueued)]
    assert len(calls) == 2  # a hold is no segment
    assert [e.call_id for e in service.events(CallEnded)] == calls
    assert [(e.call_id, e.on_hold) for e in service.events(CallHoldChanged)] == [
        (calls[0], True),
        (calls[0], False),
        (calls[0], True),
        (calls[1], True),
    ]
    assert len(first) == 1
    assert len(interactions) == 2
    for interaction in interactions:
        assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
        hold_s = interaction["hold_s"]
        assert isinstance(hold_s, float)
        assert hold_s >= HOLD_SETTLE_S
    assert control.state("1001").desk_hold is False
    assert pbx.errors(log_from) == []
