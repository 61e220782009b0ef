"""Test utterances: espeak-ng speech converted by sox to what Asterisk records (8 kHz mono s16).

For tests, the bench and the emulator's speaking callers; the service never calls it.
Needs the Debian packages ``espeak-ng`` and ``sox``. ``speed`` is espeak-ng's words per
minute (its default is 175); ``snr_db`` mixes in white noise at that signal-to-noise ratio
(deterministic: seeded by the utterance), a line's hiss or a noisy street.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np

__all__ = ["TELEPHONY_RATE", "SynthesisError", "add_noise", "synthesis_available", "synthesize"]

TELEPHONY_RATE = 8000
_TIMEOUT_S = 30


class SynthesisError(RuntimeError):
    """espeak-ng or sox is missing or failed."""


def synthesis_available() -> bool:
    return shutil.which("espeak-ng") is not None and shutil.which("sox") is not None


def synthesize(
    text: str,
    directory: Path,
    *,
    voice: str = "en",
    rate: int = TELEPHONY_RATE,
    speed: int | None = None,
    snr_db: float | None = None,
) -> Path:
    """``text`` spoken by espeak-ng's ``voice`` as a wav in ``directory`` (cached by content)."""
    if not synthesis_available():
        raise SynthesisError("espeak-ng and sox are needed (Debian packages espeak-ng, sox)")
    key = f"{voice}\0{rate}\0{text}" + (
        "" if speed is None and snr_db is None else f"\0{speed}\0{snr_db}"
    )
    digest = hashlib.sha1(key.encode()).hexdigest()[:16]
    stem = f"{voice.replace('+', '_')}-{digest}"
    target = directory / f"{stem}.wav"
    if target.is_file():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    raw = directory / f"{stem}.raw.wav"
    partial = directory / f"{stem}.part.wav"
    speaking = ["-s", str(speed)] if speed is not None else []
    try:
        _run(["espeak-ng", "-v", voice, *speaking, "-w", str(raw), "--", text])
        _run(
            [
                "sox",
                "-R",  # repeatable dither: the same words give the same file, run after run
                str(raw),
                "-r",
                str(rate),
                "-c",
                "1",
                "-b",
                "16",
                "-e",
                "signed-integer",
                str(partial),
            ]
        )
        if snr_db is not None:
            add_noise(partial, snr_db, seed=int(digest, 16))
        partial.replace(target)
    finally:
        raw.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return target


def add_noise(path: Path, snr_db: float, *, seed: int = 0) -> None:
    """Mix white noise into a 16-bit mono wav in place, ``snr_db`` below the speech's power."""
    with wave.open(str(path), "rb") as wav:
        params = wav.getparams()
        pcm = np.frombuffer(wav.readframes(params.nframes), dtype="<i2").astype(np.float64)
    voiced = pcm[np.abs(pcm) > 0.02 * (np.abs(pcm).max() or 1.0)]
    power = float(np.mean(voiced**2)) if voiced.size else 0.0
    noise = np.random.default_rng(seed).normal(0.0, np.sqrt(power / 10 ** (snr_db / 10)), pcm.size)
    mixed = np.clip(np.rint(pcm + noise), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setparams(params)
        wav.writeframes(mixed.tobytes())


def _run(command: list[str]) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SynthesisError(f"{command[0]} failed: {exc}") from exc
