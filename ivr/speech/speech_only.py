"""What every backend does to a recording before decoding it, and the guard after.

A noisy line (estimated SNR under the backend's ``denoise_below_db``) has its steady noise
subtracted (``noise``), then Silero VAD (shipped inside faster-whisper, a few ms) keeps
only the speech: silence becomes "" without running a decoder at all (on silence Whisper
hallucinates "Thank you."). After decoding, a reading stuck in a loop ("Internet,
Internet, ...") is left out as unsure.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from pathlib import Path

import numpy as np
import numpy.typing as npt

from ivr.speech.audio import read_wav
from ivr.speech.noise import denoise

__all__ = ["looping", "read_speech", "speech_only"]

Samples = npt.NDArray[np.float32]

#: The rate Whisper and Moonshine both take.
SPEECH_RATE = 16_000

#: Speech kept around what VAD found.
_SPEECH_PAD_MS = 200
#: A reading is a loop when one of its words is half of it, from this many words.
_LOOP_MIN_WORDS = 4
_WORD = re.compile(r"[\w']+")


def speech_only(samples: Samples, *, vad: bool, denoise_below_db: float | None) -> Samples:
    """The 16 kHz samples cleaned (noise subtracted under ``denoise_below_db``) and cut to
    what VAD hears as speech, with a little padding: empty when nothing was said."""
    if samples.size == 0:
        return samples
    if denoise_below_db is not None:
        samples = denoise(samples, denoise_below_db)
    if not vad:
        return samples
    from faster_whisper.vad import (  # type: ignore[import-untyped]
        VadOptions,
        get_speech_timestamps,
    )

    options = VadOptions(min_silence_duration_ms=500, speech_pad_ms=_SPEECH_PAD_MS)
    stamps = get_speech_timestamps(samples, options)
    if not stamps:
        return samples[:0]
    return np.concatenate([samples[s["start"] : s["end"]] for s in stamps])


def read_speech(
    wav: Path, *, max_seconds: float, vad: bool, denoise_below_db: float | None
) -> Samples:
    """The recording's first ``max_seconds`` at 16 kHz (what both backends decode), cleaned
    and cut to its speech by ``speech_only``: empty when nothing was said."""
    audio = read_wav(wav, max_seconds=max_seconds, rate=SPEECH_RATE)
    return speech_only(audio.samples, vad=vad, denoise_below_db=denoise_below_db)


def words(text: str) -> list[str]:
    """The words of a reading, case folded."""
    return _WORD.findall(text.casefold())


def looping(text: str, expected: Collection[str] = ()) -> bool:
    """A decoder stuck in a loop ("Internet, Internet, Internet, ..."), Whisper's known
    failure on noise: one word is half or more of a reading of four words or more.
    Whisper's own guard, gzip's compression ratio, needs far longer text than an answer to
    a menu. A word the caller was asked for (``expected``: the menu's words, digits) may
    repeat: "one one one one two three" is an account number."""
    found = words(text)
    if len(found) < _LOOP_MIN_WORDS:
        return False
    counts = Counter(w for w in found if w not in expected and not w.isdecimal())
    return bool(counts) and max(counts.values()) * 2 >= len(found)
