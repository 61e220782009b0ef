"""Bot audio: pyVoIP sends and receives 8 kHz mono unsigned 8-bit linear samples (it does
the PCMU coding itself). Pure functions, no I/O but reading and writing wav files.

DTMF is sent **in-band** (dual tones): pyVoIP 1.6.8 decodes RFC 2833 events it receives but
cannot send them, so the bots' PJSIP endpoint uses ``dtmf_mode=inband`` (docker/asterisk).
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

__all__ = ["DTMF_FREQUENCIES", "RATE", "dtmf", "read_wav", "silence", "write_wav"]

RATE = 8000
#: (row, column) frequencies in Hz of each key (ITU-T Q.23).
DTMF_FREQUENCIES: dict[str, tuple[int, int]] = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}  # fmt: skip
_MIDDLE = 128  # unsigned 8-bit silence


def silence(seconds: float) -> bytes:
    return bytes([_MIDDLE]) * int(seconds * RATE)


def dtmf(digits: str, *, tone_s: float = 0.12, gap_s: float = 0.12) -> bytes:
    """In-band tones for ``digits`` (Q.24 asks >= 40 ms of tone and of pause; these are
    longer, for codecs and jitter), each followed by a gap."""
    out = bytearray()
    t = np.arange(int(tone_s * RATE)) / RATE
    for digit in digits.upper():
        if digit not in DTMF_FREQUENCIES:
            raise ValueError(f"not a DTMF key: {digit!r}")
        low, high = DTMF_FREQUENCIES[digit]
        wave_ = 0.45 * np.sin(2 * np.pi * low * t) + 0.45 * np.sin(2 * np.pi * high * t)
        out += _to_u8(wave_)
        out += silence(gap_s)
    return bytes(out)


def read_wav(path: Path) -> bytes:
    """A mono wav (8 or 16 bit) at 8 kHz as pyVoIP's unsigned 8-bit samples."""
    with wave.open(str(path), "rb") as wav:
        if wav.getnchannels() != 1 or wav.getframerate() != RATE:
            raise ValueError(f"{path}: need 8 kHz mono (sox in.wav -r 8000 -c 1 out.wav)")
        width, frames = wav.getsampwidth(), wav.readframes(wav.getnframes())
    if width == 1:
        return frames
    if width != 2:
        raise ValueError(f"{path}: 8 or 16-bit samples only")
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float64) / 32768.0
    return _to_u8(samples)


def write_wav(path: Path, samples: bytes) -> None:
    """What a bot heard, as an 8 kHz mono unsigned 8-bit wav."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(1)
        wav.setframerate(RATE)
        wav.writeframes(samples)


def _to_u8(samples: np.ndarray) -> bytes:
    clipped = np.clip(samples, -1.0, 1.0)
    return bytes((clipped * 127 + _MIDDLE).round().astype(np.uint8).tobytes())
