"""Listen, whisper and barge on the real Asterisk: hotline's supervisor action (an AMI
Originate of ChanSpy to the supervisor's phone, hotline/web/supervisor/spy.py) against a
call bridged to an agent. A supervisor's phone (a SIPp phone, registered here as
another agent's endpoint) rings and answers; Asterisk runs ChanSpy on the agent's channel
with the mode's options; the customer's call goes on untouched and is recorded once."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.events import CallAnswered
from history.outcomes import Outcome
from hotline.web.supervisor.spy import SpyMode, spy

from .rig import Asterisk
from .service import running_service
from .sipp import SippAgent, SippCaller
from .test_calls import TO_AN_AGENT, kinds, settled

pytestmark = pytest.mark.asterisk

#: Each mode on its own supervisor phone (other agents' endpoints, paused in hotline), all
#: spying on the same call at once. (One phone spying in turn is not possible with silent
#: SIPp phones: with no audio on the spied channel, Asterisk 20 cannot end a ChanSpy
#: before the spied call ends, asterisk/asterisk#978; the supervisor's BYE is answered
#: 200 and the ChanSpy channel stays.)
SUPERVISORS = {SpyMode.LISTEN: "1002", SpyMode.WHISPER: "1003", SpyMode.BARGE: "1004"}
OPTIONS = {SpyMode.LISTEN: "qE", SpyMode.WHISPER: "qwE", SpyMode.BARGE: "qBE"}


def spying(pbx: Asterisk) -> dict[str, str]:
    """Channel -> application data of every channel running ChanSpy, from
    ``core show channels concise`` (channel!context!exten!prio!state!app!data!...)."""
    rows = [line.split("!") for line in pbx.channels()]
    return {row[0]: row[6] for row in rows if len(row) > 6 and row[5] == "ChanSpy"}


async def test_a_supervisor_listens_whispers_and_barges_on_a_bridged_call(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    number = "+971501110061"
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=6.0)
    # the supervisors never hang up: ChanSpy's E ends their legs with the spied call
    phones = {
        mode: SippAgent(supervisor, sip_dir, ring_s=0.2, talk_s=120.0)
        for mode, supervisor in SUPERVISORS.items()
    }
    since = len(pbx.log())
    await agent.start(pbx)
    for phone in phones.values():
        await phone.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001")
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=40)
            await caller.start(pbx)
            await pbx.until(lambda: bool(service.events(CallAnswered)), timeout_s=30)
            agent_endpoint = service.hotline.acd.distributor.agents["1001"].endpoint
            for mode, supervisor in SUPERVISORS.items():
                await spy(
                    service.hotline.ami,
                    supervisor_endpoint=f"PJSIP/agent{supervisor}",
                    agent_endpoint=agent_endpoint,
                    agent_id="1001",
                    mode=mode,
                )
            await pbx.until(lambda: len(spying(pbx)) == len(SUPERVISORS), timeout_s=10)
            seen = spying(pbx)
            exit_code = await caller.wait(30)
            interactions = await settled(pbx, service)
    finally:
        for phone in phones.values():
            await phone.stop()
        await agent.stop()
    assert agent_endpoint == "PJSIP/agent1001"
    for mode, supervisor in SUPERVISORS.items():
        (data,) = [d for c, d in seen.items() if c.startswith(f"PJSIP/agent{supervisor}-")]
        assert data == f"{agent_endpoint},{OPTIONS[mode]}"
        # the supervisor's phone rang showing the mode and the agent, and answered
        (answered,) = phones[mode].outcomes("answered")
        assert f'"{mode.value} 1001"' in answered
        # ... and Asterisk hung it up when the spied call ended (ChanSpy's E)
        assert kinds(phones[mode].events()) == ["registered", "answered", "ended-by-asterisk"]
    # Asterisk spied on the agent's channel (ChanSpy's own words), once per supervisor
    log = pbx.log()[since:]
    for supervisor in SUPERVISORS.values():
        assert f"Attaching spy channel PJSIP/agent{supervisor}-" in log
    # the customer's call went on untouched: bridged, ended by the agent, recorded once
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]
    assert kinds(agent.events()) == ["registered", "answered", "hung-up"]
    (interaction,) = interactions
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
