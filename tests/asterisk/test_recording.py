"""Call recording with consent on the real Asterisk (center.recording): a SIPp customer hears
the consent announcement from hotline's gateway; pressing 9 keeps the call out of the
recordings, not pressing it gets the conversation recorded by MixMonitor from the agent's
answer; the agent's pause (AMI MixMonitorMute) leaves silence in the WAV for the paused
time, measured in the file's audio (the customer sends a 440 Hz tone as u-law RTP the whole
time); and MixMonitorMute answers as the emulator's."""

from __future__ import annotations

import asyncio
import subprocess
import time
import wave
from pathlib import Path

import pytest

from acd.events import CallAnswered
from history.outcomes import Outcome
from history.recordings import CallRecording
from tests.telephony.ami_recording import EXPECTED, answers
from tests.telephony.wav_runs import runs

from .rig import Asterisk
from .service import Service, running_service
from .sipp import Dtmf, Pause, SippAgent, SippCaller, Speech
from .test_calls import TO_AN_AGENT, kinds, settled

pytestmark = pytest.mark.asterisk

#: Every call recorded; consent asked (the shipped announcement, 9 to opt out).
RECORDED = {"recording.mode": "record"}
#: How long the customer's tone plays (from the end of their keys).
TONE_S = 30.0


def directory(pbx: Asterisk, tmp_path: Path) -> Path:
    """Where this test's Asterisk writes recordings (the session's Asterisk is shared)."""
    return pbx.run / "spool" / f"recordings-{tmp_path.name}"


def overrides(pbx: Asterisk, tmp_path: Path) -> dict[str, object]:
    return {**RECORDED, "recording.directory": str(directory(pbx, tmp_path))}


def tone(path: Path, seconds: float) -> Path:
    """A 440 Hz tone as 8 kHz mono 16-bit wav (sox): what the customer 'says'."""
    subprocess.run(
        [
            *("sox", "-n", "-r", "8000", "-c", "1", "-b", "16", str(path)),
            *("synth", str(seconds), "sine", "440", "vol", "0.3"),
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path


def files_in(folder: Path) -> list[Path]:
    return sorted(folder.glob("*")) if folder.is_dir() else []


def wav_seconds(path: Path) -> float:
    with wave.open(str(path)) as audio:
        return float(audio.getnframes() / audio.getframerate())


async def the_recording(service: Service, call_id: str) -> CallRecording:
    await service.hotline.recorder.flush()
    await service.hotline.history_writer.flush()
    found = await service.hotline.history.call_recording_of("hotline", call_id)
    assert found is not None
    return found


async def answered_by(pbx: Asterisk, service: Service, agent_id: str) -> str:
    await pbx.until(lambda: bool(service.events(CallAnswered)), timeout_s=40)
    (answered,) = service.events(CallAnswered)
    assert answered.agent_id == agent_id
    return str(answered.call_id)


async def test_a_consenting_callers_conversation_is_recorded_and_a_pause_leaves_silence(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    number = "+971501110081"
    since = len(pbx.log())
    # The tone starts right after the keys and plays 30 s: through the announcement, the
    # ring and the conversation (only the bridged part may reach the file); then the
    # customer hangs up. (SIPp aborts a call whose BYE comes while a step still runs.)
    steps = (*TO_AN_AGENT, Speech(tone(tmp_path / "tone.wav", TONE_S), silence_s=0.5))
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=90.0)
    await agent.start(pbx)
    try:
        async with running_service(pbx, tmp_path, overrides(pbx, tmp_path)) as service:
            service.only_agents("1001")
            caller = SippCaller(number, sip_dir, steps, hold_s=0.5)
            await caller.start(pbx)
            call_id = await answered_by(pbx, service, "1001")
            recorder = service.hotline.recorder
            await pbx.until(lambda: recorder.state("1001").recording, timeout_s=5)
            await asyncio.sleep(3.0)
            state = await recorder.pause("1001", paused=True, by="alice", call_id=call_id)
            paused_at = time.monotonic()
            assert state.paused
            await asyncio.sleep(4.0)
            state = await recorder.pause("1001", paused=False, by="alice")
            pause_s = time.monotonic() - paused_at
            assert not state.paused
            exit_code = await caller.wait(60)
            (interaction,) = await settled(pbx, service)
            recording = await the_recording(service, call_id)
    finally:
        await agent.stop()
    assert exit_code == 0
    assert caller.events() == ["answered", "hung-up"]
    assert kinds(agent.events()) == ["registered", "answered", "ended-by-asterisk"]
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
    # the history: recorded with consent, the agent's pause and resumption, who and when
    assert (recording.status, recording.consent) == ("recorded", "given")
    assert [(m["action"], m["agent"], m["by"]) for m in recording.marks] == [
        ("paused", "1001", "alice"),
        ("resumed", "1001", "alice"),
    ]
    # Asterisk played the announcement and ran MixMonitor on the customer's channel
    log = pbx.log()[since:]
    assert "recording-consent" in log
    assert "Begin MixMonitor Recording PJSIP/trunk-" in log
    (path,) = files_in(directory(pbx, tmp_path))
    assert recording.path == str(path)
    # the WAV: the conversation only, as long as the talk time (not the IVR, announcement
    # and ring the tone also played through), with the customer's tone, then silence for
    # the pause, then the tone again
    talk_s = float(str(interaction["talk_s"]))
    assert wav_seconds(path) == pytest.approx(talk_s, abs=1.5)
    assert wav_seconds(path) < TONE_S - 5
    told = runs(path)
    if told[-1][0] == "silence":  # the half second of silence the tone's capture ends with
        assert told.pop()[1] <= 1.0
    assert [kind for kind, _ in told] == ["sound", "silence", "sound"], told
    assert told[0][1] == pytest.approx(3.0, abs=1.0)
    assert told[1][1] == pytest.approx(pause_s, abs=0.8)
    assert told[2][1] > 3.0


async def test_the_opt_out_key_keeps_the_call_out_of_the_recordings(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    number = "+971501110082"
    since = len(pbx.log())
    steps = (*TO_AN_AGENT, Pause(2.0), Dtmf("9"))  # 9 while the announcement plays
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=2.0)
    await agent.start(pbx)
    try:
        async with running_service(pbx, tmp_path, overrides(pbx, tmp_path)) as service:
            service.only_agents("1001")
            caller = SippCaller(number, sip_dir, steps, hold_s=40)
            exit_code = await caller.run(pbx, timeout_s=60)
            (interaction,) = await settled(pbx, service)
            recording = await the_recording(service, str(interaction["idempotency_key"]))
    finally:
        await agent.stop()
    assert exit_code == 0
    assert caller.events() == ["answered", "ended-by-asterisk"]  # served all the same
    assert kinds(agent.events()) == ["registered", "answered", "hung-up"]
    assert (interaction["outcome"], interaction["agent"]) == (Outcome.ANSWERED, "1001")
    assert (recording.status, recording.consent, recording.path) == (
        "not_recorded",
        "opted_out",
        None,
    )
    log = pbx.log()[since:]
    assert "recording-consent" in log
    assert "MixMonitor" not in log
    assert files_in(directory(pbx, tmp_path)) == []


async def test_mixmonitor_mute_answers_as_the_emulator_does(
    pbx: Asterisk, sip_dir: Path, tmp_path: Path
) -> None:
    """The scenario tests/center/test_recording.py runs on the emulator."""
    number = "+971501110083"
    agent = SippAgent("1001", sip_dir, ring_s=0.3, talk_s=40.0)
    await agent.start(pbx)
    try:
        async with running_service(pbx, tmp_path, overrides(pbx, tmp_path)) as service:
            service.only_agents("1001")
            caller = SippCaller(number, sip_dir, TO_AN_AGENT, hold_s=60)
            await caller.start(pbx)
            await answered_by(pbx, service, "1001")
            agent_leg = service.hotline.acd.distributor.book.view("1001").channel
            assert agent_leg is not None
            await pbx.until(lambda: len(pbx.channels()) == 2)
            (caller_leg,) = [
                row.split("!")[0] for row in pbx.channels() if not row.startswith(agent_leg)
            ]
            told = await answers(service.hotline.ami, caller_leg=caller_leg, agent_leg=agent_leg)
            await service.hotline.call_control.hang_up("1001")
            exit_code = await caller.wait(30)
            await settled(pbx, service)
    finally:
        await agent.stop()
    assert caller_leg.startswith("PJSIP/trunk-")
    assert told == EXPECTED
    assert exit_code == 0
