"""Offers over real sockets: the caller's session dials the agent the router chose."""

from __future__ import annotations

import asyncio

import pytest

from acd.agent_events import Login, Ready
from acd.events import (
    AgentStateChanged,
    CallAbandoned,
    CallAnswered,
    CallEnded,
    CallOffered,
    CallQueued,
    CallRequeued,
)
from center.contact_times import Talked

from .support import Agent, live_acd, wait_until

INTERNET = {"internet": 2, "experience": 1}


async def test_a_queued_call_is_bridged_to_the_skilled_agent_who_then_wraps_up() -> None:
    agents = [Agent("1001", {"billing": 2}), Agent("1002", INTERNET)]
    async with live_acd(agents) as rig:
        rig.attributes["+441632960001"] = {"queue": "support"}
        result = await rig.call("+441632960001")

        assert [d.status for d in result.dials] == ["ANSWER"]
        assert result.dials[0].answered_by == "SIP/agent1002"
        assert rig.state("1002") == "wrap_up"
        answered = rig.events(CallAnswered)
        assert [(e.call_id, e.agent_id) for e in answered] == [(result.uniqueid, "1002")]
        assert [e.call_id for e in rig.events(CallEnded)] == [result.uniqueid]
        await wait_until(lambda: rig.state("1002") == "available")
        assert rig.state("1001") == "available"
        assert any("STREAM FILE vm-goodbye" in c for c in result.commands)  # agent hung up first
        steps = [(step, details) for step, call_id, details in rig.interactions.log]
        assert [step for step, _ in steps] == ["queued", "answered", "ended"]
        assert steps[1][1]["agent_id"] == "1002"
        assert steps[2][1]["outcome"] == "answered"
        assert steps[2][1]["wait_s"] is None  # the ACD told it when the agent answered
        assert steps[1][1]["wait_s"] >= 0
        [talked] = [t for t in rig.interactions.times if isinstance(t, Talked)]
        # from the ACD's answer to the call's end: the agent's 5 virtual seconds (50 ms),
        # not ANSWEREDTIME (the caller channel's up-time)
        at = {type(r.event): r.at for r in rig.records()}
        assert talked.talk_s == pytest.approx(at[CallEnded] - at[CallAnswered])
        assert 0.04 <= talked.talk_s < 1.0


async def test_the_answer_is_known_from_ami_while_the_agent_talks() -> None:
    async with live_acd([Agent("1002", INTERNET, talk_s=30)]) as rig:
        rig.attributes["+441632960002"] = {"queue": "support"}
        call = await rig.place("+441632960002")
        await wait_until(lambda: rig.state("1002") == "on_call")
        # the agent leg, for the watchdog
        assert rig.service.distributor.book.view("1002").channel is not None
        result = await call.wait_done(timeout_s=5)
        assert result.dials[0].answered_by == "SIP/agent1002"
        assert rig.state("1002") == "wrap_up"


async def test_the_higher_priority_call_is_answered_first_by_the_one_agent() -> None:
    async with live_acd([Agent("1002", INTERNET, talk_s=2)], login=[]) as rig:
        rig.service.agent_event(Login("1002", paused_reason="meeting"))
        rig.attributes["+441632960010"] = {"queue": "support", "intent": "setup_help"}
        rig.attributes["+441632960011"] = {
            "queue": "support",
            "intent": "complaint",
            "tier": "key_account",
        }
        low = await rig.place("+441632960010")
        await wait_until(lambda: len(rig.events(CallQueued)) == 1)
        high = await rig.place("+441632960011")
        await wait_until(lambda: len(rig.events(CallQueued)) == 2)

        rig.service.agent_event(Ready("1002"))
        high_result, low_result = await asyncio.gather(
            high.wait_done(timeout_s=5), low.wait_done(timeout_s=5)
        )

        offered = [e.call_id for e in rig.events(CallOffered)]
        assert offered == [high_result.uniqueid, low_result.uniqueid]
        assert high_result.dials[0].answered_by == low_result.dials[0].answered_by
        assert rig.service.recent_offers[0].explanation.startswith(
            f"call {high_result.uniqueid} waited"
        )


async def test_a_repeat_caller_gets_the_senior_agent() -> None:
    junior = Agent("1001", {"internet": 3, "experience": 1})
    senior = Agent("1002", {"internet": 2, "experience": 4})
    async with live_acd([junior, senior]) as rig:  # the junior is longest idle: logged in first
        rig.attributes["+441632960020"] = {"queue": "support"}
        rig.attributes["+441632960021"] = {"queue": "support", "days_since_last_contact": 2.0}
        first = await rig.call("+441632960020")
        await wait_until(lambda: rig.state("1001") == "available")
        repeat = await rig.call("+441632960021")

        assert first.dials[0].answered_by == "SIP/agent1001"
        assert repeat.dials[0].answered_by == "SIP/agent1002"
        assert "rule repeat caller to a senior" in rig.service.recent_offers[-1].explanation


async def test_ring_no_answer_pauses_the_agent_and_the_next_one_gets_the_call_in_its_place() -> (
    None
):
    sleepy = Agent("1001", INTERNET, behaviour="noanswer")
    awake = Agent("1002", INTERNET)
    async with live_acd([sleepy, awake]) as rig:
        rig.attributes["+441632960030"] = {"queue": "support"}
        result = await rig.call("+441632960030")

        assert [(d.status, d.answered_by) for d in result.dials] == [
            ("NOANSWER", None),
            ("ANSWER", "SIP/agent1002"),
        ]
        sleepy_view = rig.service.distributor.book.view("1001")
        assert (sleepy_view.state.value, sleepy_view.pause_reason) == ("paused", "no answer")
        assert sleepy_view.rona_count == 1
        requeued = rig.events(CallRequeued)
        assert [(e.agent_id, e.reason) for e in requeued] == [
            ("1001", "ring no answer; paused: no answer")
        ]
        first, second = rig.service.recent_offers
        assert (first.agent_id, second.agent_id) == ("1001", "1002")
        assert first.entry_time == second.entry_time  # its place in line is kept


async def test_a_busy_phone_rests_its_agent_and_the_call_goes_to_the_next_one() -> None:
    async with live_acd(
        [Agent("1001", INTERNET, behaviour="busy"), Agent("1002", INTERNET)]
    ) as rig:
        rig.attributes["+441632960040"] = {"queue": "support"}
        result = await rig.call("+441632960040")

        assert [d.status for d in result.dials] == ["BUSY", "ANSWER"]
        assert result.dials[1].answered_by == "SIP/agent1002"
        assert rig.service.distributor.book.view("1001").pause_reason == "rest after busy"
        await wait_until(lambda: rig.state("1001") == "available")  # the rest is short


async def test_an_unreachable_phone_pauses_its_agent_as_unreachable() -> None:
    gone = Agent("1001", INTERNET, behaviour="unavailable")
    async with live_acd([gone, Agent("1002", INTERNET)]) as rig:
        rig.attributes["+441632960050"] = {"queue": "support"}
        result = await rig.call("+441632960050")

        assert [d.status for d in result.dials] == ["CHANUNAVAIL", "ANSWER"]
        view = rig.service.distributor.book.view("1001")
        assert (view.state.value, view.pause_reason) == ("paused", "unreachable")


async def test_a_caller_who_hangs_up_while_the_agent_rings_frees_the_agent() -> None:
    async with live_acd([Agent("1001", INTERNET, behaviour="noanswer")]) as rig:
        rig.attributes["+441632960060"] = {"queue": "support"}
        call = await rig.place("+441632960060")
        # ringing
        await wait_until(lambda: rig.service.distributor.book.view("1001").channel is not None)
        call.hang_up()
        result = await call.wait_done(timeout_s=5)

        assert [d.status for d in result.dials] == ["CANCEL"]
        abandoned = rig.events(CallAbandoned)
        assert [(e.call_id, e.during_offer) for e in abandoned] == [(result.uniqueid, True)]
        assert rig.state("1001") == "available"  # not the agent's fault: no pause
        assert rig.service.distributor.router.waiting_count == 0
        changes = [e for e in rig.events(AgentStateChanged) if e.agent_id == "1001"]
        assert changes[-1].reason == "offer withdrawn"
