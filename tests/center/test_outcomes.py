"""Every way a queued call ends is one ``history.outcomes.Outcome``, written once, with the
wait and the priority it had when it was answered or left the queue."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from acd.agent_events import Login
from acd.contacts import HANDED_TO_FALLBACK
from acd.events import CallAbandoned
from center.contact_times import Talked
from history.outcomes import Outcome

from .support import Agent, Rig, live_acd, wait_until

INTERNET = {"internet": 2}
#: Real seconds (the emulator's virtual ones are 100 times longer).
SHORT = {"short_abandon_s": 0.2}


def ended(rig: Rig) -> list[dict[str, Any]]:
    return [details for step, _, details in rig.interactions.log if step == "ended"]


async def test_a_caller_who_gives_up_waiting_is_abandoned_in_queue_with_wait_and_priority() -> None:
    async with live_acd([Agent("1001", INTERNET)], login=[], service_level=SHORT) as rig:
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        rig.attributes["+441632960100"] = {"queue": "support"}
        await rig.call("+441632960100", hangup_after_s=50)  # 0.5 s

        [told] = ended(rig)
        assert told["outcome"] == Outcome.ABANDONED_QUEUE
        assert 0.4 <= told["wait_s"] < 3.0
        assert told["priority"] == pytest.approx(told["wait_s"] / 60, abs=0.02)  # aging 1/min


async def test_a_caller_gone_within_short_abandon_s_is_a_short_abandon() -> None:
    async with live_acd([Agent("1001", INTERNET)], login=[], service_level=SHORT) as rig:
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        rig.attributes["+441632960101"] = {"queue": "support"}
        await rig.call("+441632960101", hangup_after_s=3)  # 30 ms

        assert [t["outcome"] for t in ended(rig)] == [Outcome.ABANDONED_SHORT]


async def test_a_caller_who_hangs_up_while_the_agent_rings_abandoned_while_ringing() -> None:
    ringing = [Agent("1001", INTERNET, behaviour="noanswer")]
    long_ring = {"ring_timeout_s": 300}  # 3 s
    async with live_acd(ringing, agent_policy=long_ring, service_level=SHORT) as rig:
        rig.attributes["+441632960102"] = {"queue": "support"}
        call = await rig.place("+441632960102")
        # ringing
        await wait_until(lambda: rig.service.distributor.book.view("1001").channel is not None)
        await asyncio.sleep(0.3)  # longer than a short abandon
        call.hang_up()
        await call.wait_done(timeout_s=5)

        assert [t["outcome"] for t in ended(rig)] == [Outcome.ABANDONED_RINGING]


async def test_an_answered_call_has_the_priority_of_the_offer_and_no_second_wait() -> None:
    async with live_acd([Agent("1001", INTERNET)]) as rig:
        rig.attributes["+441632960103"] = {"queue": "support", "tier": "key_account"}
        await rig.call("+441632960103")

        [told] = ended(rig)
        assert told["outcome"] == Outcome.ANSWERED
        assert told["priority"] == pytest.approx(30.0, abs=0.1)  # the tier's points
        assert told["wait_s"] is None  # told when the agent answered
        [answered] = [d for step, _, d in rig.interactions.log if step == "answered"]
        assert answered["wait_s"] >= 0


async def test_callers_waiting_when_the_service_stops_are_handed_to_the_fallback() -> None:
    async with live_acd([Agent("1001", INTERNET)], login=[]) as rig:
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        rig.attributes["+441632960104"] = {"queue": "support"}
        call = await rig.place("+441632960104")
        await wait_until(lambda: rig.service.distributor.router.waiting_count == 1)
        assert rig.server is not None
        await rig.server.close()
        result = await call.wait_done(timeout_s=5)

        assert result.fallback_used
        assert [t["outcome"] for t in ended(rig)] == [Outcome.FALLBACK]
        [left] = rig.events(CallAbandoned)
        assert (left.reason, left.by_caller) == (HANDED_TO_FALLBACK, False)  # not an abandon


async def test_a_caller_id_that_cannot_be_dialled_back_is_offered_no_callback() -> None:
    waiting = {"defaults": {"announce": {"first_after_s": 3600}, "callback_digit": "1"}}
    async with live_acd([Agent("1001", INTERNET)], login=[], waiting=waiting) as rig:
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        rig.attributes["bot2"] = {"queue": "support"}
        await rig.call("bot2", dtmf="1", hangup_after_s=60)

        assert rig.callbacks.requests == []
        assert [t["outcome"] for t in ended(rig)] == [Outcome.ABANDONED_SHORT]


async def test_an_answer_told_only_when_dial_returns_leaves_the_talk_time_unknown() -> None:
    async with live_acd([Agent("1001", INTERNET)]) as rig:
        await rig.ami.close()  # AMI silent: the answer is learnt from Dial's return only
        rig.attributes["+441632960105"] = {"queue": "support"}
        await rig.call("+441632960105")

        [told] = ended(rig)
        assert told["outcome"] == Outcome.ANSWERED
        assert told["talk_known"] is False  # not a talk time of ~0 s


async def test_an_answer_ami_told_as_it_happened_gives_the_talk_time() -> None:
    async with live_acd([Agent("1001", INTERNET)]) as rig:
        rig.attributes["+441632960106"] = {"queue": "support"}
        await rig.call("+441632960106")

        [told] = ended(rig)
        assert "talk_known" not in told
        [talked] = [t for t in rig.interactions.times if isinstance(t, Talked)]
        assert talked.talk_s >= 0.04  # the agent's 5 virtual seconds: 50 ms
