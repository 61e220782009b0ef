"""A caller who says why they call: espeak-ng speech recorded by the emulated Asterisk's
RECORD FILE, Whisper in the service's speech pool, the intent classifier trained
from the shipped config/intents.yaml, and the fault queue's problem solvers; and one who
answers over the question, heard over AMI (ChannelTalkingStart) as on the real Asterisk."""

from __future__ import annotations

from pathlib import Path

import pytest

from acd.events import CallQueued
from ivr.speech.synth import synthesis_available, synthesize
from telephony.emulator import Caller

from .stack import running_stack, wait_until
from .test_calls import answered_by

pytestmark = pytest.mark.slow

pytest.importorskip("faster_whisper")


async def test_spoken_fault_report_is_understood_and_routed_to_a_problem_solver(
    tmp_path: Path,
) -> None:
    if not synthesis_available():
        pytest.skip("espeak-ng and sox are not installed")
    voice = synthesize("my internet is not working", tmp_path / "voice")
    async with running_stack(tmp_path, speech=True, overrides={"speech.timeout_s": 30}) as stack:
        speech = stack.service.speech
        await wait_until(lambda: "en" in speech.languages, timeout_s=60)
        # "1": English; then the open question is answered by voice; then the account.
        result = await stack.call(
            Caller(number="+971501110030", dtmf="1654321#", speech=voice, barge_in=False),
            timeout_s=60,
        )
        interaction = await stack.interaction(result.uniqueid)

    assert any(c.startswith("RECORD FILE") for c in result.commands)
    (queued,) = stack.events(CallQueued)
    assert (queued.queue, queued.call_type) == ("support", "technical_fault")
    assert answered_by(result) in {"PJSIP/agent1001", "PJSIP/agent1004"}
    assert (interaction.call_type, interaction.outcome) == ("technical_fault", "answered")
    assert not list((tmp_path / "recordings").glob("*.wav"))  # turns are deleted once heard


async def test_an_answer_said_over_the_question_stops_it_and_is_routed(tmp_path: Path) -> None:
    if not synthesis_available():
        pytest.skip("espeak-ng and sox are not installed")
    voice = synthesize("my internet is not working", tmp_path / "voice")
    caller = Caller(
        number="+971501110031",
        dtmf="1654321#",
        speech=[voice],
        speaks_over="how-can-we-help",
        speech_delay_s=0.2,
        barge_in=False,
    )
    async with running_stack(tmp_path, speech=True, overrides={"speech.timeout_s": 30}) as stack:
        speech = stack.service.speech
        await wait_until(lambda: "en" in speech.languages, timeout_s=60)
        result = await stack.call(caller, timeout_s=60)

    commands = result.commands
    question = next(i for i, c in enumerate(commands) if "how-can-we-help" in c)
    assert commands[question + 1].startswith("GET FULL VARIABLE")  # stopped by the fence
    assert commands[question + 2].startswith("RECORD FILE")
    assert "BEEP" not in commands[question + 2]
    (queued,) = stack.events(CallQueued)
    assert (queued.queue, queued.call_type) == ("support", "technical_fault")
