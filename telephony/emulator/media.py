"""Prompt lengths, SAY durations, and the audio files RECORD FILE writes.

Asterisk reports positions in samples at 8 kHz (hello-world: endpos 11234 = 1.404 s). A prompt's
length comes from an override, a real file (a sounds dir, or an absolute path), the table of
prompts seen in the recorded transcripts, or a default for unknown names (None: unknown prompts
are missing files, as on a real Asterisk).
"""

from __future__ import annotations

import array
import logging
import sys
import wave
from collections.abc import Mapping
from pathlib import Path
from typing import Final

import numpy as np

log = logging.getLogger(__name__)

RATE: Final = 8000
# Lengths in samples of the prompts the lab's Asterisk played (see tests/fixtures/asterisk).
KNOWN_PROMPTS: Final[Mapping[str, int]] = {
    "hello-world": 11234,
    "vm-sorry": 24580,
    "beep": 3360,
    "demo-congrats": 160000,
    "/var/lib/asterisk/sounds/custom/lab-test": 18215,
}
# bytes per 8 kHz sample of raw formats, by file extension
_RAW_BYTES_PER_SAMPLE: Final = {".sln": 2.0, ".raw": 2.0, ".ulaw": 1.0, ".alaw": 1.0, ".pcm": 1.0}
_GSM_FRAME: Final = bytes.fromhex(
    "d820a2e15a50004924924924500049249249245000492492492450004924924924"
)
_EXTENSIONS: Final = (".wav", ".WAV", ".gsm", ".sln", ".raw", ".ulaw", ".alaw", ".pcm", ".sln16")
RECORD_FORMATS: Final = {
    "wav": ".wav", "wav16": ".wav16", "sln": ".sln", "raw": ".raw", "gsm": ".gsm"
}  # fmt: skip
#: Formats whose files are not 8 kHz: their samples (and RECORD FILE's endpos) at this rate.
RECORD_RATES: Final = {"wav16": 16000}
SAY_FIXED_S: Final = {"DATE": 6.35, "TIME": 2.45, "DATETIME": 9.4}
SAY_PER_ITEM_S: Final = {"DIGITS": 0.86, "ALPHA": 0.74, "PHONETIC": 0.885, "NUMBER": 0.88}


class Prompts:
    """Where a prompt's length comes from (see the module docstring)."""

    def __init__(
        self,
        sounds_dir: Path | None = None,
        lengths_s: Mapping[str, float] | None = None,
        unknown_s: float | None = 2.0,
    ) -> None:
        self._dir = sounds_dir
        self._lengths = dict(lengths_s or {})
        self._unknown = unknown_s

    def samples(self, name: str, language: str = "en") -> int | None:
        """Length in 8 kHz samples, or None if Asterisk would not find the file."""
        if name in self._lengths:
            return round(self._lengths[name] * RATE)
        found = self._file(name, language)
        if found is not None:
            return file_samples(found)
        if name in KNOWN_PROMPTS:
            return KNOWN_PROMPTS[name]
        return None if self._unknown is None else round(self._unknown * RATE)

    def _file(self, name: str, language: str) -> Path | None:
        bases: list[Path] = []
        if name.startswith("/"):
            bases.append(Path(name))
        elif self._dir is not None:
            bases += [self._dir / language / name, self._dir / name]
        for base in bases:
            for ext in _EXTENSIONS:
                candidate = base.with_name(base.name + ext)
                if candidate.is_file():
                    return candidate
        return None

    def total(self, names: str, language: str = "en") -> int | None:
        """`a&b&c` as Asterisk plays it; None if the first file is missing."""
        total = 0
        for i, name in enumerate(n for n in names.split("&") if n):
            got = self.samples(name, language)
            if got is None:
                if i == 0:
                    return None
                continue
            total += got
        return total


def file_samples(path: Path) -> int:
    try:
        if path.suffix.lower() == ".wav":
            with wave.open(str(path), "rb") as w:
                return round(w.getnframes() * RATE / w.getframerate())
        size = path.stat().st_size
    except (OSError, wave.Error, EOFError) as exc:
        log.warning("unreadable prompt %s: %s", path, exc)
        return 0
    if path.suffix == ".gsm":
        return size // 33 * 160
    if path.suffix == ".sln16":
        return size // 4
    return int(size / _RAW_BYTES_PER_SAMPLE.get(path.suffix, 2.0))


def number_words(n: int) -> int:
    """How many words an English SAY NUMBER speaks (123: one hundred twenty three = 4)."""
    if n < 0:
        return 1 + number_words(-n)
    if n < 20:
        return 1
    if n < 100:
        return 1 + (n % 10 != 0)
    for size, words in ((10**9, 1), (10**6, 1), (1000, 1), (100, 1)):
        if n >= size:
            rest = n % size
            return number_words(n // size) + words + (number_words(rest) if rest else 0)
    return 1


def say_seconds(kind: str, text: str) -> float:
    if kind in SAY_FIXED_S:
        return SAY_FIXED_S[kind]
    per = SAY_PER_ITEM_S.get(kind, 0.8)
    if kind == "NUMBER":
        return per * number_words(int(text))
    return per * len(text)


def load_speech(path: Path) -> array.array[int]:
    """A wav as 8 kHz mono 16-bit samples (any rate or channel count; 16-bit PCM only)."""
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (OSError, wave.Error, EOFError) as exc:
        log.warning("caller speech %s unreadable (%s): sending silence", path, exc)
        return array.array("h")
    if width != 2:
        log.warning("caller speech %s is not 16-bit PCM: sending silence", path)
        return array.array("h")
    pcm = array.array("h", raw)
    if sys.byteorder == "big":
        pcm.byteswap()
    if channels > 1:
        pcm = array.array(
            "h", (sum(pcm[i : i + channels]) // channels for i in range(0, len(pcm), channels))
        )
    if rate != RATE and pcm:
        out_len = len(pcm) * RATE // rate
        step = rate / RATE
        pcm = array.array("h", (pcm[min(int(i * step), len(pcm) - 1)] for i in range(out_len)))
    return pcm


def write_recording(base: str, fmt: str, audio: array.array[int]) -> Path:
    """Writes 8 kHz `audio` to `<base>.<ext>` like Asterisk (wav: RIFF PCM 16-bit mono 8 kHz;
    wav16: the same at 16 kHz, as codec_resample brings an 8 kHz caller to it).

    gsm files get valid GSM 6.10 silence frames of the right length (no GSM encoder here)."""
    path = Path(base + RECORD_FORMATS[fmt])
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = RECORD_RATES.get(fmt, RATE)
    pcm = upsample(audio, rate) if rate != RATE else array.array("h", audio)
    if sys.byteorder == "big":
        pcm.byteswap()
    if fmt in ("wav", "wav16"):
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes(pcm.tobytes())
    elif fmt == "gsm":
        path.write_bytes(_GSM_FRAME * (len(pcm) // 160))
    else:
        path.write_bytes(pcm.tobytes())
    return path


def upsample(audio: array.array[int], rate: int) -> array.array[int]:
    """8 kHz samples at ``rate`` (a multiple), by linear interpolation."""
    factor = rate // RATE
    at = np.arange(len(audio) * factor) / factor
    out = np.interp(at, np.arange(len(audio)), audio) if audio else at
    return array.array("h", out.round().astype(np.int16).tobytes())
