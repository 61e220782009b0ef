"""AgiSession.dial against the recorded Dial outcomes: answered, failed, caller gone."""

from __future__ import annotations

import asyncio

import pytest

from telephony import agi_codec as agi
from telephony.agi_session import CallerHangup, DialOutcome
from tests.telephony.agi_peer import ScriptedAsterisk, is_read, recorded


async def dial_like_recording(fake: ScriptedAsterisk) -> list[DialOutcome]:
    outcomes = []
    while fake.pos < len(fake.script):
        words = agi.split_command(fake.script[fake.pos].command)
        if words[:2] == ["EXEC", "Dial"]:
            endpoint, timeout, *options = words[2].split(",")
            outcomes.append(await fake.session.dial(endpoint, int(timeout), *options))
        elif words == ["STREAM", "FILE", "hello-world", ""]:
            await fake.session.stream_file("hello-world")
        elif is_read(fake.script[fake.pos].command):
            fake.skip()
        elif words == ["HANGUP"]:
            await fake.session.hangup()
        else:
            await fake.session.command(*recorded(fake.script[fake.pos].command))
    return outcomes


@pytest.mark.parametrize("hangup_delay_s", [0.0, 0.04])
async def test_dial_answered_then_agent_hangs_up_leaves_the_caller_alive(
    hangup_delay_s: float,
) -> None:
    fake = ScriptedAsterisk(
        "agi_dial_answered_agent_hangup", flexible_reads=True, hangup_delay_s=hangup_delay_s
    )
    async with asyncio.timeout(5):
        await fake.session.answer()
        await fake.session.set_variable("IVR_RESULT", "transfer")
        (outcome,) = await dial_like_recording(fake)
    assert outcome == DialOutcome(
        "ANSWER", -1, True, 5026, 5028, 16, "SIP/agent1001-0000000e", "agent1001"
    )
    assert outcome.answered
    assert "CHANNEL STATUS" in fake.sent  # the -1 was confirmed, not assumed
    assert fake.finished


async def test_dial_with_g_option_returns_zero() -> None:
    fake = ScriptedAsterisk("agi_dial_answered_agent_hangup_g", flexible_reads=True)
    async with asyncio.timeout(5):
        await fake.session.answer()
        (outcome,) = await dial_like_recording(fake)
    assert (outcome.status, outcome.result, outcome.caller_alive) == ("ANSWER", 0, True)
    assert outcome.answered_ms == 5000  # only ANSWEREDTIME was recorded: whole seconds
    assert fake.finished


@pytest.mark.parametrize("hangup_delay_s", [0.0, 0.04])
async def test_dial_when_the_caller_hangs_up_while_bridged(hangup_delay_s: float) -> None:
    fake = ScriptedAsterisk(
        "agi_dial_answered_caller_hangup", flexible_reads=True, hangup_delay_s=hangup_delay_s
    )
    async with asyncio.timeout(5):
        await fake.session.answer()
        (outcome,) = await dial_like_recording(fake)
        assert (outcome.status, outcome.caller_alive, outcome.answered_ms) == (
            "ANSWER",
            False,
            6000,
        )
        assert outcome.hangup_cause == 16
        assert fake.session.dead
        with pytest.raises(CallerHangup):
            await fake.session.stream_file("hello-world")
    assert fake.finished


async def test_dial_when_the_caller_hangs_up_while_ringing() -> None:
    fake = ScriptedAsterisk("agi_dial_caller_hangup_while_ringing", flexible_reads=True)
    async with asyncio.timeout(5):
        await fake.session.answer()
        (outcome,) = await dial_like_recording(fake)
    assert outcome == DialOutcome("CANCEL", -1, False, None, None, 0)
    assert fake.finished


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("agi_dial_noanswer", [("NOANSWER", 0)]),
        ("agi_dial_busy_congestion", [("BUSY", 17), ("CONGESTION", 34)]),
        ("agi_dial_unavailable", [("CHANUNAVAIL", 20), ("CHANUNAVAIL", 20), ("NOANSWER", 20)]),
    ],
)
async def test_dial_failures_return_status_and_cause(
    name: str, expected: list[tuple[str, int]]
) -> None:
    fake = ScriptedAsterisk(name, flexible_reads=True)
    async with asyncio.timeout(5):
        await fake.session.answer()
        outcomes = await dial_like_recording(fake)
    assert [(o.status, o.hangup_cause) for o in outcomes] == expected
    assert all(o.caller_alive and o.result == 0 and o.answered_ms is None for o in outcomes)
    assert "CHANNEL STATUS" not in fake.sent
    assert fake.finished


async def test_queue_exec_returns_minus_one_with_the_caller_still_up() -> None:
    fake = ScriptedAsterisk("agi_ami_queue_call")
    s = fake.session
    async with asyncio.timeout(5):
        await s.answer()
        await s.set_variable("IVR_RESULT", "queue")
        assert await s.exec("Queue", "hotline", "", "", "", "20") == -1
        assert not s.dead
        for var in ("QUEUESTATUS", "DIALSTATUS", "MEMBERINTERFACE"):
            assert await s.get_variable(var) is None
        assert await s.channel_status() == 6
        await s.hangup()
    assert fake.finished
