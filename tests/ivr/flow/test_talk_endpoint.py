"""An answer ended by Asterisk hearing the caller stop (``speech.endpoint: talk``).

TALK_DETECT is set with the flow's ``end_silence_ms``; RECORD FILE records ``wav16`` with no
silence detection of its own (which would read the caller at 8 kHz, in whole seconds);
``ChannelTalkingStop`` over AMI makes hotline "receive" the stop key on the channel, which
ends the recording. The emulator's caller says one second of words after the beep.

The emulator runs in real time here: hotline's side of the ending (the AMI round trip, the
time a caller has to start) is in real seconds, which a scaled emulator clock would stretch."""

from __future__ import annotations

import array
import wave
from pathlib import Path

from ivr.flow.flow import Flow
from telephony.emulator import Caller

from .support import FakeRecogniser, FakeTranscript, flow_of, rig, write_wav
from .test_barge_in import SAID, level_wav
from .test_engine_speech import ASK, INTENTS

QUESTION_S = 1.0


class TimingRecogniser(FakeRecogniser):
    """Hears ``SAID`` in a recording with the caller's voice in it, and keeps each
    recording's (sample rate, seconds)."""

    def __init__(self) -> None:
        super().__init__([])
        self.recordings: list[tuple[int, float]] = []

    async def recognise(
        self, wav: Path, *, language: str, phrases: object = None
    ) -> FakeTranscript | None:
        with wave.open(str(wav)) as audio:
            rate, frames = audio.getframerate(), audio.getnframes()
            samples = array.array("h", audio.readframes(frames))
        self.recordings.append((rate, frames / rate))
        self.heard.append((wav, language, True))
        return FakeTranscript(SAID if max(samples, default=0) > 100 else "")


def _flow(tmp_path: Path, **speech: object) -> Flow:
    settings = {"endpoint": "talk", "barge_in": False, "silence_s": 1, **speech}
    flow = flow_of(ASK, tmp_path, speech=settings)
    write_wav(tmp_path / "prompts" / "en" / "how-can-we-help.wav", seconds=QUESTION_S)
    return flow


async def test_the_answer_ends_when_the_caller_stops_and_is_recorded_at_16_khz(
    tmp_path: Path,
) -> None:
    recogniser = TimingRecogniser()
    voice = level_wav(tmp_path / "voice.wav", 1.0, level=3000)
    async with rig(
        _flow(tmp_path), recogniser=recogniser, classifier=INTENTS, talk=True, time_scale=1.0
    ) as r:
        result = await r.call(Caller(speech=voice, barge_in=False))

    assert r.acd.calls[0].intent == "billing"
    commands = result.commands
    record = next(i for i, c in enumerate(commands) if c.startswith("RECORD FILE"))
    assert commands[record - 1] == "SET VARIABLE TALK_DETECT(set) 800,256"
    assert " wav16 " in commands[record]
    assert 'D" 10000 0 BEEP' in commands[record]  # the stop key ends it too
    assert "s=" not in commands[record]
    assert commands[record + 1] == 'SET VARIABLE TALK_DETECT(remove) ""'
    ((rate, seconds),) = recogniser.recordings
    assert rate == 16000
    # The caller's second of words and the 0.8 s of quiet TALK_DETECT waits for, not the
    # 2 whole seconds RECORD FILE's silence detection would add.
    assert 1.5 < seconds < 2.6


async def test_a_caller_who_says_nothing_is_asked_again(tmp_path: Path) -> None:
    recogniser = TimingRecogniser()
    async with rig(
        _flow(tmp_path), recogniser=recogniser, classifier=INTENTS, talk=True, time_scale=1.0
    ) as r:
        result = await r.call(Caller(dtmf="3", barge_in=False), timeout_s=20)

    assert len(recogniser.recordings) == 2  # asked twice, then keys (3: billing)
    # ended by hotline once the caller had not started in silence_s (1 s) after the beep
    assert all(seconds < 2.5 for _, seconds in recogniser.recordings)
    assert r.reports[0].trace[0].result.startswith("no intent after")
    assert sum("TALK_DETECT(remove)" in c for c in result.commands) == 2


async def test_without_ami_the_recording_ends_on_silence(tmp_path: Path) -> None:
    recogniser = FakeRecogniser([SAID])
    voice = level_wav(tmp_path / "voice.wav", 1.0, level=3000)
    async with rig(_flow(tmp_path), recogniser=recogniser, classifier=INTENTS) as r:
        result = await r.call(Caller(speech=voice, barge_in=False))

    assert not any("TALK_DETECT" in c for c in result.commands)
    (record,) = [c for c in result.commands if c.startswith("RECORD FILE")]
    assert " wav " in record
    assert record.endswith("BEEP s=1")
    assert r.acd.calls[0].intent == "billing"


async def test_with_ami_down_the_recording_ends_on_silence(tmp_path: Path) -> None:
    """No ChannelTalkingStop could come, nor the key be sent: Asterisk's silence detection."""
    recogniser = TimingRecogniser()
    voice = level_wav(tmp_path / "voice.wav", 1.0, level=3000)
    async with rig(_flow(tmp_path), recogniser=recogniser, classifier=INTENTS, talk=True) as r:
        assert r.ami.client is not None
        await r.ami.client.close()
        result = await r.call(Caller(speech=voice, barge_in=False))

    (record,) = [c for c in result.commands if c.startswith("RECORD FILE")]
    assert record.endswith("BEEP s=1")
    assert r.acd.calls[0].intent == "billing"


async def test_an_answer_said_over_the_question_ends_when_the_caller_stops(
    tmp_path: Path,
) -> None:
    """Barge-in and the talk endpoint together: the question stops when the caller starts,
    the recording when they stop; TALK_DETECT is turned off once, by the question."""
    recogniser = TimingRecogniser()
    voice = level_wav(tmp_path / "voice.wav", 1.0, level=3000)
    caller = Caller(speech=[voice], speaks_over="how-can-we-help", barge_in=False)
    flow = _flow(tmp_path, barge_in=True)
    async with rig(flow, recogniser=recogniser, classifier=INTENTS, talk=True, time_scale=1.0) as r:
        result = await r.call(caller)

    assert r.acd.calls[0].intent == "billing"
    sets = [c for c in result.commands if "TALK_DETECT(set)" in c]
    assert sets == [
        "SET VARIABLE TALK_DETECT(set) 2500,256",
        "SET VARIABLE TALK_DETECT(set) 800,256",
    ]
    assert sum("TALK_DETECT(remove)" in c for c in result.commands) == 1
    ((rate, seconds),) = recogniser.recordings
    assert rate == 16000
    assert seconds < 2.6
