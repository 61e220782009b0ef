"""A caller who says why they call, over RTP through the real Asterisk: espeak-ng speech sent
by a SIPp caller as G.711 u-law, recorded by Asterisk's RECORD FILE (its silence detection
ends the turn), transcribed by Whisper in hotline's speech pool, classified by the
intent model trained from the shipped config/intents.yaml, and routed by it; and a caller
who answers over the question, heard by Asterisk's TALK_DETECT (ChannelTalkingStart over
AMI), which stops the question and starts the recording at once; and a caller who asks the
price of a product by name and hears that product's recorded price."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from acd.events import CallAnswered, CallQueued
from history.outcomes import Outcome
from ivr.speech.synth import synthesis_available, synthesize
from tests.e2e.stack import wait_until

from .rig import Asterisk
from .service import Service, running_service
from .sipp import Dtmf, Pause, SippAgent, SippCaller, Speech
from .test_calls import FIRST_KEY, kinds, settled

pytestmark = [pytest.mark.asterisk, pytest.mark.slow]

pytest.importorskip("faster_whisper")


@dataclass
class SpokenCall:
    service: Service
    caller: SippCaller
    agent: SippAgent
    exit_code: int
    interaction: dict[str, object]
    log: str  # Asterisk's log during the call


async def spoken_call(
    pbx: Asterisk,
    sip_dir: Path,
    tmp_path: Path,
    number: str,
    said: str,
    after_key_s: float,
    then: str = "654321#",
    overrides: dict[str, object] | None = None,
) -> SpokenCall:
    """A SIPp caller who presses 1 (English), says ``said`` ``after_key_s`` later, then keys
    ``then`` (an account number); agent 1001 answers."""
    if not synthesis_available():
        pytest.skip("espeak-ng and sox are not installed")
    voice = synthesize(said, tmp_path / "voice")
    steps = (FIRST_KEY, Dtmf("1"), Pause(after_key_s), Speech(voice), Pause(6.0), Dtmf(then))
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=1.0)
    await agent.start(pbx)
    since = len(pbx.log())
    try:
        settings = {"speech.enabled": True, "speech.timeout_s": 30, **(overrides or {})}
        async with running_service(pbx, tmp_path, settings) as service:
            speech = service.hotline.speech
            await wait_until(lambda: "en" in speech.languages, timeout_s=60)
            service.only_agents("1001")
            caller = SippCaller(number, sip_dir, steps, hold_s=30)
            exit_code = await caller.run(pbx, timeout_s=90)
            (interaction,) = await settled(pbx, service)
    finally:
        await agent.stop()
    return SpokenCall(service, caller, agent, exit_code, interaction, pbx.log()[since:])


async def test_a_spoken_reason_reaches_the_intent_and_routes_the_call(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    # The welcome and the open question play (with the beep), then the caller speaks (the
    # silence after it ends the turn); then the account number.
    call = await spoken_call(
        pbx, sip_dir, tmp_path, "+971501110061", "my internet is not working", after_key_s=3.0
    )
    assert call.exit_code == 0
    assert call.caller.events() == ["answered", "ended-by-asterisk"]
    assert kinds(call.agent.events()) == ["registered", "answered", "hung-up"]
    (queued,) = call.service.events(CallQueued)
    assert (queued.queue, queued.call_type) == ("support", "technical_fault")
    assert [a.agent_id for a in call.service.events(CallAnswered)] == ["1001"]
    assert (call.interaction["intent"], call.interaction["outcome"]) == (
        "technical_fault",
        Outcome.ANSWERED,
    )
    assert "RECORD FILE" in call.log  # Asterisk recorded the turn (agi debug)
    assert not list((tmp_path / "recordings").glob("*"))  # turns are deleted once heard


async def test_a_caller_answering_over_the_question_stops_it_and_is_understood(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    # The welcome (0.4 s) and the question (0.7 s) play after the key; the caller starts
    # talking 0.6 s after it, over the question (or, on a slow day, over the welcome:
    # TALK_DETECT, set just before the question, then hears them at once).
    said = "my internet is not working, the connection keeps dropping"
    call = await spoken_call(pbx, sip_dir, tmp_path, "+971501110062", said, after_key_s=0.6)
    assert call.exit_code == 0
    (queued,) = call.service.events(CallQueued)
    assert (queued.queue, queued.call_type) == ("support", "technical_fault")
    assert call.interaction["intent"] == "technical_fault"
    assert "TALK_DETECT(set)" in call.log
    assert "TALK_DETECT(remove)" in call.log
    commands = [line.split("<< ", 1)[1] for line in call.log.splitlines() if "AGI Rx << " in line]
    question = next(i for i, c in enumerate(commands) if "how-can-we-help" in c)
    # hotline heard the caller talking: the question stopped by the fence, recorded at once
    assert commands[question + 1].startswith("GET FULL VARIABLE hotline-fence")
    assert commands[question + 2].startswith("RECORD FILE")
    assert "BEEP" not in commands[question + 2]
    assert not pbx.errors(log=call.log)


async def test_a_price_asked_for_by_name_plays_that_products_price(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    # The price plays, then "anything else?": 0 for an agent.
    said = "how much is the unlimited mobile plan"
    call = await spoken_call(pbx, sip_dir, tmp_path, "+971501110063", said, 3.0, then="0")
    assert call.exit_code == 0
    assert call.interaction["intent"] == "price_question"
    commands = [line.split("<< ", 1)[1] for line in call.log.splitlines() if "AGI Rx << " in line]
    played = [c.split()[2] for c in commands if c.startswith("STREAM FILE")]
    assert any(name.endswith("/price-mobile-unlimited") for name in played), played
    assert not any(name.endswith("/price-fibre-500") for name in played)
    assert not pbx.errors(log=call.log)


async def test_an_answer_ended_by_talk_detection_is_recorded_at_16_khz_and_understood(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    """``speech.endpoint: talk``: TALK_DETECT hears the caller stop, hotline "receives" key
    D on the channel over AMI (PlayDTMF), which ends RECORD FILE; the answer is recorded as
    ``wav16`` with no ``s=`` (Asterisk's own silence detection would read it at 8 kHz)."""
    call = await spoken_call(
        pbx,
        sip_dir,
        tmp_path,
        "+971501110064",
        "my internet is not working",
        after_key_s=3.0,
        overrides={"ivr.speech.endpoint": "talk", "ivr.speech.barge_in": False},
    )
    assert call.exit_code == 0
    assert call.interaction["intent"] == "technical_fault"
    commands = [line.split("<< ", 1)[1] for line in call.log.splitlines() if "AGI Rx << " in line]
    (record,) = [c for c in commands if c.startswith("RECORD FILE")]
    assert " wav16 " in record
    assert "s=" not in record
    assert commands[commands.index(record) - 1] == "SET VARIABLE TALK_DETECT(set) 800,256"
    assert "result=68 (dtmf)" in call.log  # ended by the stop key (D), not the timeout
    assert not list((tmp_path / "recordings").glob("*"))
    assert not pbx.errors(log=call.log)
