"""The speech service the IVR awaits: bounded, time-limited, and never in the caller's way.

Decoding runs in a thread pool (CTranslate2 and vosk release the GIL while decoding, so
threads scale with cores and models are loaded once; ``bench/speech_bench.py`` measures
it). Admission is bounded: when ``workers + queue`` turns are in flight, ``recognise``
returns None at once and the menu falls back to DTMF rather than making the caller wait
behind other callers. Each turn is time-limited: past ``timeout_s`` the caller gets None,
and the worker's late result is discarded. A turn that times out keeps its slot until its
worker really finishes, so a stuck decoder shows up as saturation, not as a hidden queue.

None always means "fall back to DTMF"; the reason is counted and logged once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ivr.speech.audio import AudioError
from ivr.speech.models import resolve_model
from ivr.speech.recognizer import ModelError, Recognizer, Transcript, WarmsUp
from ivr.speech.second_reading import SecondReading
from ivr.speech.settings import SpeechSettings
from ivr.speech.stats import FallbackReason, SpeechCounters, SpeechStats

__all__ = ["Backend", "SpeechService", "build_speech_service", "load_recognizer"]

log = logging.getLogger(__name__)

T = TypeVar("T")
#: How often background work (post-call transcription) looks for a free decoder.
BACKGROUND_POLL_S = 0.2


@dataclass(frozen=True)
class Backend:
    """How to load one recogniser. Languages whose backends share a ``label`` share the
    loaded model (it is loaded once)."""

    label: str
    load: Callable[[], Recognizer]

    @classmethod
    def ready(cls, recognizer: Recognizer, label: str | None = None) -> Backend:
        """An already loaded recogniser (tests, tools)."""
        return cls(label or f"{recognizer.name}@{id(recognizer):x}", lambda: recognizer)


class SpeechService:
    """``await start()`` loads the models; ``recognise`` is then safe from any number of calls."""

    def __init__(
        self,
        backends: Mapping[str, Backend],
        *,
        workers: int = 2,
        queue: int = 0,
        timeout_s: float = 4.0,
        unavailable: Iterable[str] = (),
    ) -> None:
        """``unavailable``: languages left out because their model is missing, already
        logged: their callers use DTMF without a second warning."""
        if workers < 1 or queue < 0 or timeout_s <= 0:
            raise ValueError("workers >= 1, queue >= 0 and timeout_s > 0 are required")
        self._backends = dict(backends)
        self.workers = workers
        self.capacity = workers + queue
        self.timeout_s = timeout_s
        self._recognizers: dict[str, Recognizer] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._started = False
        self._lock = threading.Lock()
        self._in_flight = 0
        self._counters = SpeechCounters()
        self._warned_languages: set[str] = set(unavailable)

    @property
    def languages(self) -> tuple[str, ...]:
        """Languages with a loaded model."""
        return tuple(sorted(self._recognizers))

    @property
    def stats(self) -> SpeechStats:
        with self._lock:
            in_flight = self._in_flight
        return self._counters.snapshot(
            in_flight=in_flight, capacity=self.capacity, languages=self.languages
        )

    async def start(self) -> None:
        """Load every distinct model once (in the pool, in parallel) and warm it up."""
        if self._started:
            return
        self._started = True
        executor = ThreadPoolExecutor(self.workers, thread_name_prefix="speech")
        self._pool = executor  # so close() can stop a start that is still loading
        loop = asyncio.get_running_loop()
        labels = sorted({backend.label for backend in self._backends.values()})
        by_label = {b.label: b for b in self._backends.values()}
        loaded = await asyncio.gather(
            *(loop.run_in_executor(executor, self._load, by_label[label]) for label in labels)
        )
        models = dict(zip(labels, loaded, strict=True))
        for language, backend in sorted(self._backends.items()):
            recognizer = models[backend.label]
            if recognizer is None:
                log.warning("speech: no recogniser for %r: callers use DTMF", language)
                self._warned_languages.add(language)
            else:
                self._recognizers[language] = recognizer
        self._executor = executor  # turns are taken once every model is ready

    async def close(self) -> None:
        """Stop taking turns; queued decodes are cancelled, running ones are abandoned."""
        pool, self._pool, self._executor = self._pool, None, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    async def recognise(
        self, wav: Path, *, language: str, phrases: Sequence[str] | None = None
    ) -> Transcript | None:
        """What the caller said in ``wav``, or None: fall back to DTMF (the reason is logged)."""
        self._counters.turn()
        executor = self._executor
        recognizer = self._recognizers.get(language)
        if executor is None:
            self._fallback("unavailable", "speech: service not running: turn falls back to DTMF")
        elif recognizer is None:
            first = language not in self._warned_languages
            self._warned_languages.add(language)
            message = f"speech: no recogniser for {language!r}: callers use DTMF"
            self._fallback("no_backend", message if first else None)
        elif not self._admit():
            message = f"speech: all {self.capacity} decoders busy: turn falls back to DTMF"
            self._fallback("saturated", message)
        else:
            transcript = await self._run(executor, recognizer, wav, phrases)
            if transcript is not None:
                self._counters.success()
            return transcript
        return None

    async def _run(
        self,
        executor: ThreadPoolExecutor,
        recognizer: Recognizer,
        wav: Path,
        phrases: Sequence[str] | None,
    ) -> Transcript | None:
        """One admitted turn: its slot is released when the worker is really done."""
        submitted = time.perf_counter()
        try:
            future = executor.submit(self._decode, recognizer, wav, phrases, submitted)
        except RuntimeError:  # shut down between the check and the submit
            self._release(None)
            self._fallback("unavailable", "speech: service closing: turn falls back to DTMF")
            return None
        future.add_done_callback(self._release)
        try:
            async with asyncio.timeout(self.timeout_s):
                return await asyncio.wrap_future(future)
        except TimeoutError:
            future.add_done_callback(_discard_late_result(wav, submitted))
            message = (
                f"speech: {recognizer.name} took longer than {self.timeout_s:g}s on {wav.name}: "
                "turn falls back to DTMF"
            )
            self._fallback("timeout", message)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if not future.cancelled() or (task is not None and task.cancelling()):
                raise  # the caller's task is being cancelled (hang-up): not ours to swallow
            self._fallback("unavailable", "speech: service closed: turn falls back to DTMF")
        except AudioError as exc:
            self._fallback("failed", f"speech: {exc}: turn falls back to DTMF")
        except Exception as exc:  # noqa: BLE001 -- the engine boundary: any failure means DTMF
            message = (
                f"speech: {recognizer.name} failed on {wav.name}: {type(exc).__name__}: {exc}: "
                "turn falls back to DTMF"
            )
            self._fallback("failed", message)
        return None

    @property
    def ready(self) -> bool:
        """Models loaded and taking work."""
        return self._executor is not None

    def model_name(self, language: str) -> str:
        """The language's recogniser as a transcript records it: ``whisper base``."""
        recognizer = self._recognizers.get(language)
        if recognizer is None:
            return "none"
        model_dir = getattr(recognizer, "model_dir", None)
        return recognizer.name if model_dir is None else f"{recognizer.name} {Path(model_dir).name}"

    async def background(self, language: str, work: Callable[[Recognizer], T]) -> T | None:
        """Run ``work(recogniser)`` for ``language`` in the speech pool, *behind* callers'
        turns: it waits (holding nothing) until no more than ``workers - 1`` decodes are in
        flight (none, with one worker), so a caller's turn still finds a free decoder, then
        holds one slot while it runs, with no time limit. None: no recogniser for the
        language, or the service is not running. ``work``'s exceptions are raised here."""
        while True:
            executor, recognizer = self._executor, self._recognizers.get(language)
            if executor is None or recognizer is None:
                return None
            with self._lock:
                if self._in_flight < max(1, self.workers - 1):
                    self._in_flight += 1
                    break
            await asyncio.sleep(BACKGROUND_POLL_S)
        try:
            future = executor.submit(work, recognizer)
        except RuntimeError:  # shut down meanwhile
            self._release(None)
            return None
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _admit(self) -> bool:
        with self._lock:
            if self._in_flight >= self.capacity:
                return False
            self._in_flight += 1
            return True

    def _release(self, _future: Future[Any] | None) -> None:
        with self._lock:
            self._in_flight -= 1

    def _decode(
        self, recognizer: Recognizer, wav: Path, phrases: Sequence[str] | None, submitted: float
    ) -> Transcript:
        started = time.perf_counter()
        try:
            return recognizer.transcribe(wav, phrases=phrases)
        finally:
            self._counters.decoded(started - submitted, time.perf_counter() - started)

    def _fallback(self, reason: FallbackReason, message: str | None) -> None:
        """Count (and log, unless already said) a turn that falls back to DTMF."""
        self._counters.fallback(reason)
        if message is not None:
            log.warning(message)

    @staticmethod
    def _load(backend: Backend) -> Recognizer | None:
        started = time.perf_counter()
        try:
            recognizer = backend.load()
            if isinstance(recognizer, WarmsUp):
                recognizer.warm_up()
        except ModelError as exc:
            log.warning("speech: cannot load %s: %s", backend.label, exc)
            return None
        except Exception:  # a task boundary: one line, the service runs on without it
            log.exception("speech: loading %s failed", backend.label)
            return None
        log.info("speech: loaded %s in %.2fs", backend.label, time.perf_counter() - started)
        return recognizer


def _discard_late_result(wav: Path, submitted: float) -> Callable[[Future[Transcript]], None]:
    def discard(future: Future[Transcript]) -> None:
        outcome = "cancelled" if future.cancelled() else "finished"
        log.debug(
            "speech: late decode of %s %s after %.2fs; result discarded",
            wav.name,
            outcome,
            time.perf_counter() - submitted,
        )

    return discard


def load_recognizer(
    engine: str, language: str, model_dir: Path, settings: SpeechSettings
) -> Recognizer:
    """Load one model with the options ``settings`` gives its engine (ModelError if it can't)."""
    if engine == "whisper":
        from ivr.speech.whisper_engine import WhisperRecognizer

        options = settings.whisper
        choice = settings.languages.get(language)
        return WhisperRecognizer(
            model_dir,
            language=language,
            workers=settings.workers,
            cpu_threads=options.cpu_threads,
            beam_size=options.beam_size,
            vad=options.vad,
            use_phrases=options.use_phrases,
            max_audio_s=settings.max_audio_s,
            window_s=options.window_s,
            alternatives=options.alternatives,
            prompt=choice.open_prompt(language) if choice is not None else None,
            denoise_below_db=options.denoise_below_db,
            # A second recogniser's reading does better than Whisper's own second one.
            unprompted_below=0.0
            if choice is not None and choice.second_reading is not None
            else options.unprompted_below,
        )
    if engine == "moonshine":
        from ivr.speech.moonshine_engine import MoonshineRecognizer

        return MoonshineRecognizer(
            model_dir,
            cpu_threads=settings.moonshine.cpu_threads,
            vad=settings.moonshine.vad,
            max_audio_s=settings.max_audio_s,
            denoise_below_db=settings.moonshine.denoise_below_db,
        )
    if engine == "vosk":
        from ivr.speech.vosk_engine import VoskRecognizer

        return VoskRecognizer(
            model_dir, use_grammar=settings.vosk.use_grammar, max_audio_s=settings.max_audio_s
        )
    raise ModelError(f"unknown speech engine {engine!r}")


def build_speech_service(settings: SpeechSettings) -> SpeechService:
    """The service for ``settings``: languages without a usable model are left out (logged),
    so their callers use DTMF. Call ``await service.start()`` to load the models."""
    backends: dict[str, Backend] = {}
    unavailable: list[str] = []
    if settings.enabled:
        for language, choice in settings.languages.items():
            try:
                model_dir = resolve_model(choice.engine, language, choice.model)
            except ModelError as exc:
                log.warning("speech: %r: %s: callers use DTMF", language, exc)
                unavailable.append(language)
                continue
            # Whisper is told the language at load; vosk's model is language-bound already.
            key = model_dir if choice.engine == "vosk" else f"{model_dir} [{language}]"
            label = f"{choice.engine} {key}"
            load = _loader(choice.engine, language, model_dir, settings)
            second = choice.second_reading
            if second is not None:
                try:
                    second_dir = resolve_model(second.engine, language, second.model)
                except ModelError as exc:
                    log.warning("speech: %r: second reading: %s: one reading", language, exc)
                else:
                    label += f" + {second.engine} {second_dir}"
                    load = _paired(load, _loader(second.engine, language, second_dir, settings))
            backends[language] = Backend(label, load)
    return SpeechService(
        backends,
        workers=settings.workers,
        queue=settings.queue,
        timeout_s=settings.timeout_s,
        unavailable=unavailable,
    )


def _loader(
    engine: str, language: str, model_dir: Path, settings: SpeechSettings
) -> Callable[[], Recognizer]:
    return lambda: load_recognizer(engine, language, model_dir, settings)


def _paired(
    first: Callable[[], Recognizer], second: Callable[[], Recognizer]
) -> Callable[[], Recognizer]:
    """The first recogniser with the second's readings; alone if the second cannot load."""

    def load() -> Recognizer:
        recognizer = first()
        try:
            return SecondReading(recognizer, second())
        except Exception as exc:  # noqa: BLE001 -- optional: the first serves alone
            log.warning("speech: second reading not loaded: %s: one reading", exc)
            return recognizer

    return load
