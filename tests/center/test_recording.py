"""Call recording with consent over real sockets (the emulated Asterisk): the consent
announcement and its opt-out key, MixMonitor started before the agent answers and writing
only the bridged conversation, pause and resume from the agent's desktop leaving silence,
and what the history is told."""

from __future__ import annotations

import wave
from pathlib import Path

import pytest

from center.call_controller import CallControlError
from center.recording import CallRecorder
from center.recording_policy import RecordingSettings
from tests.telephony.ami_recording import EXPECTED, answers
from tests.telephony.wav_runs import runs

from .support import Agent, Rig, live_acd, wait_until

INTERNET = {"internet": 2, "experience": 1}
#: Virtual seconds: 600 is 6 s of real time, longer than any test needs the agent on a call.
LONG_TALK_S = 600.0


def policy(directory: Path, **changes: object) -> RecordingSettings:
    """Support calls recorded (billing's not), consent asked, 9 opts out."""
    return RecordingSettings.model_validate(
        {
            "mode": "off",
            "directory": str(directory),
            "retention_days": 30,
            "queues": {"support": {"mode": "record"}},
            **changes,
        }
    )


def recorder(rig: Rig) -> CallRecorder:
    assert rig.recorder is not None
    return rig.recorder


async def on_call(rig: Rig, agent_id: str) -> str:
    await wait_until(lambda: rig.state(agent_id) == "on_call")
    call_id = rig.service.distributor.book.view(agent_id).call_id
    assert call_id is not None
    return call_id


def leftover(directory: Path) -> list[Path]:
    return list(directory.iterdir())


def seconds(path: Path) -> float:
    with wave.open(str(path)) as audio:
        return float(audio.getnframes() / audio.getframerate())


async def test_a_consenting_callers_conversation_is_recorded_from_the_answer(
    tmp_path: Path,
) -> None:
    handed: list[tuple[str, str, str, str | None]] = []
    async with live_acd([Agent("1002", INTERNET, talk_s=5.0)], recording=policy(tmp_path)) as rig:
        recorder(rig).on_recorded = lambda *call: handed.append(call)
        rig.attributes["+441632960201"] = {"queue": "support"}
        result = await rig.call("+441632960201")

    (mixmonitor,) = [c for c in result.commands if "MixMonitor" in c]
    path = tmp_path / f"{result.uniqueid}.wav"
    assert mixmonitor == f"EXEC MixMonitor {path},b"
    # the announcement came first, as a prompt the caller can answer with a key
    consent = next(i for i, c in enumerate(result.commands) if "recording-consent" in c)
    assert result.commands[consent].startswith("GET DATA recording-consent 2000 1")
    assert (
        consent
        < result.commands.index(mixmonitor)
        < next(i for i, c in enumerate(result.commands) if c.startswith("EXEC Dial"))
    )
    # only the bridged conversation (5 virtual seconds), not the announcement or the ring
    assert seconds(path) == pytest.approx(5.0, abs=0.5)
    ((kind, length),) = runs(path)
    assert kind == "sound"
    assert length == pytest.approx(5.0, abs=0.5)
    first, last = rig.recordings.of(result.uniqueid)
    assert (first.status, first.consent, first.path, first.queue) == (
        "recording",
        "given",
        str(path),
        "support",
    )
    assert first.expires_at is not None
    assert first.started_at is not None
    assert (first.expires_at - first.started_at).days == 30
    assert (last.status, last.ended_at is not None) == ("recorded", True)
    # handed to post-call transcription once, when the call ended
    assert [call[:3] for call in handed] == [("hotline", result.uniqueid, str(path))]


async def test_the_opt_out_key_means_no_recording_and_the_history_says_so(tmp_path: Path) -> None:
    async with live_acd([Agent("1002", INTERNET)], recording=policy(tmp_path)) as rig:
        rig.attributes["+441632960202"] = {"queue": "support"}
        result = await rig.call("+441632960202", dtmf="9")

    assert not any("MixMonitor" in c for c in result.commands)
    assert [d.status for d in result.dials] == ["ANSWER"]  # served all the same
    (told,) = rig.recordings.of(result.uniqueid)
    assert (told.status, told.consent, told.path) == ("not_recorded", "opted_out", None)
    assert leftover(tmp_path) == []


async def test_another_key_during_the_announcement_is_not_an_opt_out(tmp_path: Path) -> None:
    async with live_acd([Agent("1002", INTERNET)], recording=policy(tmp_path)) as rig:
        rig.attributes["+441632960203"] = {"queue": "support"}
        result = await rig.call("+441632960203", dtmf="1")

    assert any("MixMonitor" in c for c in result.commands)
    assert [w.status for w in rig.recordings.of(result.uniqueid)] == ["recording", "recorded"]


async def test_an_intent_rule_overrides_its_queue_and_unrecorded_calls_hear_nothing(
    tmp_path: Path,
) -> None:
    settings = policy(tmp_path, intents={"card_payment": {"mode": "off"}})
    async with live_acd([Agent("1002", INTERNET)], recording=settings) as rig:
        rig.attributes["+441632960204"] = {"queue": "support", "intent": "card_payment"}
        result = await rig.call("+441632960204")

    assert not any("recording-consent" in c or "MixMonitor" in c for c in result.commands)
    assert rig.recordings.writes == []


async def test_a_call_no_agent_answered_leaves_no_file(tmp_path: Path) -> None:
    async with live_acd(
        [Agent("1002", INTERNET)], recording=policy(tmp_path), login=[]
    ) as rig:  # nobody logged in: join-empty sends the call to the fallback
        recorder(rig).on_recorded = lambda *call: pytest.fail("no file kept: nothing to transcribe")
        rig.attributes["+441632960205"] = {"queue": "support"}
        result = await rig.call("+441632960205")
        await recorder(rig).flush()

    assert any("MixMonitor" in c for c in result.commands)
    assert result.fallback_used
    first, last = rig.recordings.of(result.uniqueid)
    assert first.status == "recording"
    assert (last.status, last.drop_path, last.deleted_reason) == ("empty", True, "not_bridged")
    assert leftover(tmp_path) == []


async def test_a_paused_recording_holds_silence_for_the_paused_time(tmp_path: Path) -> None:
    async with live_acd(
        [Agent("1002", INTERNET, talk_s=LONG_TALK_S)], recording=policy(tmp_path)
    ) as rig:
        rig.attributes["+441632960206"] = {"queue": "support"}
        call = await rig.place("+441632960206")
        call_id = await on_call(rig, "1002")
        clock = rig.emulator.pbx.clock
        assert recorder(rig).state("1002").recording
        await wait_until(lambda: clock.now_v() > 50, timeout_s=5)  # some talk first

        paused = await recorder(rig).pause("1002", paused=True, by="alice", call_id=call_id)
        paused_at = clock.now_v()
        assert (paused.recording, paused.paused) == (True, True)
        await wait_until(lambda: clock.now_v() > paused_at + 30, timeout_s=5)
        resumed = await recorder(rig).pause("1002", paused=False, by="alice")
        pause_v = clock.now_v() - paused_at
        assert not resumed.paused
        await wait_until(lambda: clock.now_v() > paused_at + pause_v + 20, timeout_s=5)
        assert rig.control is not None
        await rig.control.hang_up("1002")
        result = await call.wait_done(timeout_s=10)

    path = tmp_path / f"{result.uniqueid}.wav"
    (sound, silence, more) = runs(path)
    assert (sound[0], silence[0], more[0]) == ("sound", "silence", "sound")
    assert silence[1] == pytest.approx(pause_v, abs=2.0)  # virtual seconds, where it was made
    marks = [w.mark for w in rig.recordings.of(call_id) if w.mark is not None]
    assert [(m.action, m.agent, m.by) for m in marks] == [
        ("paused", "1002", "alice"),
        ("resumed", "1002", "alice"),
    ]
    assert marks[0].at <= marks[1].at


async def test_only_a_recorded_call_of_ones_own_can_be_paused(tmp_path: Path) -> None:
    async with live_acd(
        [Agent("1002", INTERNET, talk_s=LONG_TALK_S)], recording=policy(tmp_path)
    ) as rig:
        rig.attributes["+441632960207"] = {"queue": "support"}
        call = await rig.place("+441632960207", dtmf="9")  # opted out
        call_id = await on_call(rig, "1002")
        with pytest.raises(CallControlError, match="not being recorded"):
            await recorder(rig).pause("1002", paused=True)
        with pytest.raises(CallControlError, match="not on call other"):
            await recorder(rig).pause("1002", paused=True, call_id="other")
        assert recorder(rig).state("1002").call_id == call_id
        assert not recorder(rig).state("1002").recording
        assert rig.control is not None
        await rig.control.hang_up("1002")
        await call.wait_done(timeout_s=10)
        with pytest.raises(CallControlError, match="not on a call"):
            await recorder(rig).pause("1002", paused=True)


async def test_mixmonitor_mute_answers_as_asterisk_does(tmp_path: Path) -> None:
    """The scenario tests/asterisk/test_recording.py runs on the real Asterisk."""
    async with live_acd(
        [Agent("1002", INTERNET, talk_s=LONG_TALK_S)], recording=policy(tmp_path)
    ) as rig:
        rig.attributes["+441632960208"] = {"queue": "support"}
        call = await rig.place("+441632960208")
        await on_call(rig, "1002")
        caller_leg = next(c.name for c in rig.emulator.pbx.channels.values() if "caller" in c.name)
        agent_leg = rig.service.distributor.book.view("1002").channel
        assert agent_leg is not None
        told = await answers(rig.ami, caller_leg=caller_leg, agent_leg=agent_leg)
        assert rig.control is not None
        await rig.control.hang_up("1002")
        await call.wait_done(timeout_s=10)

    assert told == EXPECTED
