"""An agent's call control over real sockets (the emulated Asterisk): hang up, blind
transfer to a queue or to a colleague, mute, and the hold state their phone reports."""

from __future__ import annotations

import asyncio

import pytest

from acd.agent_events import Login, Ready
from acd.events import CallEnded, CallHoldChanged, CallOffered, CallQueued
from center.call_control import HOLD_SETTLE_S
from center.call_controller import CallControlError, CallController
from center.contact_times import Talked
from history.outcomes import Outcome
from tests.telephony.ami_call_control import EXPECTED, answers

from .support import Agent, Rig, live_acd, wait_until

INTERNET = {"internet": 2, "experience": 1}
BILLING = {"billing": 2}
#: Virtual seconds: 600 is 6 s of real time, longer than any test needs the agent on a call.
LONG_TALK_S = 600.0


def control(rig: Rig) -> CallController:
    assert rig.control is not None
    return rig.control


async def on_call(rig: Rig, agent_id: str) -> str:
    """Wait until ``agent_id`` talks (AMI told the answer and the leg); their call id."""
    await wait_until(lambda: rig.state(agent_id) == "on_call")
    view = rig.service.distributor.book.view(agent_id)
    assert view.call_id is not None
    assert view.channel is not None
    return view.call_id


async def test_a_blind_transfer_to_a_queue_reaches_the_next_agent_with_place_and_priority() -> None:
    agents = [Agent("1002", INTERNET, talk_s=LONG_TALK_S), Agent("1001", BILLING)]
    async with live_acd(agents) as rig:
        rig.attributes["+441632960101"] = {"queue": "support", "intent": "complaint"}
        call = await rig.place("+441632960101")
        first = await on_call(rig, "1002")

        transfer = await control(rig).transfer("1002", queue="billing", call_id=first)
        assert control(rig).state("1002").transferring == "queue billing"
        result = await call.wait_done(timeout_s=10)

    segment = f"{first}-t1"
    assert transfer.call_id == first
    assert [(d.status, d.answered_by) for d in result.dials] == [
        ("ANSWER", "SIP/agent1002"),
        ("ANSWER", "SIP/agent1001"),
    ]
    assert result.hung_up_by != "caller"
    # the ACD: the first agent's call ended, the segment was queued in billing with the
    # call's first entry time and the same priority, and the billing agent answered it
    queued = {e.call_id: e for e in rig.events(CallQueued)}
    assert queued.keys() == {first, segment}
    assert queued[segment].queue == "billing"
    assert queued[segment].entry_time == queued[first].entry_time
    assert queued[segment].priority == queued[first].priority
    assert [(e.call_id, e.agent_id) for e in rig.events(CallEnded)] == [
        (first, "1002"),
        (segment, "1001"),
    ]
    # the history: one interaction, told of both agents, the transfer, one outcome
    log = rig.interactions.log
    assert [step for step, _, _ in log] == [
        "queued",
        "answered",
        "transferred",
        "moved",
        "answered",
        "ended",
    ]
    assert log[1][1:] == (first, {"agent_id": "1002", "wait_s": log[1][2]["wait_s"]})
    assert log[2][1:] == (
        first,
        {"segment": segment, "by_agent": "1002", "target": "queue billing"},
    )
    assert log[3][1:] == (first, {"queue": "billing"})
    assert (log[4][1], log[4][2]["agent_id"]) == (segment, "1001")
    assert (log[5][1], log[5][2]["outcome"]) == (first, Outcome.ANSWERED)
    talked = [t.call_id for t in rig.interactions.times if isinstance(t, Talked)]
    assert talked == [first, segment]


async def test_a_transfer_to_a_colleague_is_offered_to_them_whatever_their_skills() -> None:
    """1003 has no internet skill: the router would never offer them a support call, and
    1004 (qualified, free) would take it. Directed to 1003, it waits for 1003 only."""
    agents = [
        Agent("1002", INTERNET, talk_s=LONG_TALK_S),
        Agent("1003", BILLING),
        Agent("1004", INTERNET),
    ]
    async with live_acd(agents, login=["1002", "1004"]) as rig:
        rig.attributes["+441632960102"] = {"queue": "support"}
        call = await rig.place("+441632960102")
        first = await on_call(rig, "1002")
        rig.service.agent_event(Login("1003", paused_reason="lunch"))

        await control(rig).transfer("1002", agent="1003")
        await wait_until(lambda: any(e.call_id == f"{first}-t1" for e in rig.events(CallQueued)))
        assert rig.state("1004") == "available"  # free, qualified, and not offered the call
        rig.service.agent_event(Ready("1003"))
        result = await call.wait_done(timeout_s=10)

    assert [d.answered_by for d in result.dials] == ["SIP/agent1002", "SIP/agent1003"]
    offers = [(e.call_id, e.agent_id) for e in rig.events(CallOffered)]
    assert offers == [(first, "1002"), (f"{first}-t1", "1003")]
    (queued,) = [e for e in rig.events(CallQueued) if e.call_id == f"{first}-t1"]
    assert queued.queue == "support"  # a colleague's transfer stays in the call's queue


async def test_the_agent_hangs_up_by_the_desktop_and_the_caller_hears_goodbye() -> None:
    async with live_acd([Agent("1002", INTERNET, talk_s=LONG_TALK_S)]) as rig:
        rig.attributes["+441632960103"] = {"queue": "support"}
        call = await rig.place("+441632960103")
        first = await on_call(rig, "1002")

        await control(rig).hang_up("1002", first)
        result = await call.wait_done(timeout_s=10)

        assert [d.status for d in result.dials] == ["ANSWER"]
        assert any("STREAM FILE vm-goodbye" in c for c in result.commands)
        assert rig.state("1002") == "wrap_up"
        assert [e.call_id for e in rig.events(CallEnded)] == [first]
        (ended,) = [d for step, _, d in rig.interactions.log if step == "ended"]
        assert ended["outcome"] == Outcome.ANSWERED
        with pytest.raises(CallControlError, match="not on a call"):
            await control(rig).hang_up("1002")


async def test_mute_suppresses_what_the_agent_says_until_unmuted() -> None:
    async with live_acd([Agent("1002", INTERNET, talk_s=LONG_TALK_S)]) as rig:
        rig.attributes["+441632960104"] = {"queue": "support"}
        call = await rig.place("+441632960104")
        await on_call(rig, "1002")
        leg = rig.emulator.pbx.find(rig.service.distributor.book.view("1002").channel or "")
        assert leg is not None

        await control(rig).mute("1002", on=True)
        assert leg.muted == {"in"}  # MUTEAUDIO(in) on the agent's leg
        assert control(rig).state("1002").muted
        await control(rig).mute("1002", on=False)
        assert leg.muted == set()
        assert not control(rig).state("1002").muted

        await control(rig).hang_up("1002")
        await call.wait_done(timeout_s=10)
        assert control(rig).state("1002").call_id is None


async def test_the_phones_hold_is_the_calls_hold_time() -> None:
    async with live_acd([Agent("1002", INTERNET, talk_s=LONG_TALK_S)]) as rig:
        rig.attributes["+441632960105"] = {"queue": "support"}
        call = await rig.place("+441632960105")
        first = await on_call(rig, "1002")

        assert rig.emulator.phone_hold("SIP/agent1002", True)
        await wait_until(lambda: control(rig).state("1002").on_hold)
        assert rig.emulator.phone_hold("SIP/agent1002", False)
        await wait_until(lambda: not control(rig).state("1002").on_hold)
        await control(rig).hang_up("1002")
        await call.wait_done(timeout_s=10)

    held = [(e.call_id, e.on_hold) for e in rig.events(CallHoldChanged)]
    assert held == [(first, True), (first, False)]
    (talked,) = [t for t in rig.interactions.times if isinstance(t, Talked)]
    at = [r.at for r in rig.records() if isinstance(r.event, CallHoldChanged)]
    assert talked.hold_s == pytest.approx(at[1] - at[0])
    assert talked.hold_s > 0


async def test_the_desktop_holds_and_resumes_and_the_hold_time_is_the_phones() -> None:
    """Hold from the desktop (Atxfer to the hold extension): Asterisk says Hold of the
    agent's leg, as for the phone's hold; Resume (CancelAtxfer) says Unhold. Neither a
    transfer nor a consult: one segment, one interaction with its hold time."""
    async with live_acd([Agent("1002", INTERNET, talk_s=LONG_TALK_S)]) as rig:
        rig.attributes["+441632960107"] = {"queue": "support"}
        call = await rig.place("+441632960107")
        first = await on_call(rig, "1002")

        with pytest.raises(CallControlError, match="not on hold"):
            await control(rig).resume("1002")
        await control(rig).hold("1002", first)
        await wait_until(lambda: rig.events(CallHoldChanged) != [])
        held = control(rig).state("1002")
        with pytest.raises(CallControlError, match="already on hold"):
            await control(rig).hold("1002")
        with pytest.raises(CallControlError, match="resume it first"):
            await control(rig).consult("1002", "1004")
        with pytest.raises(CallControlError, match="resume it first"):
            await control(rig).transfer("1002", queue="billing")
        with pytest.raises(CallControlError, match="going on hold"):
            await control(rig).resume("1002")  # Asterisk needs a moment
        await asyncio.sleep(HOLD_SETTLE_S)
        await control(rig).resume("1002")
        await wait_until(lambda: not control(rig).state("1002").on_hold)
        await control(rig).hang_up("1002")
        await call.wait_done(timeout_s=10)

    assert (held.on_hold, held.desk_hold, held.consulting, held.transferring) == (
        True,
        True,
        None,
        None,
    )
    assert [(e.call_id, e.on_hold) for e in rig.events(CallHoldChanged)] == [
        (first, True),
        (first, False),
    ]
    assert [e.call_id for e in rig.events(CallQueued)] == [first]  # no segment
    (talked,) = [t for t in rig.interactions.times if isinstance(t, Talked)]
    assert talked.hold_s > 0


async def test_the_caller_hanging_up_on_hold_ends_the_call_and_the_agents_leg() -> None:
    async with live_acd([Agent("1002", INTERNET, talk_s=LONG_TALK_S)]) as rig:
        rig.attributes["+441632960108"] = {"queue": "support"}
        call = await rig.place("+441632960108")
        first = await on_call(rig, "1002")
        await control(rig).hold("1002")
        await wait_until(lambda: control(rig).state("1002").on_hold)
        call.hang_up()
        await wait_until(lambda: rig.events(CallEnded) != [])
        await wait_until(lambda: not rig.emulator.pbx.channels)

    assert [e.call_id for e in rig.events(CallEnded)] == [first]
    assert control(rig).state("1002").desk_hold is False
    (talked,) = [t for t in rig.interactions.times if isinstance(t, Talked)]
    assert talked.hold_s > 0


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ({"queue": "nowhere"}, "no queue 'nowhere'"),
        ({"agent": "1002"}, "its own agent"),
        ({"agent": "9999"}, "no agent '9999'"),
        ({"agent": "1001"}, "not logged in"),
        ({}, "name a queue or an agent"),
        ({"queue": "billing", "call_id": "another"}, "not on call another"),
    ],
)
async def test_a_transfer_that_cannot_be_made_is_refused_and_the_call_goes_on(
    target: dict[str, str], reason: str
) -> None:
    agents = [Agent("1002", INTERNET, talk_s=LONG_TALK_S), Agent("1001", BILLING)]
    async with live_acd(agents, login=["1002"]) as rig:
        rig.attributes["+441632960106"] = {"queue": "support"}
        call = await rig.place("+441632960106")
        first = await on_call(rig, "1002")

        with pytest.raises(CallControlError, match=reason):
            await control(rig).transfer("1002", **target)
        assert rig.state("1002") == "on_call"
        assert first not in control(rig).transfers
        await control(rig).hang_up("1002")
        result = await call.wait_done(timeout_s=10)
    assert [d.answered_by for d in result.dials] == ["SIP/agent1002"]
    assert not [e for e in rig.events(CallQueued) if e.call_id != first]


async def test_the_emulator_answers_the_call_control_actions_as_asterisk_does() -> None:
    """The same scenario as tests/asterisk/test_call_control.py, on a live agent leg."""
    async with live_acd([Agent("1002", INTERNET, talk_s=LONG_TALK_S)]) as rig:
        rig.attributes["+441632960107"] = {"queue": "support"}
        call = await rig.place("+441632960107")
        await on_call(rig, "1002")
        leg = rig.service.distributor.book.view("1002").channel or ""

        assert await answers(rig.ami, leg) == EXPECTED

        await control(rig).hang_up("1002")
        await call.wait_done(timeout_s=10)


async def test_a_blind_transfer_to_a_colleague_rings_them_as_the_calls_asterisk_reaches_them() -> (
    None
):
    """The caller's session rings the colleague as it rang the agent: the route from the
    call's own Asterisk (a phone on a peer: through the trunk)."""
    asked: list[tuple[str, str | None]] = []

    def route(endpoint: str, system: str | None = None) -> str:
        asked.append((endpoint, system))
        return endpoint

    agents = [Agent("1002", INTERNET, talk_s=LONG_TALK_S), Agent("1003", INTERNET)]
    async with live_acd(agents, login=["1002"], system_name="pbx-c", phone_route=route) as rig:
        rig.attributes["+441632960113"] = {"queue": "support"}
        call = await rig.place("+441632960113")
        await on_call(rig, "1002")
        rig.service.agent_event(Login("1003"))
        await control(rig).transfer("1002", agent="1003")
        result = await call.wait_done(timeout_s=10)

    assert [d.answered_by for d in result.dials] == ["SIP/agent1002", "SIP/agent1003"]
    assert asked == [("SIP/agent1002", "pbx-c"), ("SIP/agent1003", "pbx-c")]
