"""Where a recording has sound and where silence: a 16-bit mono WAV cut into 20 ms frames,
each sound or silence by its RMS, merged into runs (shorter ones folded into the run before,
so a click is not a run of its own). Used on the emulator's MixMonitor files and on the real
Asterisk's."""

from __future__ import annotations

import array
import math
import sys
import wave
from pathlib import Path

#: RMS (of 32768) above which a 20 ms frame is sound; Asterisk's muted frames are zeros.
SOUND_RMS = 200.0
FRAME_MS = 20


def frames(path: Path) -> tuple[list[float], float]:
    """The RMS of every 20 ms frame, and the frame length in seconds."""
    with wave.open(str(path)) as audio:
        assert (audio.getnchannels(), audio.getsampwidth()) == (1, 2), path
        rate = audio.getframerate()
        pcm = array.array("h", audio.readframes(audio.getnframes()))
    if sys.byteorder == "big":
        pcm.byteswap()
    size = rate * FRAME_MS // 1000
    rms = [
        math.sqrt(sum(s * s for s in pcm[i : i + size]) / size)
        for i in range(0, len(pcm) - size + 1, size)
    ]
    return rms, size / rate


def runs(path: Path, *, min_s: float = 0.5) -> list[tuple[str, float]]:
    """``[("sound", seconds), ("silence", seconds), ...]`` in order."""
    rms, frame_s = frames(path)
    merged: list[list[object]] = []
    for value in rms:
        kind = "sound" if value > SOUND_RMS else "silence"
        if merged and merged[-1][0] == kind:
            merged[-1][1] = float(merged[-1][1]) + frame_s  # type: ignore[arg-type]
        else:
            merged.append([kind, frame_s])
    kept: list[tuple[str, float]] = []
    for kind, length in ((str(k), float(v)) for k, v in merged):  # type: ignore[arg-type]
        if kept and (length < min_s or kept[-1][0] == kind):
            kept[-1] = (kept[-1][0], kept[-1][1] + length)
        else:
            kept.append((kind, length))
    return kept
