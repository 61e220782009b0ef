"""Test utterances: espeak-ng speech converted by sox to what Asterisk records (8 kHz mono s16).

For tests, the bench and the emulator's speaking callers; the service never calls it.
Needs the Debian packages ``espeak-ng`` and ``sox``.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

__all__ = ["TELEPHONY_RATE", "SynthesisError", "synthesis_available", "synthesize"]

TELEPHONY_RATE = 8000
_TIMEOUT_S = 30


class SynthesisError(RuntimeError):
    """espeak-ng or sox is missing or failed."""


def synthesis_available() -> bool:
    return shutil.which("espeak-ng") is not None and shutil.which("sox") is not None


def synthesize(
    text: str, directory: Path, *, voice: str = "en", rate: int = TELEPHONY_RATE
) -> Path:
    """``text`` spoken by espeak-ng's ``voice`` as a wav in ``directory`` (cached by content)."""
    if not synthesis_available():
        raise SynthesisError("espeak-ng and sox are needed (Debian packages espeak-ng, sox)")
    digest = hashlib.sha1(f"{voice}\0{rate}\0{text}".encode()).hexdigest()[:16]
    target = directory / f"{voice}-{digest}.wav"
    if target.is_file():
        return target
    directory.mkdir(parents=True, exist_ok=True)
    raw = directory / f"{voice}-{digest}.raw.wav"
    partial = directory / f"{voice}-{digest}.part.wav"
    try:
        _run(["espeak-ng", "-v", voice, "-w", str(raw), "--", text])
        _run(
            [
                "sox",
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
        partial.replace(target)
    finally:
        raw.unlink(missing_ok=True)
        partial.unlink(missing_ok=True)
    return target


def _run(command: list[str]) -> None:
    try:
        subprocess.run(command, check=True, capture_output=True, timeout=_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        raise SynthesisError(f"{command[0]} failed: {exc}") from exc
