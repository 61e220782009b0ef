"""The waiting caller over real sockets: hold, announcements, callback, max wait, empty queues."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest

from acd.agent_events import Login, Logout, Ready
from acd.events import CallAbandoned, CallQueued
from center.gateway import ATTR_ENTRY_AT, ATTR_QUEUE, callback_entry_time

from .support import Agent, live_acd, wait_until

INTERNET = {"internet": 2}
BILLING = {"billing": 1}


def said(commands: tuple[str, ...]) -> list[str]:
    """What the caller heard: prompt names (numbers as digits/N files), in order."""
    return [line.split()[2] for line in commands if line.startswith("STREAM FILE")]


async def test_a_caller_who_hangs_up_while_waiting_leaves_the_queue_as_an_abandon() -> None:
    async with live_acd([Agent("1001", INTERNET)], login=[]) as rig:
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        rig.attributes["+441632960100"] = {"queue": "support"}
        result = await rig.call("+441632960100", hangup_after_s=50)

        abandoned = rig.events(CallAbandoned)
        assert [(e.call_id, e.during_offer, e.reason) for e in abandoned] == [
            (result.uniqueid, False, "caller hung up")
        ]
        assert rig.service.distributor.router.waiting_count == 0
        assert result.dials == ()
        assert "EXEC StartMusicOnHold" in result.commands
        assert sum(c.startswith("WAIT FOR DIGIT") for c in result.commands) > 1  # on hold


async def test_waiting_callers_hear_their_position_and_expected_wait() -> None:
    waiting = {
        "defaults": {"announce": {"first_after_s": 0, "every_s": 0.2}, "assumed_talk_s": 100}
    }
    async with live_acd([Agent("1002", INTERNET, talk_s=80)], waiting=waiting) as rig:
        for n in range(3):
            rig.attributes[f"+44163296011{n}"] = {"queue": "support"}
        talking = await rig.place("+441632960110")
        await wait_until(lambda: rig.state("1002") == "on_call")
        second = await rig.place("+441632960111", hangup_after_s=40)
        await wait_until(lambda: len(rig.events(CallQueued)) == 2)
        third = await rig.place("+441632960112", hangup_after_s=30)
        second_result, third_result = await asyncio.gather(
            second.wait_done(timeout_s=5), third.wait_done(timeout_s=5)
        )
        await talking.wait_done(timeout_s=5)

        # the agent's call ends in ~100 s; then one handle time per caller ahead
        assert said(second_result.commands)[:4] == [
            "queue-youarenext",
            "queue-holdtime",
            "digits/2",
            "queue-minutes",
        ]
        assert said(third_result.commands)[:6] == [
            "queue-thereare",
            "digits/1",
            "queue-callswaiting",
            "queue-holdtime",
            "digits/4",
            "queue-minutes",
        ]
        assert said(third_result.commands).count("queue-holdtime") > 1  # every 0.2 s


async def test_the_callback_key_books_a_callback_that_keeps_the_entry_time() -> None:
    waiting = {"prompts": {"callback_offer": "hotline/press-1-for-a-callback"}}
    async with live_acd([Agent("1001", INTERNET)], login=[], waiting=waiting) as rig:
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        rig.attributes["+441632960120"] = {"queue": "support", "intent": "setup_help"}
        call = await rig.place("+441632960120")
        await wait_until(lambda: rig.service.distributor.router.waiting_count == 1)
        await asyncio.sleep(0.1)
        call.press("1")
        result = await call.wait_done(timeout_s=5)

        [request] = rig.callbacks.requests
        assert (request.number, request.call_id) == ("+441632960120", result.uniqueid)
        assert request.attributes[ATTR_QUEUE] == "support"
        [queued] = rig.events(CallQueued)
        restored = callback_entry_time(
            request.attributes, wall_now=dt.datetime.now(dt.UTC), clock_now=rig.service.now()
        )
        assert restored == pytest.approx(queued.entry_time, abs=0.05)
        assert dt.datetime.fromisoformat(request.attributes[ATTR_ENTRY_AT]) < request.requested_at
        [left] = rig.events(CallAbandoned)
        assert left.reason == "callback requested"
        assert said(result.commands)[-1] == "auth-thankyou"
        assert result.commands[-1] == "HANGUP"
        assert rig.service.distributor.router.waiting_count == 0


async def test_a_withheld_number_cannot_book_a_callback_and_the_caller_keeps_waiting() -> None:
    async with live_acd([Agent("1001", INTERNET)], login=[]) as rig:
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        rig.attributes["unknown"] = {"queue": "support"}
        call = await rig.place("")
        await wait_until(lambda: rig.service.distributor.router.waiting_count == 1)
        call.press("1")
        await wait_until(lambda: any("unidentified" in c for c in call.result().commands))
        assert rig.service.distributor.router.waiting_count == 1
        rig.service.agent_event(Ready("1001"))
        result = await call.wait_done(timeout_s=5)
        assert result.dials[0].answered_by == "SIP/agent1001"
        assert rig.callbacks.requests == []


async def test_a_call_past_its_maximum_wait_overflows_to_the_next_queue_keeping_its_place() -> None:
    overflow = {"action": "queue", "queue": "billing"}
    waiting = {"queues": {"support": {"max_wait_s": 0.3, "on_max_wait": overflow}}}
    agents = [Agent("1001", INTERNET), Agent("1002", BILLING)]
    async with live_acd(agents, login=["1002"], waiting=waiting) as rig:
        rig.service.agent_event(Login("1001", paused_reason="training"))
        rig.attributes["+441632960130"] = {"queue": "support"}
        result = await rig.call("+441632960130")

        assert result.dials[0].answered_by == "SIP/agent1002"
        first, second = rig.events(CallQueued)
        assert (first.queue, second.queue) == ("support", "billing")
        assert second.entry_time == first.entry_time
        [left] = rig.events(CallAbandoned)
        assert left.reason.startswith("max wait")


async def test_a_call_past_its_maximum_wait_can_leave_a_voicemail(tmp_path: Path) -> None:
    waiting = {
        "voicemail_dir": str(tmp_path),
        "defaults": {"max_wait_s": 0.2, "on_max_wait": {"action": "voicemail"}},
    }
    async with live_acd([Agent("1001", INTERNET)], login=[], waiting=waiting) as rig:
        rig.service.agent_event(Login("1001", paused_reason="training"))
        rig.attributes["+441632960140"] = {"queue": "support"}
        result = await rig.call("+441632960140")

        assert any(c.startswith(f"RECORD FILE {tmp_path}/") for c in result.commands)
        assert said(result.commands)[-1] == "vm-goodbye"
        assert result.dials == ()


async def test_with_no_agent_logged_in_the_call_goes_to_the_join_empty_action() -> None:
    async with live_acd([Agent("1001", INTERNET)], login=[]) as rig:
        rig.attributes["+441632960150"] = {"queue": "support"}
        result = await rig.call("+441632960150")

        assert result.fallback_used
        [left] = rig.events(CallAbandoned)
        assert left.reason.startswith("join-empty")


async def test_a_waiting_call_leaves_when_the_last_agent_who_could_serve_it_logs_out() -> None:
    waiting = {"defaults": {"on_empty": {"action": "hangup"}}}
    async with live_acd([Agent("1001", INTERNET), Agent("1002", BILLING)], login=[],
                        waiting=waiting) as rig:  # fmt: skip
        rig.service.agent_event(Login("1001", paused_reason="lunch"))
        rig.service.agent_event(Login("1002"))  # logged in, but cannot take internet calls
        rig.attributes["+441632960160"] = {"queue": "support"}
        call = await rig.place("+441632960160")
        await wait_until(lambda: rig.service.distributor.router.waiting_count == 1)
        rig.service.agent_event(Logout("1001"))
        result = await call.wait_done(timeout_s=5)

        [left] = rig.events(CallAbandoned)
        assert left.reason.startswith("leave-when-empty")
        assert said(result.commands)[-1] == "vm-goodbye"
        assert result.commands[-1] == "HANGUP"
