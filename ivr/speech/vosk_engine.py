"""vosk backend (the design card's engine): a Kaldi model directory, any language vosk has.

With the active menu's phrases, recognition is restricted to a grammar of those phrases
plus ``[unk]`` (when the model's vocabulary has it): a caller's answer maps onto an option
or onto "unknown", never onto a near-homophone outside the menu. Phrases with words the
model does not know are dropped from the grammar (logged once per menu). Grammars need a
model with a dynamic graph (``HCLr.fst`` + ``Gr.fst``, as the small models have); vosk
ignores the grammar otherwise.

Confidence is the mean of vosk's per-word confidences. The model is shared by all worker
threads; each call makes its own ``KaldiRecognizer`` (vosk releases the GIL while decoding).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ivr.speech.audio import Audio, read_wav
from ivr.speech.recognizer import ModelError, Transcript, menu_vocabulary

__all__ = ["UNKNOWN_WORD", "VoskRecognizer"]

log = logging.getLogger(__name__)

UNKNOWN_WORD = "[unk]"
_SAMPLE_FREQUENCY = re.compile(r"^--sample-frequency=(\d+)", re.MULTILINE)
_DEFAULT_RATE = 16_000
#: Menus are few; the cap only guards against a caller of this class passing free text.
_GRAMMAR_CACHE_SIZE = 256


class VoskRecognizer:
    """One loaded vosk model, optionally restricted per call to the menu's phrases."""

    name = "vosk"

    def __init__(
        self, model_dir: Path, *, use_grammar: bool = True, max_audio_s: float = 30.0
    ) -> None:
        if not model_dir.is_dir():
            raise ModelError(f"{model_dir}: vosk model directory not found")
        import vosk

        vosk.SetLogLevel(-1)  # Kaldi's own chatter; our log says what matters
        try:
            self._model = vosk.Model(str(model_dir))
        except Exception as exc:  # vosk raises a bare Exception on a bad model
            raise ModelError(f"{model_dir}: cannot load vosk model: {exc}") from exc
        self._vosk: Any = vosk
        self.model_dir = model_dir
        self.rate = _model_rate(model_dir)
        self.use_grammar = use_grammar
        self.max_audio_s = max_audio_s
        self._grammars: dict[tuple[str, ...], str | None] = {}
        self._lock = threading.Lock()
        self._has_unknown = self._knows(UNKNOWN_WORD)

    def transcribe(
        self, wav: Path, *, phrases: Sequence[str] | None = None, best_only: bool = False
    ) -> Transcript:
        started = time.perf_counter()
        audio = read_wav(wav, max_seconds=self.max_audio_s, rate=self.rate)
        if audio.empty:
            return Transcript("", 0.0, time.perf_counter() - started)
        grammar = self.grammar(phrases) if self.use_grammar else None
        text, confidence = self._decode(audio, grammar)
        return Transcript(text, confidence, time.perf_counter() - started)

    def warm_up(self) -> None:
        noise = np.random.default_rng(0).normal(0.0, 0.01, self.rate).astype(np.float32)
        self._decode(Audio(noise, self.rate), None)

    def grammar(self, phrases: Sequence[str] | None) -> str | None:
        """The JSON phrase list vosk takes, or None for free recognition."""
        vocabulary = menu_vocabulary(phrases)
        if not vocabulary:
            return None
        with self._lock:
            if vocabulary in self._grammars:
                return self._grammars[vocabulary]
            known = [p for p in vocabulary if all(self._knows(w) for w in p.split())]
            dropped = [p for p in vocabulary if p not in known]
            if dropped:
                log.info(
                    "vosk model %s does not know every word of %s: left out of the grammar",
                    self.model_dir.name,
                    ", ".join(repr(p) for p in dropped),
                )
            if self._has_unknown and known:
                known.append(UNKNOWN_WORD)
            grammar = json.dumps(known, ensure_ascii=False) if known else None
            if len(self._grammars) >= _GRAMMAR_CACHE_SIZE:
                self._grammars.clear()
            self._grammars[vocabulary] = grammar
            return grammar

    def _knows(self, word: str) -> bool:
        return int(self._model.vosk_model_find_word(word)) >= 0

    def _decode(self, audio: Audio, grammar: str | None) -> tuple[str, float]:
        if grammar is None:
            recognizer = self._vosk.KaldiRecognizer(self._model, float(audio.rate))
        else:
            recognizer = self._vosk.KaldiRecognizer(self._model, float(audio.rate), grammar)
        recognizer.SetWords(True)
        recognizer.AcceptWaveform(audio.as_int16_bytes())
        result = json.loads(recognizer.FinalResult())
        words = [w for w in result.get("result", ()) if w.get("word") != UNKNOWN_WORD]
        text = " ".join(str(w["word"]) for w in words)
        confidence = sum(float(w.get("conf", 0.0)) for w in words) / len(words) if words else 0.0
        return text, min(max(confidence, 0.0), 1.0)


def _model_rate(model_dir: Path) -> int:
    """The rate the model was trained at (``conf/mfcc.conf``; Kaldi's default: 16 kHz)."""
    try:
        conf = (model_dir / "conf" / "mfcc.conf").read_text(encoding="utf-8")
    except OSError:
        return _DEFAULT_RATE
    match = _SAMPLE_FREQUENCY.search(conf)
    return int(match.group(1)) if match else _DEFAULT_RATE
