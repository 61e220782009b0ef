"""Decoding uploaded audio with its size bounded before and while it is decoded.

A recording's header can lie in both directions: a 494 KB FLAC of an hour of silence
decodes to more than a gigabyte, and a RIFF header may claim 2 GB of samples the file does
not hold. So nothing is decoded whole into memory:

- a RIFF/WAVE header is read first (``wav_header``): the sizes it claims must fit in the
  file, and the length they give must be a prompt's;
- other formats are asked their length by ``ffprobe`` (a header read, no decoding), and a
  declared length beyond the cap is refused;
- the decoding itself (``decode_to_wav``) streams: ffmpeg converts to 8 kHz mono 16-bit
  PCM, stops after the cap plus a second (``-t``), and the output is written to the
  destination chunk by chunk while counted, so memory stays at one chunk whatever the file
  says about itself (a header that under-states its length included).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

RATE = 8000
CHANNELS = 1
SAMPLE_WIDTH = 2
_CHUNK = 64 * 1024
#: A decode that takes longer than this is stopped (a codec made to be slow).
DECODE_TIMEOUT_S = 120.0
PROBE_TIMEOUT_S = 30.0
_RIFF_HEADER = struct.Struct("<4sI4s")
_CHUNK_HEADER = struct.Struct("<4sI")
_FMT = struct.Struct("<HHIIHH")


class AudioRefused(Exception):
    """The recording cannot be used (the message says why, for an admin)."""


@dataclass(frozen=True)
class WavHeader:
    channels: int
    rate: int
    sample_width: int
    data_bytes: int

    @property
    def seconds(self) -> float:
        frame = self.channels * self.sample_width
        return self.data_bytes / (frame * self.rate) if frame and self.rate else 0.0


def is_riff(path: Path) -> bool:
    with path.open("rb") as file:
        return file.read(4) == b"RIFF"


def wav_header(path: Path, *, max_seconds: float) -> WavHeader:
    """The header of a RIFF/WAVE file, checked against the file's real size and the cap."""
    size = path.stat().st_size
    with path.open("rb") as file:
        riff, riff_size, wave_id = _RIFF_HEADER.unpack(_read(file, _RIFF_HEADER.size))
        if riff != b"RIFF" or wave_id != b"WAVE":
            raise AudioRefused("not a RIFF/WAVE file")
        if riff_size + 8 > size + 1:  # one pad byte of slack
            raise AudioRefused(
                f"the RIFF header claims {riff_size + 8} bytes but the file holds {size}"
            )
        fmt: tuple[int, ...] | None = None
        while True:
            chunk_id, chunk_size = _CHUNK_HEADER.unpack(_read(file, _CHUNK_HEADER.size))
            start = file.tell()
            if chunk_size > size - start:
                raise AudioRefused(
                    f"the {chunk_id.decode('latin-1')!r} chunk claims {chunk_size} bytes but "
                    f"only {size - start} follow it"
                )
            if chunk_id == b"fmt ":
                fmt = _FMT.unpack(_read(file, _FMT.size))
            elif chunk_id == b"data":
                if fmt is None:
                    raise AudioRefused("the data chunk comes before the format chunk")
                _, channels, rate, _, _, bits = fmt
                header = WavHeader(channels, rate, max(bits // 8, 1), chunk_size)
                if header.seconds > max_seconds:
                    raise AudioRefused(
                        f"{header.seconds:.0f} s is longer than a prompt can be "
                        f"({max_seconds:.0f} s)"
                    )
                return header
            file.seek(start + chunk_size + (chunk_size & 1))


def _read(file: object, count: int) -> bytes:
    data: bytes = file.read(count)  # type: ignore[attr-defined]
    if len(data) != count:
        raise AudioRefused("the RIFF header ends early")
    return data


def ffmpeg_available() -> bool:
    return shutil.which("ffmpeg") is not None


def probe_seconds(path: Path) -> float | None:
    """The length the file's headers declare (ffprobe reads them, decodes nothing); None
    when they do not say or ffprobe is missing."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        return None
    try:
        done = subprocess.run(
            [ffprobe, "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", path],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AudioRefused("reading its header took too long") from None
    try:
        return float(done.stdout.strip().splitlines()[0])
    except (ValueError, IndexError):
        return None


def decode_to_wav(source: Path, destination: Path, *, max_seconds: float) -> float:
    """``source`` as 8 kHz mono 16-bit PCM into the wav file ``destination``, streamed;
    ``AudioRefused`` past ``max_seconds`` (at most that much is ever decoded). Returns the
    length in seconds."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise AudioRefused("reading this file needs ffmpeg (apt-get install ffmpeg)")
    cap = int(max_seconds * RATE) * SAMPLE_WIDTH * CHANNELS
    command = [
        ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-i", str(source),
        "-map", "0:a:0", "-vn", "-t", f"{max_seconds + 1:g}",
        "-ac", str(CHANNELS), "-ar", str(RATE), "-f", "s16le", "-acodec", "pcm_s16le", "pipe:1",
    ]  # fmt: skip
    written = 0
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        too_slow = threading.Event()

        def stop() -> None:
            too_slow.set()
            process.kill()

        timer = threading.Timer(DECODE_TIMEOUT_S, stop)
        timer.start()
        try:
            assert process.stdout is not None
            with wave.open(str(destination), "wb") as out:
                out.setnchannels(CHANNELS)
                out.setsampwidth(SAMPLE_WIDTH)
                out.setframerate(RATE)
                while chunk := process.stdout.read(_CHUNK):
                    written += len(chunk)
                    if written > cap:
                        raise AudioRefused(
                            f"longer than a prompt can be ({max_seconds:.0f} s): stopped there"
                        )
                    out.writeframes(chunk)
        finally:
            timer.cancel()
            if process.poll() is None:
                process.kill()
            process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if too_slow.is_set():
            raise AudioRefused(f"decoding took longer than {DECODE_TIMEOUT_S:.0f} s")
        if process.returncode != 0:
            errors.seek(0)
            message = errors.read(2000).decode("utf-8", "replace").strip().splitlines()
            reason = message[-1] if message else f"ffmpeg exited with {process.returncode}"
            raise AudioRefused(f"not audio ffmpeg can read ({reason[:200]})")
    return written / (RATE * SAMPLE_WIDTH * CHANNELS)
