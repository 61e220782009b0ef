"""Spoken barge-in: a caller who answers over the question is heard.

The emulator's caller starts talking half a second into the 3-second question. With talk
detection wired, Asterisk's ChannelTalkingStart stops the prompt and the recording starts at
once (no beep) with the whole answer in it; without it, or with ``speech.barge_in`` off, the
prompt plays out and the answer, said over it, is lost: the caller is asked again."""

from __future__ import annotations

import array
import wave
from pathlib import Path

import pytest

from ivr.flow.flow import Flow
from telephony.emulator import Caller

from .support import FakeRecogniser, FakeTranscript, flow_of, rig, write_wav
from .test_engine_speech import ASK, INTENTS

QUESTION_S = 3.0
SAID = "a question about my bill"


class ListeningRecogniser(FakeRecogniser):
    """Hears ``SAID`` only in a recording that has the caller's voice in it (non-zero audio
    louder than a faint hiss)."""

    async def recognise(
        self, wav: Path, *, language: str, phrases: object = None
    ) -> FakeTranscript | None:
        with wave.open(str(wav)) as audio:
            samples = array.array("h", audio.readframes(audio.getnframes()))
        self.heard.append((wav, language, True))
        return FakeTranscript(SAID if max(samples, default=0) > HISS else "")


HISS = 1000


def level_wav(path: Path, seconds: float, level: int) -> Path:
    """A wav of one level: the caller's voice (loud), or a noisy line (under ``HISS``)."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(array.array("h", [level] * round(seconds * 8000)).tobytes())
    return path


def _flow(tmp_path: Path, text: str = ASK, **speech: object) -> Flow:
    flow = flow_of(text, tmp_path, speech=speech)
    write_wav(tmp_path / "prompts" / "en" / "how-can-we-help.wav", seconds=QUESTION_S)
    return flow


def _caller(tmp_path: Path) -> Caller:
    voice = level_wav(tmp_path / "caller.wav", 1.0, level=3000)
    return Caller(speech=[voice], speaks_over="how-can-we-help", barge_in=False)


async def test_an_answer_said_over_the_question_stops_it_and_is_heard(tmp_path: Path) -> None:
    recogniser = ListeningRecogniser([])
    async with rig(_flow(tmp_path), recogniser=recogniser, classifier=INTENTS, talk=True) as r:
        result = await r.call(_caller(tmp_path))

    (handed,) = r.acd.calls
    assert (handed.queue, handed.intent) == ("billing", "billing")
    commands = result.commands
    question = next(i for i, c in enumerate(commands) if "how-can-we-help" in c)
    assert commands[question - 1] == "SET VARIABLE TALK_DETECT(set) 2500,256"
    assert commands[question + 1].startswith("GET FULL VARIABLE")  # the fence stopped it
    record = commands[question + 2]
    assert record.startswith("RECORD FILE")
    assert "BEEP" not in record
    assert commands[question + 3] == 'SET VARIABLE TALK_DETECT(remove) ""'
    assert len(recogniser.heard) == 1
    assert r.reports[0].trace[0].input == "spoke over the prompt, said 'a question about my bill'"


async def test_a_caller_waiting_for_the_beep_hears_it_as_a_prompt_of_its_own(
    tmp_path: Path,
) -> None:
    """RECORD FILE's beep cannot be stopped: with barge-in the beep is streamed after the
    question, where talking stops it too, and the recording has no beep of its own."""
    recogniser = ListeningRecogniser([])
    caller = Caller(speech=level_wav(tmp_path / "v.wav", 1.0, 3000), barge_in=False)
    async with rig(_flow(tmp_path), recogniser=recogniser, classifier=INTENTS, talk=True) as r:
        result = await r.call(caller)

    commands = result.commands
    question = next(i for i, c in enumerate(commands) if "how-can-we-help" in c)
    assert commands[question + 1] == 'STREAM FILE beep "0123456789*"'
    assert commands[question + 2].startswith("RECORD FILE")
    assert commands[question + 2].endswith("10000 0 s=2")  # no BEEP
    assert r.acd.calls[0].intent == "billing"


async def test_noise_that_stops_a_question_turns_barge_in_off_for_the_call(
    tmp_path: Path,
) -> None:
    """A noisy line "talks" over the question: the recording holds no words, so the question
    is asked again to its end (and the caller, who then answers after the beep, is heard)."""
    recogniser = ListeningRecogniser([])
    noise = level_wav(tmp_path / "hiss.wav", 1.0, level=300)  # over TALK_DETECT's 256
    voice = level_wav(tmp_path / "voice.wav", 1.0, level=3000)
    caller = Caller(speech=[noise, voice], speaks_over="how-can-we-help", barge_in=False)
    async with rig(_flow(tmp_path), recogniser=recogniser, classifier=INTENTS, talk=True) as r:
        result = await r.call(caller)

    commands = result.commands
    first, second = [i for i, c in enumerate(commands) if "how-can-we-help" in c]
    assert commands[first + 1].startswith("GET FULL VARIABLE")  # stopped by the noise
    assert not any("TALK_DETECT(set)" in c for c in commands[first + 1 :])
    assert commands[second + 1].startswith("RECORD FILE")  # played out, then recorded
    assert commands[second + 1].endswith("BEEP s=2")
    assert r.acd.calls[0].intent == "billing"
    assert "[barge-in off: the line's noise stopped a question]" in r.reports[0].trace[0].result


@pytest.mark.parametrize("where", ["flow", "step"])
async def test_with_barge_in_off_an_answer_said_over_the_question_is_lost(
    tmp_path: Path, where: str
) -> None:
    """Off for the flow (speech.barge_in) or for this question only (the ask step's)."""
    recogniser = ListeningRecogniser([])
    step_off = ASK.replace(
        "prompt: not-understood", "prompt: not-understood\n          barge_in: false"
    )
    flow = _flow(tmp_path, barge_in=False) if where == "flow" else _flow(tmp_path, step_off)
    async with rig(flow, recogniser=recogniser, classifier=INTENTS, talk=True) as r:
        result = await r.call(_caller(tmp_path))

    assert not any("TALK_DETECT" in c for c in result.commands)
    assert not r.acd.calls or r.acd.calls[0].intent != "billing"
    assert r.reports[0].trace[0].result.startswith("no intent after")  # asked twice, keys


async def test_without_talk_detection_the_question_plays_out(tmp_path: Path) -> None:
    recogniser = FakeRecogniser([SAID])
    async with rig(_flow(tmp_path), recogniser=recogniser, classifier=INTENTS) as r:
        result = await r.call(
            Caller(speech=level_wav(tmp_path / "v.wav", 1.0, 3000), barge_in=False)
        )

    assert not any("TALK_DETECT" in c for c in result.commands)
    assert any(c.startswith("RECORD FILE") and c.endswith("BEEP s=2") for c in result.commands)
    assert r.acd.calls[0].intent == "billing"


async def test_a_key_stops_the_question_and_is_the_answer(tmp_path: Path) -> None:
    recogniser = FakeRecogniser([SAID])
    async with rig(_flow(tmp_path), recogniser=recogniser, classifier=INTENTS, talk=True) as r:
        result = await r.call(Caller(dtmf="3"))

    assert not any(c.startswith("RECORD FILE") for c in result.commands)  # never recorded
    assert r.reports[0].trace[0].result == "caller pressed a key: keys instead"
    assert result.commands[-1] != "SET VARIABLE TALK_DETECT(set) 2500,256"
    assert sum("TALK_DETECT(remove)" in c for c in result.commands) == 1


async def test_a_caller_hanging_up_during_the_question_ends_cleanly(tmp_path: Path) -> None:
    recogniser = FakeRecogniser([SAID])
    async with rig(_flow(tmp_path), recogniser=recogniser, classifier=INTENTS, talk=True) as r:
        await r.call(Caller(hangup_after_s=1.0))

    assert recogniser.heard == []
    assert r.reports[0].ending == "caller_hangup"
