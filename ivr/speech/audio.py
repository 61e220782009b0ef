"""Reading a call recording into the samples a recogniser wants.

Asterisk's ``RECORD FILE ... wav`` writes 8 kHz mono 16-bit PCM; a caller who says nothing
(or hangs up at the beep) leaves a 44-byte header with no samples, which is "nothing said",
not an error. Anything the stdlib ``wave`` module cannot parse, or a format we do not
decode (GSM ``wav49``, 8-bit, float), is an ``AudioError``: the file is hostile input.

Resampling uses soxr (libsoxr, sox's band-limited resampler, in C, releasing the GIL):
correct anti-aliasing at a fraction of scipy's size; repeating samples would alias.
"""

from __future__ import annotations

import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import soxr  # type: ignore[import-untyped]

__all__ = ["Audio", "AudioError", "read_wav", "resample"]

#: Samples are float32 in [-1, 1): what Whisper takes, and what vosk gets back as int16.
Samples = npt.NDArray[np.float32]

_INT16_SCALE = 32768.0


class AudioError(ValueError):
    """The recording cannot be read as PCM speech (missing, corrupt, unsupported format)."""


@dataclass(frozen=True)
class Audio:
    """Mono float32 samples at ``rate`` Hz; ``truncated`` when the file held more than the cap."""

    samples: Samples
    rate: int
    truncated: bool = False

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate if self.rate else 0.0

    @property
    def empty(self) -> bool:
        return len(self.samples) == 0

    def as_int16_bytes(self) -> bytes:
        """Little-endian 16-bit PCM, as vosk's ``AcceptWaveform`` reads it."""
        scaled = np.clip(np.rint(self.samples * _INT16_SCALE), -32768, 32767)
        pcm: bytes = scaled.astype("<i2").tobytes()
        return pcm


def read_wav(path: Path, *, max_seconds: float = 30.0, rate: int | None = None) -> Audio:
    """Read a PCM wav, mix down to mono, keep at most ``max_seconds``, resample to ``rate``.

    The cap bounds memory and decode time whatever the file claims: a menu answer is in
    the first seconds. Fewer samples than the header promises (a recording cut short)
    are accepted as they are.
    """
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, source_rate = (
                wav.getnchannels(),
                wav.getsampwidth(),
                wav.getframerate(),
            )
            if width != 2:
                raise AudioError(f"{path}: {8 * width}-bit samples; expected 16-bit PCM")
            if not 1 <= channels <= 8 or not 1000 <= source_rate <= 192_000:
                raise AudioError(f"{path}: implausible format ({channels} ch, {source_rate} Hz)")
            wanted = int(max_seconds * source_rate)
            available = wav.getnframes()
            raw = wav.readframes(min(available, wanted))
    except AudioError:
        raise
    except (wave.Error, EOFError, OSError) as exc:
        raise AudioError(f"{path}: unreadable wav: {exc}") from exc
    usable = len(raw) - len(raw) % (2 * channels)
    pcm = np.frombuffer(raw[:usable], dtype="<i2").astype(np.float32) / _INT16_SCALE
    if channels > 1:
        pcm = pcm.reshape(-1, channels).mean(axis=1, dtype=np.float32)
    audio = Audio(pcm, source_rate, truncated=available > wanted)
    return audio if rate is None else resample(audio, rate)


def resample(audio: Audio, rate: int) -> Audio:
    """The same sound at ``rate`` Hz (band-limited; a no-op when the rate already matches)."""
    if audio.rate == rate or audio.empty:
        return Audio(audio.samples, rate, audio.truncated)
    samples = soxr.resample(audio.samples, audio.rate, rate, quality="HQ")
    return Audio(np.asarray(samples, dtype=np.float32), rate, audio.truncated)
