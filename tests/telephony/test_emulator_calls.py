"""Caller scripts, recordings, prompts from files, and the fallback queue."""

from __future__ import annotations

import array
import asyncio
import math
import wave
from pathlib import Path

import pytest

from telephony.emulator import AgentPhone, AsteriskEmulator, Caller
from tests.ports import unused_port
from tests.telephony.agi_interruption import (
    SCENARIOS,
    abandoned_unread,
    interrupt,
    pipelined,
)
from tests.telephony.emulator_harness import RawAmi, ScriptedAgi, name_of


def tone_wav(path: Path, seconds: float, rate: int = 8000) -> Path:
    samples = array.array(
        "h",
        (int(8000 * math.sin(2 * math.pi * 440 * i / rate)) for i in range(int(seconds * rate))),
    )
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(samples.tobytes())
    return path


def read_wav(path: Path) -> tuple[int, int, int, array.array[int]]:
    with wave.open(str(path), "rb") as w:
        frames = array.array("h", w.readframes(w.getnframes()))
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), frames


async def test_unreachable_service_sends_the_caller_to_the_fallback_queue() -> None:
    phones = [
        AgentPhone("SIP/agent1001", "busy"),
        AgentPhone("SIP/agent1002", "answer", ring_s=1.0, talk_s=2.0),
    ]
    emu = AsteriskEmulator(agi_port=unused_port(), phones=phones, time_scale=0.01)
    async with emu:
        ami = await RawAmi.connect(emu.ami_port)
        await ami.login()
        call = await emu.place_call(Caller(number="5551234"))
        result = await call.wait_done(5)
        got = await ami.until(lambda m: name_of(m) == "Hangup" and call.channel in m)
        await ami.close()
    assert result.agi_status == "FAILURE"
    assert result.fallback_used
    assert result.fallback_phone == "SIP/agent1002"
    assert ("hotline-fallback", "s", 3, "Queue") in result.visited
    names = [name_of(m) for m in got]
    for expected in ("QueueCallerJoin", "AgentCalled", "QueueCallerLeave", "AgentConnect"):
        assert expected in names
    assert names.index("AgentConnect") < names.index("AgentComplete")


async def test_service_can_send_the_call_to_the_fallback_context() -> None:
    phones = [AgentPhone("SIP/agent1001", "answer", ring_s=0.5, talk_s=1.0)]
    async with (
        ScriptedAgi() as agi,
        AsteriskEmulator(agi_port=agi.port, phones=phones, time_scale=0.01) as emu,
    ):
        call = await emu.place_call(Caller())
        peer = await agi.next()
        for command in ("SET CONTEXT hotline-fallback", "SET EXTENSION s", "SET PRIORITY 1"):
            assert await peer.command(command) == "200 result=0\n"
        peer.close()
        result = await call.wait_done(5)
    assert result.agi_status == "SUCCESS"
    assert result.after_agi == ("hotline-fallback", "s", 1)
    assert result.fallback_phone == "SIP/agent1001"


async def test_fallback_queue_times_out_when_nobody_answers() -> None:
    emu = AsteriskEmulator(
        agi_port=unused_port(), phones=[AgentPhone("SIP/agent1001", "noanswer")],
        time_scale=0.01, queue_timeout_s=20.0,
    )  # fmt: skip
    async with emu:
        result = await (await emu.place_call(Caller())).wait_done(5)
    assert result.fallback_used
    assert result.fallback_phone is None
    assert result.variables["QUEUESTATUS"] == "TIMEOUT"


async def record(emu_kwargs: dict[str, object], caller: Caller, command: str) -> tuple[str, str]:
    async with (
        ScriptedAgi() as agi,
        AsteriskEmulator(
            agi_port=agi.port,
            time_scale=0.01,
            **emu_kwargs,  # type: ignore[arg-type]
        ) as emu,
    ):
        call = await emu.place_call(caller)
        peer = await agi.next()
        await peer.command("ANSWER")
        reply = await peer.command(command)
        follow = await peer.command('STREAM FILE hello-world ""')
        peer.close()
        call.hang_up()
        await call.wait_done(5)
    return reply, follow


async def test_record_file_copies_the_callers_speech_and_stops_on_silence(tmp_path: Path) -> None:
    speech = tone_wav(tmp_path / "speech.wav", 1.0, rate=16000)
    base = tmp_path / "rec" / "msg"
    reply, _ = await record(
        {}, Caller(speech=speech), f'RECORD FILE {base} wav "#" 20000 0 BEEP s=2'
    )
    # beep, then 0.5 s before the caller speaks, 1.0 s of speech, 2 s of silence; rewound 1 s
    assert reply == "200 result=16500 (timeout) endpos=20000\n"
    rate, channels, width, frames = read_wav(base.with_suffix(".wav"))
    assert (rate, channels, width, len(frames)) == (8000, 1, 2, 20000)
    assert max(frames[:3900]) == 0  # the caller starts speaking 0.5 s in
    assert max(frames[4000:12000]) > 5000


async def test_record_file_ends_on_the_escape_digit_after_the_speech(tmp_path: Path) -> None:
    speech = tone_wav(tmp_path / "speech.wav", 1.0)
    base = tmp_path / "msg"
    caller = Caller(speech=speech, dtmf="#")
    reply, _ = await record({}, caller, f'RECORD FILE {base} wav "#" 20000 0 BEEP s=5')
    # 0.5 s, 1 s of speech, the key 0.5 s after it; res_agi chops the last 200 ms
    assert reply == "200 result=35 (dtmf) endpos=14400\n"


async def test_record_file_without_audio_and_with_an_unknown_format(tmp_path: Path) -> None:
    base = tmp_path / "quiet"
    reply, _ = await record({}, Caller(sends_audio=False), f'RECORD FILE {base} wav "#" 2000')
    assert reply == "200 result=0 (timeout) endpos=0\n"
    assert base.with_suffix(".wav").stat().st_size == 44
    reply, _ = await record({}, Caller(), f'RECORD FILE {base} xyz "#" 2000')
    assert reply == "200 result=-1 (writefile)\n"


async def test_prompt_lengths_come_from_real_files_in_the_sounds_dir(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    tone_wav(tmp_path / "en" / "welcome.wav", 2.5)
    reply, _ = await record({"sounds_dir": tmp_path}, Caller(), 'STREAM FILE welcome ""')
    assert reply == "200 result=0 endpos=20000\n"


@pytest.mark.parametrize("detect", [True, False])
async def test_a_caller_speaking_over_a_prompt_is_heard_by_talk_detect_and_the_recording(
    tmp_path: Path, detect: bool
) -> None:
    """func_talkdetect raises ChannelTalkingStart only while TALK_DETECT is set; the prompt
    plays on; the next recording hears the rest of the answer (3 s begun 0.5 s into a 2.5 s
    prompt: its last second), from its first sample."""
    (tmp_path / "en").mkdir()
    tone_wav(tmp_path / "en" / "question.wav", 2.5)
    caller = Caller(speech=[tone_wav(tmp_path / "said.wav", 3.0)], speaks_over="question")
    base = tmp_path / "answer"
    talked: list[str] = []
    async with (
        ScriptedAgi() as agi,
        AsteriskEmulator(agi_port=agi.port, time_scale=0.01, sounds_dir=tmp_path) as emu,
    ):
        emu.subscribe(
            lambda pairs: talked.extend(v for k, v in pairs if v == "ChannelTalkingStart")
        )
        call = await emu.place_call(caller)
        peer = await agi.next()
        await peer.command("ANSWER")
        if detect:
            assert await peer.command("SET VARIABLE TALK_DETECT(set) 2500,256") == "200 result=1\n"
        played = await peer.command('STREAM FILE question "1"')
        recorded = await peer.command(f'RECORD FILE {base} wav "#" 5000 0 s=2')
        peer.close()
        call.hang_up()
        await call.wait_done(5)
    assert talked == (["ChannelTalkingStart"] if detect else [])
    assert played == "200 result=0 endpos=20000\n"  # talking is no key: the prompt plays on
    assert recorded == "200 result=2000 (timeout) endpos=16000\n"  # 1 s heard, 2 s of silence
    _, _, _, frames = read_wav(base.with_suffix(".wav"))
    assert min(frames[:7900]) < -5000
    assert max(frames[:7900]) > 5000
    assert max(frames[8100:], default=0) == 0


async def test_live_and_timed_keypresses_reach_the_command_reading_digits() -> None:
    caller = Caller(timed_dtmf=[(0.0, "9")])  # pressed while nobody listens: lost
    async with ScriptedAgi() as agi, AsteriskEmulator(agi_port=agi.port, time_scale=0.01) as emu:
        call = await emu.place_call(caller)
        peer = await agi.next()
        await asyncio.sleep(0.02)
        peer.writer.write(b"WAIT FOR DIGIT 5000\n")
        await asyncio.sleep(0.005)
        call.press("4")
        assert await peer.line() == "200 result=52\n"
        call.press("7")  # nobody reads now: queued for the next command that asks
        assert await peer.command("WAIT FOR DIGIT 5000") == "200 result=55\n"
        assert await peer.command("WAIT FOR DIGIT 100") == "200 result=0\n"
        call.hang_up()
        assert await peer.line() == "HANGUP\n"
        peer.close()
        result = await call.wait_done(5)
    assert result.hung_up_by == "caller"
    assert result.commands == ("WAIT FOR DIGIT 5000", "WAIT FOR DIGIT 5000", "WAIT FOR DIGIT 100")


async def test_two_concurrent_calls_get_their_own_channels_and_sessions() -> None:
    async with ScriptedAgi() as agi, AsteriskEmulator(agi_port=agi.port, time_scale=0.01) as emu:
        first = await emu.place_call(Caller(name="one"))
        second = await emu.place_call(Caller(name="two"))
        peers = [await agi.next(), await agi.next()]
        assert {p.env["agi_calleridname"] for p in peers} == {"one", "two"}
        assert len({p.env["agi_channel"] for p in peers}) == 2
        assert len({p.env["agi_uniqueid"] for p in peers}) == 2
        for peer in peers:
            assert await peer.command("HANGUP") == "200 result=1\n"
            await peer.half_close()
        done = await asyncio.gather(first.wait_done(5), second.wait_done(5))
    assert [r.hung_up_by for r in done] == ["agi", "agi"]


async def test_caller_hanging_up_while_the_agi_is_idle_gets_an_immediate_hangup_line() -> None:
    async with ScriptedAgi() as agi, AsteriskEmulator(agi_port=agi.port, time_scale=0.01) as emu:
        call = await emu.place_call(Caller(hangup_after_s=1.0))
        peer = await agi.next()
        assert await peer.command("ANSWER") == "200 result=0\n"
        assert await peer.line() == "HANGUP\n"
        assert await peer.command('STREAM FILE hello-world ""') == (
            "511 Command Not Permitted on a dead channel or intercept routine\n"
        )
        assert await peer.half_close() == b"HANGUP\n"
        result = await call.wait_done(5)
    assert (result.agi_status, result.hung_up_by) == ("HANGUP", "caller")


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_a_command_written_while_media_plays_stops_it_as_asterisk_does(
    scenario: str,
) -> None:
    command, expected = SCENARIOS[scenario]
    async with (
        ScriptedAgi() as agi,
        AsteriskEmulator(agi_port=agi.port, time_scale=1.0) as emu,
    ):
        call = await emu.place_call(Caller())
        peer = await agi.next()
        assert await peer.command("ANSWER") == "200 result=0\n"
        assert await interrupt(peer, command) == expected
        assert await peer.command("GET VARIABLE NOPE") == "200 result=0\n"  # in step again
        peer.close()
        call.hang_up()
        await call.wait_done(5)


async def test_a_session_closed_without_the_done_mark_goes_to_the_fallback() -> None:
    """A killed service closes the socket: AGISTATUS is SUCCESS, as on real Asterisk, and
    only the missing HOTLINE_DONE sends the caller to the fallback queue."""
    phones = [AgentPhone("SIP/agent1001", "answer", ring_s=0.5, talk_s=1.0)]
    async with (
        ScriptedAgi() as agi,
        AsteriskEmulator(agi_port=agi.port, phones=phones, time_scale=0.01) as emu,
    ):
        done = await emu.place_call(Caller())
        peer = await agi.next()
        assert await peer.command("SET VARIABLE HOTLINE_DONE 1") == "200 result=1\n"
        peer.close()
        crashed = await emu.place_call(Caller())
        (await agi.next()).close()
        done_result, crashed_result = await done.wait_done(5), await crashed.wait_done(5)
    assert done_result.agi_status == crashed_result.agi_status == "SUCCESS"
    assert not done_result.fallback_used
    assert crashed_result.fallback_used
    assert crashed_result.fallback_phone == "SIP/agent1001"


async def test_a_command_written_behind_another_waits_in_asterisks_buffer() -> None:
    """The emulator reads commands as res_agi does (poll, then fgets from stdio)."""
    async with (
        ScriptedAgi() as agi,
        AsteriskEmulator(agi_port=agi.port, time_scale=1.0) as emu,
    ):
        call = await emu.place_call(Caller())
        peer = await agi.next()
        assert await pipelined(peer) == (["200 result=0"], ["200 result=0", "200 result=0"])
        peer.close()
        call.hang_up()
        await call.wait_done(5)


async def test_a_hold_slice_abandoned_before_asterisk_read_it_does_not_stall_the_session() -> None:
    """The slice and its fence in one read: the fence waits in the stdio buffer until the
    session writes another (the stall a waiting caller met in cluster mode)."""
    async with (
        ScriptedAgi() as agi,
        AsteriskEmulator(agi_port=agi.port, time_scale=1.0) as emu,
    ):
        call = await emu.place_call(Caller())
        peer = await agi.next()
        assert await abandoned_unread(peer) is None
        assert await peer.command("GET VARIABLE NOPE") == "200 result=0\n"
        peer.close()
        call.hang_up()
        await call.wait_done(5)
