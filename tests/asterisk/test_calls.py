"""Calls through the real Asterisk and hotline's real service: a SIPp customer calls the
hotline over the trunk, presses keys (RFC 4733), waits in hotline's queue and is bridged to
a SIPp agent's phone; what the caller, the agent, Asterisk and the history saw must agree,
and no call may be left behind (no AGI session, no channel)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from acd.agent_events import Ready
from acd.events import CallAbandoned, CallQueued, CallRequeued
from history.outcomes import Outcome
from telephony.bots.caller import CallerBot, Press, Step, Wait
from telephony.bots.phone import Account
from tests.bots.sip_peer import free_rtp_port, free_udp_ports
from tests.e2e.stack import wait_until

from .rig import Asterisk, sip_password
from .service import Service, running_service
from .sipp import Dtmf, Pause, SippAgent, SippCaller

pytestmark = pytest.mark.asterisk

#: The shipped flow with speech off: 1 (English) while "choose-language" plays; a key
#: during the open question's recording (keys skip it to the main menu); 0 (an agent)
#: while "main-menu" plays. About 5 s from the answer to hotline's queue. (Not during the
#: recording's beep: Asterisk answers a key there "200 result=48 (randomerror)".)
#: A key pressed before the first prompt plays is dropped by Asterisk (res_agi reads and
#: discards the channel's frames between commands): on a loaded machine the service's first
#: command can come a second after the call is answered.
FIRST_KEY = Pause(1.5)
TO_AN_AGENT = (FIRST_KEY, Dtmf("1"), Pause(1.8), Dtmf("0"), Pause(1.0), Dtmf("0"))


async def settled(pbx: Asterisk, service: Service) -> list[dict[str, object]]:
    """No channel left in Asterisk, no AGI session and no call in hotline; then the records.
    (A phone that never answers a CANCEL keeps its leg up to SIP's transaction timeout,
    32 s. hotline hears the last hang-ups over AMI a moment after Asterisk drops the
    channels: on a loaded machine, after the CLI already shows none.)"""
    await pbx.until(lambda: not pbx.channels(), timeout_s=35)
    assert service.hotline.agi.active_sessions == 0
    await wait_until(lambda: not service.hotline.acd.distributor.calls(), timeout_s=10)
    return await service.interactions()


def kinds(events: list[str]) -> list[str]:
    return [event.split(" ", 1)[0] for event in events]


async def test_a_caller_pressing_keys_is_bridged_to_the_agent_and_recorded_once(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    number = "+971501110001"
    agent = SippAgent("1001", sip_dir, ring_s=0.5, talk_s=2.0)
    await agent.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001")
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=30)
            exit_code = await caller.run(pbx, timeout_s=60)
            interactions = await settled(pbx, service)
    finally:
        await agent.stop()
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]  # the agent hung up first
    assert kinds(agent.events()) == ["registered", "answered", "hung-up"]
    assert number in agent.events()[1]  # the agent saw the customer's number
    (interaction,) = interactions
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
    assert interaction["ended_at"] is not None
    (cdr,) = [c for c in pbx.cdrs() if c.src == number]
    assert cdr.uniqueid == interaction["idempotency_key"]
    assert cdr.dstchannel.startswith("PJSIP/agent1001-")
    assert (cdr.lastapp, cdr.disposition) == ("Dial", "ANSWERED")
    # the times name their events: the call starts at its arrival, talk is the agent's 2 s,
    # not the channel's age (IVR and ring: 5 s more). The CDR's start is whole seconds, and
    # hotline dates the call when its session begins, after Answer(): on a loaded machine
    # up to a second or two later, still well before the IVR's keys and the agent's ring.
    arrival = dt.datetime.fromisoformat(cdr.start)
    started = dt.datetime.fromisoformat(str(interaction["started_at"])).replace(tzinfo=None)
    assert 0.0 <= (started - arrival).total_seconds() < 3.0
    talk_s, wait_s = interaction["talk_s"], interaction["wait_s"]
    assert isinstance(talk_s, float)
    assert isinstance(wait_s, float)
    assert 1.5 < talk_s < 3.5
    assert wait_s < 3.0


async def test_a_caller_hanging_up_on_hold_is_an_abandon_and_leaves_nothing_behind(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    number = "+971501110002"
    async with running_service(pbx, tmp_path) as service:
        service.only_agents()  # logged in, nobody free: the caller waits
        caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=4)
        exit_code = await caller.run(pbx, timeout_s=60)
        interactions = await settled(pbx, service)
    assert exit_code == 0
    assert caller.events() == ["answered", "hung-up"]
    (queued,) = service.events(CallQueued)
    (abandoned,) = service.events(CallAbandoned)
    assert abandoned.call_id == queued.call_id
    (interaction,) = interactions
    assert interaction["idempotency_key"] == queued.call_id
    # abandoned_queue or abandoned_short (history/outcomes.py) by how long it waited
    assert str(interaction["outcome"]).startswith("abandoned")
    assert interaction["outcome"] != Outcome.ABANDONED_RINGING
    assert interaction["ended_at"] is not None
    (cdr,) = [c for c in pbx.cdrs() if c.src == number]
    assert cdr.dstchannel == ""  # no agent was ever rung


@pytest.mark.parametrize(
    ("behaviour", "registered"),
    [("busy", True), ("never", True), ("unreachable", False)],
)
async def test_a_call_an_agent_cannot_take_is_offered_to_another_agent(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path, behaviour: str, registered: bool
) -> None:
    """Busy (486), ringing with no answer (the ring timeout), or no phone registered: the
    call goes back to the queue and the next free agent answers it."""
    number = {"busy": "+971501110003", "never": "+971501110004"}.get(behaviour, "+971501110005")
    failing = SippAgent("1001", sip_dir, behaviour=behaviour)
    answering = SippAgent("1004", sip_dir, ring_s=0.3, talk_s=1.0)
    await answering.start(pbx)
    if registered:
        await failing.start(pbx)
    try:
        async with running_service(pbx, tmp_path, {"agents.policy.ring_timeout_s": 2}) as service:
            service.only_agents("1001")  # the one the call is offered to first
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=30)
            await caller.start(pbx)
            await pbx.until(lambda: bool(service.events(CallRequeued)), timeout_s=40)
            service.hotline.acd.agent_event(Ready("1004"))
            exit_code = await caller.wait(60)
            interactions = await settled(pbx, service)
    finally:
        await answering.stop()
        await failing.stop()
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]
    (requeued,) = service.events(CallRequeued)
    assert requeued.agent_id == "1001"
    if registered:
        assert kinds(failing.events())[1:] == [{"busy": "busy", "never": "cancelled"}[behaviour]]
    assert kinds(answering.events()) == ["registered", "answered", "hung-up"]
    (interaction,) = interactions
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1004")


@pytest.mark.parametrize("caller_id", ["2001", "c1"])
async def test_a_caller_id_that_is_not_an_e164_number_still_leaves_one_record(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path, caller_id: str
) -> None:
    """An internal extension or a SIP user calling in over the trunk: served, and recorded."""
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=1.0)
    await agent.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001")
            caller = SippCaller(caller_id, sip_dir, TO_AN_AGENT, hold_s=30)
            exit_code = await caller.run(pbx, timeout_s=60)
            interactions = await settled(pbx, service)
    finally:
        await agent.stop()
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]
    assert kinds(agent.events()) == ["registered", "answered", "hung-up"]
    (interaction,) = interactions
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
    assert interaction["ended_at"] is not None


async def test_a_caller_pressing_keys_in_band_is_bridged_to_the_agent_and_recorded_once(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    """The same journey with the keys as tones in the audio (a phone with no RFC 4733: the
    project's pyVoIP caller bot, on an endpoint where Asterisk listens for tones)."""
    agent = SippAgent("1001", sip_dir, ring_s=0.5, talk_s=2.0)
    await agent.start(pbx)
    (sip,) = free_udp_ports(1)
    rtp = free_rtp_port()
    bot = CallerBot(
        Account("127.0.0.1", "bot1", sip_password("bot1"), "127.0.0.1", sip, pbx.ports.sip,
                rtp_low=rtp, rtp_high=rtp)
    )  # fmt: skip
    keys: list[Step] = [
        Wait(0.8),
        Press("1"),
        Wait(1.8),
        Press("0"),
        Wait(1.0),
        Press("0"),
        Wait(30.0),
    ]
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001")
            outcome = await asyncio.to_thread(bot.call, "100", keys, answer_timeout_s=20.0)
            interactions = await settled(pbx, service)
    finally:
        await agent.stop()
    assert outcome.error is None
    assert outcome.answered
    assert outcome.far_end_hung_up  # hotline said goodbye after the agent
    assert kinds(agent.events()) == ["registered", "answered", "hung-up"]
    (interaction,) = interactions
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
    assert interaction["ended_at"] is not None
