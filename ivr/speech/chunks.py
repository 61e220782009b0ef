"""A whole call's recording cut into pieces a recogniser takes (post-call transcription).

The recognisers decode at most ``max_audio_s`` at once (Whisper's window is 30 s), so a
call's recording is cut into chunks of at most ``chunk_s`` seconds, each cut made at the
quietest 20 ms within the last ``seek_s`` before the limit (between words, mostly, not
through one). Chunks are written as 16-bit PCM WAVs at the recording's own rate.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from ivr.speech.audio import Audio, read_wav

__all__ = ["cut_points", "split_recording"]

_FRAME_S = 0.02


def cut_points(audio: Audio, *, chunk_s: float, seek_s: float = 3.0) -> list[tuple[int, int]]:
    """``(start, end)`` sample ranges covering ``audio``, each at most ``chunk_s`` long."""
    total, rate = len(audio.samples), audio.rate
    limit = max(1, int(chunk_s * rate))
    frame = max(1, int(_FRAME_S * rate))
    ranges: list[tuple[int, int]] = []
    start = 0
    while start < total:
        end = min(total, start + limit)
        if end < total:
            window_start = max(start + frame, end - int(seek_s * rate))
            window = audio.samples[window_start:end]
            frames = len(window) // frame
            if frames > 1:
                energy = np.square(window[: frames * frame]).reshape(frames, frame).sum(axis=1)
                end = window_start + int(np.argmin(energy)) * frame + frame // 2
        ranges.append((start, end))
        start = end
    return ranges


def split_recording(
    wav: Path, into: Path, *, chunk_s: float, max_s: float
) -> tuple[list[Path], float]:
    """Write the chunks of ``wav`` (its first ``max_s`` seconds) into the directory ``into``;
    returns their paths in order and the seconds of audio they hold. ``AudioError`` if the
    recording cannot be read."""
    audio = read_wav(wav, max_seconds=max_s)
    paths: list[Path] = []
    for index, (start, end) in enumerate(cut_points(audio, chunk_s=chunk_s)):
        path = into / f"chunk-{index:04d}.wav"
        piece = Audio(audio.samples[start:end], audio.rate)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(audio.rate)
            out.writeframes(piece.as_int16_bytes())
        paths.append(path)
    return paths, audio.seconds
