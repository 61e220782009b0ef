"""An agent consults a more skilled colleague on the real Asterisk (center.consult over AMI:
Atxfer of the agent's leg, then PlayDTMF Receive of the attended transfer's keys, or
CancelAtxfer): a SIPp customer is bridged to Alice (1001) by hotline's Dial; Alice consults
Bob (1002) while the caller hears music on hold; then she completes, cancels or
conferences."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from acd.agent_events import AgentState
from acd.events import CallAnswered, CallEnded, CallQueued
from center.call_controller import CallControlError
from center.consult import CONSULT_PAUSE, SETTLE_S
from history.outcomes import Outcome
from tests.telephony.ami_consult import EXPECTED, answers

from .rig import Asterisk
from .service import Service, running_service
from .sipp import SippAgent, SippCaller
from .test_call_control import answered_by, notes_on
from .test_calls import TO_AN_AGENT, kinds, settled

pytestmark = pytest.mark.asterisk


def bridge_sizes(pbx: Asterisk) -> list[int]:
    """The channel count of each bridge (``bridge show all``), largest first."""
    rows = [line.split() for line in pbx.cli("bridge show all").splitlines()[1:]]
    return sorted((int(row[-4]) for row in rows if len(row) >= 5), reverse=True)


def up(pbx: Asterisk, endpoint: str) -> bool:
    return any(c.startswith(f"{endpoint}-") and "!Up!" in c for c in pbx.channels())


def state(service: Service, agent_id: str) -> tuple[AgentState, str | None]:
    view = service.hotline.acd.distributor.book.view(agent_id)
    return view.state, view.pause_reason


async def test_a_consult_completed_leaves_the_caller_with_the_colleague_and_one_interaction(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    number = "+971501110081"
    alice = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=60.0)
    bob = SippAgent("1002", sip_dir, ring_s=0.3, talk_s=10.0)
    await alice.start(pbx)
    await bob.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001", "1002")
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=60)
            await caller.start(pbx)
            leg = await answered_by(pbx, service, "1001")
            told = await answers(service.hotline.ami, leg)
            control = service.hotline.call_control
            listed = [c.agent_id for c in control.colleagues("1001")]
            log_from = len(pbx.log())
            await control.consult("1001", "1002")
            reserved = state(service, "1002")
            await pbx.until(lambda: up(pbx, "PJSIP/agent1002"), timeout_s=15)
            held = "Started music on hold" in pbx.log()[log_from:]
            consulting = control.state("1001")
            done = await control.complete_consult("1001")
            await pbx.until(lambda: not up(pbx, "PJSIP/agent1001"), timeout_s=10)
            taken = state(service, "1002")
            exit_code = await caller.wait(60)
            interactions = await settled(pbx, service)
            notes = await notes_on(service, str(interactions[0]["idempotency_key"]))
            after = state(service, "1002")
    finally:
        await bob.stop()
        await alice.stop()
    assert told == EXPECTED  # as the emulator answers
    assert listed[0] == "1002"  # available and able to serve the call
    assert reserved == (AgentState.PAUSED, CONSULT_PAUSE)
    assert held  # the caller heard music on hold during the consult
    assert (consulting.consulting, consulting.consult_phase) == ("1002", "consulting")
    assert taken[0] is AgentState.ON_CALL
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]  # one call; Bob hung up
    assert kinds(alice.events()) == ["registered", "answered", "ended-by-asterisk"]
    assert kinds(bob.events()) == ["registered", "answered", "hung-up"]
    first, segment = service.events(CallQueued)
    assert segment.call_id == done.segment == f"{first.call_id}-t1"
    assert segment.entry_time == first.entry_time
    assert [(e.call_id, e.agent_id) for e in service.events(CallAnswered)] == [
        (first.call_id, "1001"),
        (segment.call_id, "1002"),
    ]
    assert [(e.call_id, e.agent_id) for e in service.events(CallEnded)] == [
        (first.call_id, "1001"),
        (segment.call_id, "1002"),
    ]
    (interaction,) = interactions
    assert interaction["idempotency_key"] == first.call_id
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1002")
    assert notes == [("agent:1001", "transferred to agent 1002 (consulted)")]
    assert after[1] != CONSULT_PAUSE
    assert control.consults.get(first.call_id) is None


async def test_a_consult_cancelled_or_conferenced_frees_the_colleague_after(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    """First call: Alice consults Bob and cancels (Bob's leg is hung up, Bob ready again).
    Second call: she consults him again and makes it a conference: one bridge of three
    (the caller, Alice, the transfer's Local leg to Bob); Bob leaves first and stays
    reserved until the call ends, then is ready."""
    alice = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=120.0)
    bob = SippAgent("1002", sip_dir, ring_s=0.3, talk_s=12.0)
    await alice.start(pbx)
    await bob.start(pbx)
    try:
        async with running_service(pbx, tmp_path) as service:
            service.only_agents("1001", "1002")
            control = service.hotline.call_control
            caller = SippCaller("+971501110082", sip_dir, TO_AN_AGENT, hold_s=120)
            await caller.start(pbx)
            await answered_by(pbx, service, "1001")
            await control.consult("1001", "1002")
            await pbx.until(lambda: up(pbx, "PJSIP/agent1002"), timeout_s=15)
            await control.cancel_consult("1001")
            await pbx.until(lambda: not up(pbx, "PJSIP/agent1002"), timeout_s=10)
            await pbx.until(lambda: bridge_sizes(pbx) == [2])
            cancelled = (state(service, "1002"), control.state("1001").consulting)
            with pytest.raises(CallControlError, match="coming back"):
                await control.consult("1001", "1002")  # too soon: Asterisk is not ready
            await asyncio.sleep(SETTLE_S)

            await control.consult("1001", "1002")
            await pbx.until(lambda: up(pbx, "PJSIP/agent1002"), timeout_s=15)
            await control.conference("1001")
            await pbx.until(lambda: 3 in bridge_sizes(pbx), timeout_s=10)
            conference = (state(service, "1002"), control.state("1001").consult_phase)
            # Bob hangs up first: Alice and the caller go on talking
            await pbx.until(lambda: not up(pbx, "PJSIP/agent1002"), timeout_s=20)
            alone = state(service, "1002")
            await control.hang_up("1001")
            exit_code = await caller.wait(60)
            await settled(pbx, service)
            after = state(service, "1002")
    finally:
        await bob.stop()
        await alice.stop()
    assert cancelled == ((AgentState.AVAILABLE, None), None)
    assert conference == ((AgentState.PAUSED, CONSULT_PAUSE), "conference")
    assert alone == (AgentState.PAUSED, CONSULT_PAUSE)  # not told: reserved to the end
    assert exit_code == 0
    assert after == (AgentState.AVAILABLE, None)
    assert kinds(bob.events()) == [
        "registered",
        "answered",
        "ended-by-asterisk",  # the cancel
        "answered",
        "hung-up",  # Bob left the conference
    ]
