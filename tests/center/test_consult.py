"""An agent consults a colleague over real sockets (the emulated Asterisk's attended
transfer: Atxfer, then PlayDTMF Receive of the complete/threeway keys, or CancelAtxfer)."""

from __future__ import annotations

import pytest

from acd.events import CallAnswered, CallEnded, CallQueued
from center.call_controller import CallControlError, CallController
from center.consult import CONSULT_PAUSE, ConsultPhase
from center.contact_times import Talked
from history.outcomes import Outcome
from tests.telephony.ami_consult import EXPECTED, answers

from .support import Agent, Rig, live_acd, wait_until

INTERNET = {"internet": 2, "experience": 1}
EXPERT = {"internet": 4, "experience": 5}
BILLING = {"billing": 2}
#: Virtual seconds: 600 is 6 s of real time, longer than any test needs a phone on a call.
LONG_TALK_S = 600.0


def control(rig: Rig) -> CallController:
    assert rig.control is not None
    return rig.control


async def on_call(rig: Rig, agent_id: str) -> str:
    await wait_until(lambda: rig.state(agent_id) == "on_call")
    view = rig.service.distributor.book.view(agent_id)
    assert view.call_id is not None
    assert view.channel is not None
    return view.call_id


def colleague_talking(rig: Rig, endpoint: str) -> bool:
    return any(
        name.startswith(endpoint + "-") and ch.up for name, ch in rig.emulator.pbx.channels.items()
    )


async def test_a_completed_consult_leaves_the_caller_with_the_colleague_in_one_interaction() -> (
    None
):
    agents = [
        Agent("1002", INTERNET, talk_s=LONG_TALK_S),
        Agent("1003", BILLING),  # cannot serve the call: not listed
        Agent("1004", EXPERT, talk_s=20.0),
        Agent("1005", INTERNET),
    ]
    async with live_acd(agents, login=["1002", "1003", "1004", "1005"]) as rig:
        rig.attributes["+441632960111"] = {"queue": "support"}
        call = await rig.place("+441632960111")
        first = await on_call(rig, "1002")
        listed = [(c.agent_id, c.level, c.available) for c in control(rig).colleagues("1002")]

        await control(rig).consult("1002", "1004")
        reserved = rig.service.distributor.book.view("1004").pause_reason
        await wait_until(lambda: colleague_talking(rig, "SIP/agent1004"))
        with pytest.raises(CallControlError, match="already under way"):
            await control(rig).consult("1002", "1005")
        with pytest.raises(CallControlError, match="complete or cancel the consult first"):
            await control(rig).hang_up("1002")
        with pytest.raises(CallControlError, match="complete or cancel the consult first"):
            await control(rig).transfer("1002", queue="support")
        done = await control(rig).complete_consult("1002")
        state_after = (rig.state("1002"), rig.state("1004"))
        result = await call.wait_done(timeout_s=10)

    segment = f"{first}-t1"
    assert listed[0][0] == "1004"  # the most skilled first (both available)
    assert [a for a, _, _ in listed] == ["1004", "1005"]
    assert reserved == CONSULT_PAUSE
    assert (done.phase, done.segment) == (ConsultPhase.COMPLETED, segment)
    assert state_after == ("wrap_up", "on_call")
    assert [d.answered_by for d in result.dials] == ["SIP/agent1002"]  # one Dial
    assert result.hung_up_by != "caller"
    assert [(e.call_id, e.agent_id) for e in rig.events(CallAnswered)] == [
        (first, "1002"),
        (segment, "1004"),
    ]
    assert [(e.call_id, e.agent_id) for e in rig.events(CallEnded)] == [
        (first, "1002"),
        (segment, "1004"),
    ]
    (queued,) = [e for e in rig.events(CallQueued) if e.call_id == segment]
    first_queued = next(e for e in rig.events(CallQueued) if e.call_id == first)
    assert queued.entry_time == first_queued.entry_time
    log = rig.interactions.log
    assert [step for step, _, _ in log] == [
        "queued",
        "answered",
        "transferred",
        "answered",
        "ended",
    ]
    assert log[2][1:] == (
        first,
        {"segment": segment, "by_agent": "1002", "target": "agent 1004 (consulted)"},
    )
    assert (log[3][1], log[3][2]["agent_id"]) == (segment, "1004")
    assert (log[4][1], log[4][2]["outcome"]) == (first, Outcome.ANSWERED)
    talked = [t.call_id for t in rig.interactions.times if isinstance(t, Talked)]
    assert talked == [first, segment]  # the colleague's talk counts
    assert control(rig).consults.get(first) is None


async def test_a_cancelled_consult_frees_the_colleague_and_the_agent_keeps_the_call() -> None:
    agents = [Agent("1002", INTERNET, talk_s=LONG_TALK_S), Agent("1004", EXPERT)]
    async with live_acd(agents) as rig:
        rig.attributes["+441632960112"] = {"queue": "support"}
        await rig.place("+441632960112")
        first = await on_call(rig, "1002")
        leg = rig.service.distributor.book.view("1002").channel
        assert leg is not None
        told = await answers(rig.ami, leg)

        await control(rig).consult("1002", "1004")
        await wait_until(lambda: colleague_talking(rig, "SIP/agent1004"))
        consulting = control(rig).state("1002")
        await control(rig).cancel_consult("1002")
        await wait_until(lambda: not colleague_talking(rig, "SIP/agent1004"))
        after = (rig.state("1002"), rig.state("1004"), control(rig).state("1002").consulting)
        with pytest.raises(CallControlError, match="no consult under way"):
            await control(rig).complete_consult("1002")
        with pytest.raises(CallControlError, match="coming back"):
            await control(rig).consult("1002", "1004")
        await control(rig).hang_up("1002", first)

    assert told == EXPECTED
    assert (consulting.consulting, consulting.consult_phase) == ("1004", "consulting")
    assert after == ("on_call", "available", None)


async def test_a_conference_keeps_the_colleague_reserved_until_the_call_ends() -> None:
    agents = [Agent("1002", INTERNET, talk_s=LONG_TALK_S), Agent("1004", EXPERT)]
    async with live_acd(agents) as rig:
        rig.attributes["+441632960113"] = {"queue": "support"}
        call = await rig.place("+441632960113")
        first = await on_call(rig, "1002")
        await control(rig).consult("1002", "1004")
        await wait_until(lambda: colleague_talking(rig, "SIP/agent1004"))
        await control(rig).conference("1002")
        during = (rig.state("1004"), control(rig).state("1002").consult_phase)
        with pytest.raises(CallControlError, match="already a conference"):
            await control(rig).complete_consult("1002")
        await control(rig).hang_up("1002", first)
        await call.wait_done(timeout_s=10)
        await wait_until(lambda: rig.state("1004") == "available")
        gone = colleague_talking(rig, "SIP/agent1004")

    assert during == ("paused", "conference")
    assert not gone  # the colleague's leg ended with the call
    assert control(rig).consults.get(first) is None


async def test_the_colleagues_phone_is_dialled_as_the_ring_dials_it_from_the_calls_asterisk() -> (
    None
):
    """The consult's dial string is the ring's choice (``center.phone_locations``), from
    the Asterisk the call is on (its uniqueid's system name)."""
    asked: list[tuple[str, str | None]] = []

    def route(endpoint: str, system: str | None = None) -> str:
        asked.append((endpoint, system))
        return endpoint

    agents = [Agent("1002", INTERNET, talk_s=LONG_TALK_S), Agent("1004", EXPERT, talk_s=20.0)]
    async with live_acd(
        agents, login=["1002", "1004"], system_name="pbx-b", phone_route=route
    ) as rig:
        rig.attributes["+441632960112"] = {"queue": "support"}
        call = await rig.place("+441632960112")
        first = await on_call(rig, "1002")
        await control(rig).consult("1002", "1004")
        await wait_until(lambda: colleague_talking(rig, "SIP/agent1004"))
        done = await control(rig).complete_consult("1002")
        await call.wait_done(timeout_s=10)

    assert first.startswith("pbx-b-")
    assert asked[:2] == [("SIP/agent1002", "pbx-b"), ("SIP/agent1004", "pbx-b")]
    assert done.segment is not None
    (answer,) = [e for e in rig.events(CallAnswered) if e.call_id == done.segment]
    assert answer.agent_id == "1004"
