"""Post-call transcription: a recorded call, once it ends, is transcribed in the background
and stored with its interaction, with the phrases spotted and a sentiment score.

```yaml
transcription:
  enabled: false          # recorded calls (``recording:``) are transcribed after the call
  queue: 200              # calls waiting; a full queue drops (counted, logged) and the
                          # periodic scan picks the call up later
  workers: 1              # calls transcribed at once
  chunk_s: 20             # the recording is decoded in pieces of at most this (<= 30 s)
  max_audio_s: 3600       # of a call, the first hour is transcribed
  settle_s: 5             # after the call ends, before its file is read (MixMonitor closes it)
  rescan_s: 600           # how often recordings without transcript are looked for
  spot:                   # categories of phrases to find (English and Arabic)
    cancellation: [cancel my account, close my account, الغاء الاشتراك]
    competitor: [...]
    legal: [lawyer, court, محامي]
```

The flow: ``CallRecorder`` calls ``submit`` when a recorded call ends with its file kept
(``recorded``); ``submit`` never waits (``put_nowait`` on a bounded queue). Each worker
waits ``settle_s`` after the call's end, cuts the recording in chunks
(``ivr.speech.chunks``, in a thread) and decodes them one by one through the speech
service's pool *behind* callers' turns (``SpeechService.background``), in the call's
language; then ``center.call_analytics`` spots and scores, and the transcript is written
(``history.transcripts``). At start and every ``rescan_s``, recordings without transcript
are queued again (calls dropped by a full queue, a restart, a store that was down).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import SQLAlchemyError

from acd.build import AcdConfigIssue
from center.call_analytics import analyse, fold
from center.recording_policy import RECORDING_FILE, RecordingSettings
from history.recordings import RecordingFiles
from history.transcripts import CallTranscript, TranscriptWrite, Untranscribed
from ivr.speech.audio import AudioError
from ivr.speech.chunks import split_recording
from ivr.speech.recognizer import Recognizer, Transcript
from ivr.speech.settings import SpeechSettings

__all__ = [
    "PostCallTranscriber",
    "RecordedCall",
    "TranscriptionSettings",
    "TranscriptionStats",
    "check_transcription_config",
]

log = logging.getLogger(__name__)

#: Calls that failed, remembered so that the scan does not retry them at once.
MAX_FAILED_KEPT = 10_000

Phrase = Annotated[str, Field(min_length=1, max_length=100)]
Category = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class TranscriptionSettings(BaseModel):
    """``hotline.yaml`` ``transcription:`` (off by default: it needs recording on, and it
    spends CPU beside the callers' speech turns)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    enabled: bool = False
    queue: Annotated[int, Field(ge=1, le=100_000)] = 200
    workers: Annotated[int, Field(ge=1, le=16)] = 1
    chunk_s: Annotated[float, Field(ge=2, le=30)] = 20.0
    max_audio_s: Annotated[float, Field(gt=0, le=4 * 3600)] = 3600.0
    settle_s: Annotated[float, Field(ge=0, le=300)] = 5.0
    rescan_s: Annotated[float, Field(ge=10, le=86400)] = 600.0
    spot: Mapping[Category, Annotated[list[Phrase], Field(max_length=500)]] = Field(
        default_factory=dict
    )


def check_transcription_config(
    settings: TranscriptionSettings, recording: RecordingSettings, speech: SpeechSettings
) -> list[AcdConfigIssue]:
    """Transcription on with nothing to transcribe, or nothing to transcribe it with."""
    if not settings.enabled:
        return []
    issues = []
    records = recording.mode == "record" or any(
        rule.mode == "record" for rule in [*recording.queues.values(), *recording.intents.values()]
    )
    if not records:
        issues.append(
            AcdConfigIssue(
                "warning", RECORDING_FILE, "transcription.enabled", "no call is recorded"
            )
        )
    if not speech.enabled:
        issues.append(
            AcdConfigIssue(
                "warning",
                RECORDING_FILE,
                "transcription.enabled",
                "speech.yaml disables speech: recordings will not be transcribed",
            )
        )
    return issues


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """A recorded call whose file is kept, to transcribe."""

    source: str
    call_id: str
    path: str
    language: str | None = None
    #: ``time.monotonic()`` before which the file is not read (MixMonitor closing it).
    ready_at: float = 0.0


@dataclass
class TranscriptionStats:
    queued: int = 0
    dropped: int = 0
    done: int = 0
    failed: int = 0
    audio_s: float = 0.0
    decode_s: float = 0.0

    @property
    def real_time_factor(self) -> float:
        return self.decode_s / self.audio_s if self.audio_s > 0 else 0.0


class Speech(Protocol):
    """``ivr.speech.service.SpeechService``'s background side."""

    @property
    def ready(self) -> bool: ...

    @property
    def languages(self) -> tuple[str, ...]: ...

    def model_name(self, language: str) -> str: ...

    def background(
        self, language: str, work: Callable[[Recognizer], Transcript]
    ) -> Awaitable[Transcript | None]: ...


class TranscriptStore(Protocol):
    """``history.repository.HistoryRepository``'s transcript side."""

    async def write_transcript(self, change: TranscriptWrite) -> CallTranscript | None: ...

    async def untranscribed(self, limit: int = 500) -> list[Untranscribed]: ...


@dataclass
class _Result:
    texts: list[str] = field(default_factory=list)
    decode_s: float = 0.0
    model: str = ""


class PostCallTranscriber:
    def __init__(
        self,
        settings: TranscriptionSettings,
        speech: Speech,
        store: TranscriptStore,
        files: RecordingFiles,
        *,
        default_language: str = "en",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self._speech = speech
        self._store = store
        self._files = files
        self._default_language = default_language
        self._clock = clock
        self._queue: asyncio.Queue[RecordedCall] = asyncio.Queue(settings.queue)
        #: Calls queued or being transcribed (a rescan does not queue them twice), and
        #: calls that failed in this process (not retried until a restart).
        self._held: set[tuple[str, str]] = set()
        self._failed: set[tuple[str, str]] = set()
        self.stats = TranscriptionStats()

    # the voice side: never waits ------------------------------------------------------
    def submit(self, call: RecordedCall) -> bool:
        """Queue a recorded call (False: already held, or the queue is full: dropped,
        counted, logged; the next scan finds it)."""
        key = (call.source, call.call_id)
        if key in self._held or key in self._failed:
            return False
        try:
            self._queue.put_nowait(call)
        except asyncio.QueueFull:
            self.stats.dropped += 1
            log.warning(
                "transcription: queue full (%d): call %s left for the next scan",
                self._queue.maxsize,
                call.call_id,
            )
            return False
        self._held.add(key)
        self.stats.queued += 1
        return True

    def recorded(self, source: str, call_id: str, path: str, language: str | None) -> None:
        """``CallRecorder``'s hook: a recorded call ended with its file kept."""
        self.submit(
            RecordedCall(source, call_id, path, language, self._clock() + self.settings.settle_s)
        )

    # the workers ----------------------------------------------------------------------
    async def run(self) -> None:
        """The workers and the periodic scan (until cancelled)."""
        workers = [
            asyncio.create_task(self._work(), name=f"transcription-{n}")
            for n in range(self.settings.workers)
        ]
        try:
            while True:
                await self.scan()
                await asyncio.sleep(self.settings.rescan_s)
        finally:
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def scan(self) -> int:
        """Queue recordings without transcript (as many as the queue has room for)."""
        room = self._queue.maxsize - self._queue.qsize()
        if room <= 0:
            return 0
        try:
            found = await self._store.untranscribed(limit=room + len(self._held))
        except (OSError, SQLAlchemyError) as error:
            log.warning("transcription: scan failed (%s); trying again later", error)
            return 0
        queued = 0
        for waiting in found:
            if self._queue.full():
                break
            call = RecordedCall(waiting.source, waiting.call_id, waiting.path, waiting.language)
            queued += self.submit(call)
        if queued:
            log.info("transcription: %d recorded calls without transcript queued", queued)
        return queued

    async def _work(self) -> None:
        while True:
            call = await self._queue.get()
            try:
                await self._wait_ready(call)
                await self.transcribe(call)
            except asyncio.CancelledError:
                raise
            except Exception:  # a task boundary: one call fails, the worker goes on
                log.exception("transcription: call %s failed", call.call_id)
                self._fail((call.source, call.call_id))
            finally:
                self._held.discard((call.source, call.call_id))
                self._queue.task_done()

    def _fail(self, key: tuple[str, str]) -> None:
        """Not retried in this process (bounded: past the cap, all are retried again)."""
        if len(self._failed) >= MAX_FAILED_KEPT:
            self._failed.clear()
        self._failed.add(key)
        self.stats.failed += 1

    async def _wait_ready(self, call: RecordedCall) -> None:
        delay = call.ready_at - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)
        while not self._speech.ready:  # noqa: ASYNC110 (models loading at start: no event)
            await asyncio.sleep(1.0)

    async def drain(self) -> None:
        """Wait until every queued call is done (tests, shutdown)."""
        await self._queue.join()

    def language_of(self, call: RecordedCall) -> str | None:
        """The call's language if a recogniser serves it, else the default's, else None."""
        served = self._speech.languages
        for language in (call.language, self._default_language):
            if language in served:
                return language
        return None

    async def transcribe(self, call: RecordedCall) -> CallTranscript | None:
        """Transcribe one recorded call and store the transcript (None: not stored)."""
        key = (call.source, call.call_id)
        language = self.language_of(call)
        path = self._files.open_file(call.path)
        if language is None or path is None:
            why = "no recogniser for its language" if path else "its file is not kept"
            log.warning("transcription: call %s not transcribed: %s", call.call_id, why)
            self._fail(key)
            return None
        with tempfile.TemporaryDirectory(prefix="hotline-transcribe-") as scratch:
            try:
                chunks, audio_s = await asyncio.to_thread(
                    split_recording,
                    path,
                    Path(scratch),
                    chunk_s=self.settings.chunk_s,
                    max_s=self.settings.max_audio_s,
                )
            except AudioError as error:
                log.warning("transcription: call %s: %s", call.call_id, error)
                self._fail(key)
                return None
            result = await self._decode(language, chunks)
        if result is None:  # the service stopped meanwhile: the next start's scan
            return None
        text = " ".join(t for t in result.texts if t)
        analysis = analyse(text, self.settings.spot)
        change = TranscriptWrite(
            source=call.source,
            call_id=call.call_id,
            language=language,
            model=result.model,
            text=text,
            folded=fold(text),
            audio_s=audio_s,
            decode_s=result.decode_s,
            spotted=analysis.spotted,
            sentiment=analysis.sentiment,
            at=_utc_now(),
        )
        try:
            written = await self._store.write_transcript(change)
        except (OSError, SQLAlchemyError) as error:  # the store is down: the next scan
            log.warning("transcription: call %s not stored (%s)", call.call_id, error)
            return None
        self.stats.done += 1
        self.stats.audio_s += audio_s
        self.stats.decode_s += result.decode_s
        log.info(
            "transcription: call %s, %.0fs of %s audio in %.1fs (%s)%s",
            call.call_id,
            audio_s,
            language,
            result.decode_s,
            result.model,
            f", spotted {', '.join(analysis.categories)}" if analysis.spotted else "",
        )
        return written

    async def _decode(self, language: str, chunks: Sequence[Path]) -> _Result | None:
        result = _Result()
        for chunk in chunks:
            heard = await self._speech.background(language, _transcriber(chunk))
            if heard is None:
                return None
            result.texts.append(heard.text.strip())
            result.decode_s += heard.seconds
        result.model = self._speech.model_name(language)
        return result


def _transcriber(chunk: Path) -> Callable[[Recognizer], Transcript]:
    return lambda recognizer: recognizer.transcribe(chunk, best_only=True)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
