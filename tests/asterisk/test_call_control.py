"""An agent's call control on the real Asterisk (center.call_controller over AMI): a SIPp
customer is bridged to a SIPp agent by hotline's Dial; the agent's desktop hangs up,
transfers the call to another queue (a second agent answers it), or mutes the agent."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from acd.agent_events import Ready
from acd.events import CallAnswered, CallEnded, CallHoldChanged, CallOffered, CallQueued
from history.outcomes import Outcome
from tests.telephony.ami_call_control import EXPECTED, answers

from .rig import Asterisk
from .service import Service, running_service
from .sipp import SippAgent, SippCaller
from .test_calls import TO_AN_AGENT, kinds, settled

pytestmark = pytest.mark.asterisk


def bridges(pbx: Asterisk) -> list[str]:
    """The technology of each bridge (``bridge show all``: id, name, channels, type,
    technology, duration)."""
    rows = [line.split() for line in pbx.cli("bridge show all").splitlines()[1:]]
    return [row[-2] for row in rows if len(row) >= 5]


async def notes_on(service: Service, call_id: str) -> list[tuple[str, str]]:
    """(author, body) of the notes on the call's interaction."""
    async with service.hotline.store.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT author, body FROM notes WHERE interaction_id = "
                "(SELECT id FROM interactions WHERE idempotency_key = :key) ORDER BY id"
            ),
            {"key": call_id},
        )
        return [(row.author, row.body) for row in rows]


async def answered_by(pbx: Asterisk, service: Service, agent_id: str, count: int = 1) -> str:
    """Wait for the ``count``-th answer (by ``agent_id``); the agent's leg."""
    await pbx.until(lambda: len(service.events(CallAnswered)) >= count, timeout_s=40)
    assert service.events(CallAnswered)[count - 1].agent_id == agent_id
    view = service.hotline.acd.distributor.book.view(agent_id)
    assert view.channel is not None
    return view.channel


async def test_the_agents_desktop_hangs_up_the_call(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    number = "+971501110071"
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=30.0)
    await agent.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001")
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=40)
            await caller.start(pbx)
            leg = await answered_by(pbx, service, "1001")
            await service.hotline.call_control.hang_up("1001")
            exit_code = await caller.wait(30)
            interactions = await settled(pbx, service)
    finally:
        await agent.stop()
    assert leg.startswith("PJSIP/agent1001-")
    assert exit_code == 0
    # Asterisk sent the agent's phone a BYE; the caller heard the last words and a BYE
    assert kinds(agent.events()) == ["registered", "answered", "ended-by-asterisk"]
    assert caller.events() == ["answered", "ended-by-asterisk"]
    (interaction,) = interactions
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
    (ended,) = service.events(CallEnded)
    assert ended.agent_id == "1001"


async def test_a_blind_transfer_to_a_queue_is_answered_by_its_agent_and_recorded_once(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    """Alice (1001, support) transfers the caller to billing; Bob (1002, billing) answers.
    Asterisk's Dial returns to hotline's AGI session with the caller still up when the
    agent's leg is hung up, and the same session dials Bob."""
    number = "+971501110072"
    alice = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=30.0)
    bob = SippAgent("1002", sip_dir, ring_s=0.3, talk_s=2.0)
    await alice.start(pbx)
    await bob.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001")
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=60)
            await caller.start(pbx)
            await answered_by(pbx, service, "1001")
            # Bob is free; the router kept him for billing
            service.hotline.acd.agent_event(Ready("1002"))
            await service.hotline.call_control.transfer("1001", queue="billing")
            await answered_by(pbx, service, "1002", count=2)
            exit_code = await caller.wait(40)
            interactions = await settled(pbx, service)
            notes = await notes_on(service, str(interactions[0]["idempotency_key"]))
    finally:
        await bob.stop()
        await alice.stop()
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]  # one call, Bob hung up
    assert kinds(alice.events()) == ["registered", "answered", "ended-by-asterisk"]
    assert kinds(bob.events()) == ["registered", "answered", "hung-up"]
    assert number in bob.events()[1]  # Bob's phone showed the customer's number
    first, segment = service.events(CallQueued)
    assert segment.call_id == f"{first.call_id}-t1"
    assert (first.queue, segment.queue) == ("support", "billing")
    assert segment.entry_time == first.entry_time  # the caller's place is kept
    assert segment.priority == first.priority
    assert [(e.call_id, e.agent_id) for e in service.events(CallEnded)] == [
        (first.call_id, "1001"),
        (segment.call_id, "1002"),
    ]
    (interaction,) = interactions  # one call, one interaction, one outcome
    assert interaction["idempotency_key"] == first.call_id
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1002")
    assert interaction["queue"] == "billing"
    assert interaction["talk_s"] is not None
    assert notes == [("agent:1001", "transferred to queue billing")]
    dials = [c for c in pbx.cdrs() if c.src == number and c.lastapp == "Dial"]
    assert sorted(c.dstchannel.split("-")[0] for c in dials) == [
        "PJSIP/agent1001",
        "PJSIP/agent1002",
    ]


async def test_mute_takes_the_agents_leg_out_of_the_native_bridge_until_unmuted(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    """MUTEAUDIO(in) puts a frame hook on the agent's leg: Asterisk moves the call from the
    native RTP bridge (media relayed without frames) to the simple bridge, where the hook
    drops what the agent says; unmuted, it goes back. The actions answer as the emulator's.
    (Dial without option ``t``: the transfer feature's DTMF hooks alone keep a call out of
    the native bridge, center.consult.)"""
    number = "+971501110073"
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=30.0)
    await agent.start(pbx)
    try:
        async with running_service(
            pbx, tmp_path, {"waiting.dial_options": "g", "waiting.consult": False}
        ) as service:
            service.only_agents("1001")
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=40)
            await caller.start(pbx)
            leg = await answered_by(pbx, service, "1001")
            control = service.hotline.call_control
            await pbx.until(lambda: bridges(pbx) == ["native_rtp"])
            await control.mute("1001", on=True)
            await pbx.until(lambda: bridges(pbx) == ["simple_bridge"])
            assert control.state("1001").muted
            await control.mute("1001", on=False)
            await pbx.until(lambda: bridges(pbx) == ["native_rtp"])
            told = await answers(service.hotline.ami, leg)
            await control.hang_up("1001")
            exit_code = await caller.wait(30)
            await settled(pbx, service)
    finally:
        await agent.stop()
    assert told == EXPECTED
    assert exit_code == 0
    assert kinds(agent.events()) == ["registered", "answered", "ended-by-asterisk"]


async def test_the_agents_phone_holds_and_resumes_and_the_desktop_and_history_see_it(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    """Hold is the phone's (no AMI action holds a call in Asterisk 20): the agent's phone
    re-INVITEs with a=sendonly, Asterisk plays the caller music on hold and says ``Hold``;
    the desktop's call shows on hold with its timer, the ACD logs the hold; the re-INVITE
    with a=sendrecv resumes it (``Unhold``), and the interaction keeps the hold's length."""
    number = "+971501110074"
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=30.0, hold=(1.0, 2.0))
    await agent.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001")
            acd, control = service.hotline.acd, service.hotline.call_control
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=40)
            await caller.start(pbx)
            await answered_by(pbx, service, "1001")
            await pbx.until(lambda: control.state("1001").on_hold, timeout_s=10)
            assert kinds(agent.events())[-1] == "held"
            call_id = control.state("1001").call_id
            assert acd.agent_day.hold("1001", call_id, acd.now()).current_s is not None
            await pbx.until(lambda: not control.state("1001").on_hold, timeout_s=10)
            held = acd.agent_day.hold("1001", call_id, acd.now())
            await pbx.until(lambda: "resumed" in kinds(agent.events()))
            await control.hang_up("1001")
            exit_code = await caller.wait(30)
            interactions = await settled(pbx, service)
    finally:
        await agent.stop()
    assert exit_code == 0
    assert kinds(agent.events()) == [
        "registered",
        "answered",
        "held",
        "resumed",
        "ended-by-asterisk",
    ]
    assert [e.on_hold for e in service.events(CallHoldChanged)] == [True, False]
    assert held.current_s is None
    assert 1.0 <= held.total_s < 10.0
    (interaction,) = interactions
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
    hold_s = interaction["hold_s"]
    assert isinstance(hold_s, float)
    assert 1.0 <= hold_s < 10.0


async def test_a_blind_transfer_to_a_named_colleague_rings_them_alone_and_keeps_one_call(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    """Alice (1001) transfers the caller to Bob (1002) by name: the call's next segment is
    directed to Bob alone (Dave, free and as skilled, is not rung), keeps its place and
    priority; Bob answers; one interaction, Bob its agent, with Alice's note."""
    number = "+971501110075"
    alice = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=30.0)
    bob = SippAgent("1002", sip_dir, ring_s=0.3, talk_s=2.0)
    dave = SippAgent("1004", sip_dir, ring_s=0.3, talk_s=2.0)
    for phone in (alice, bob, dave):
        await phone.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001")
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=60)
            await caller.start(pbx)
            await answered_by(pbx, service, "1001")
            acd = service.hotline.acd
            acd.agent_event(Ready("1004"))  # free, in support: the router would pick him
            acd.agent_event(Ready("1002"))
            await service.hotline.call_control.transfer("1001", agent="1002")
            await answered_by(pbx, service, "1002", count=2)
            exit_code = await caller.wait(40)
            interactions = await settled(pbx, service)
            notes = await notes_on(service, str(interactions[0]["idempotency_key"]))
    finally:
        for phone in (dave, bob, alice):
            await phone.stop()
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]
    assert kinds(alice.events()) == ["registered", "answered", "ended-by-asterisk"]
    assert kinds(bob.events()) == ["registered", "answered", "hung-up"]
    assert kinds(dave.events()) == ["registered"]  # never rung
    first, segment = service.events(CallQueued)
    assert segment.call_id == f"{first.call_id}-t1"
    assert segment.queue == first.queue == "support"
    assert (segment.entry_time, segment.priority) == (first.entry_time, first.priority)
    assert [e.agent_id for e in service.events(CallOffered)] == ["1001", "1002"]
    (interaction,) = interactions
    assert interaction["idempotency_key"] == first.call_id
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1002")
    assert notes == [("agent:1001", "transferred to agent 1002")]
