"""A spoken answer ended by talk detection, over the emulator: the scenario of
tests/telephony/talk_end.py, with the expectations the real Asterisk 20 met
(tests/asterisk/test_talk_end.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from telephony.emulator import AsteriskEmulator, Caller
from telephony.emulator.media import load_speech
from telephony.emulator.talk import TalkDetect, parse, talks
from tests.telephony.emulator_harness import RawAmi, ScriptedAgi
from tests.telephony.talk_end import SPEECH_S, TALK_DETECT, check, talk_end
from tests.telephony.test_emulator_calls import tone_wav

TIME_SCALE = 0.2


@pytest.mark.parametrize("settings", [(TALK_DETECT,), ("2500,256", TALK_DETECT)])
async def test_talking_stop_then_a_received_key_ends_a_wav16_recording(
    tmp_path: Path, settings: tuple[str, ...]
) -> None:
    caller = Caller(speech=tone_wav(tmp_path / "said.wav", SPEECH_S), speech_delay_s=0.7)
    async with (
        ScriptedAgi() as agi,
        AsteriskEmulator(agi_port=agi.port, time_scale=TIME_SCALE) as emu,
    ):
        ami_conn = await RawAmi.connect(emu.ami_port)
        await ami_conn.login(events="call")
        call = await emu.place_call(caller)
        peer = await agi.next()
        assert await peer.command("ANSWER") == "200 result=0\n"
        turn = await talk_end(peer, ami_conn, tmp_path / "answer", settings, TIME_SCALE)
        await ami_conn.close()
        peer.close()
        call.hang_up()
        await call.wait_done(5)
    check(turn)


def test_talk_detect_takes_func_talkdetects_defaults_and_refuses_what_it_refuses() -> None:
    assert parse("") == TalkDetect(2500, 256)
    assert parse("800") == parse("800,") == TalkDetect(800, 256)
    assert parse(",100") == TalkDetect(2500, 100)
    assert parse("800ms,256") == TalkDetect(800, 256)  # sscanf reads the number
    assert parse("0,256") is None
    assert parse("soon") is None


def test_a_pause_shorter_than_the_silence_threshold_is_part_of_the_talk(tmp_path: Path) -> None:
    word = load_speech(tone_wav(tmp_path / "said.wav", 0.4))
    pause = [0] * 4000  # 0.5 s
    pcm = [*word, *pause, *word, *pause, *pause, *word]  # then a 1 s pause
    assert talks(pcm, TalkDetect(800, 256)) == [(0.0, 1.3), (2.3, 2.7)]
    assert talks(pcm, TalkDetect(1200, 256)) == [(0.0, 2.7)]
    assert talks(pcm, TalkDetect(800, 20000)) == []  # never louder than that
