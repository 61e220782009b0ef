"""Decompression bombs uploaded as prompts (issue 16, finding 4): a small file that decodes to
an hour, a header that hides its length, a RIFF header claiming 2 GB. Each is refused, and
the Python memory the import takes stays bounded (it is measured, not timed): nothing is
decoded whole.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tracemalloc
import wave
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest

from ivr import prompts
from ivr.prompts import MAX_IMPORT_SECONDS, PromptImportError, import_prompt

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="needs ffmpeg")
#: What an import may allocate in Python, whatever the file claims: a few chunks.
BOUND = 8 * 1024 * 1024
T = TypeVar("T")


def peak_memory(action: Callable[[], T]) -> tuple[T | Exception, int]:
    """What ``action`` returned (or raised) and the most Python memory it held at once."""
    tracemalloc.start()
    try:
        try:
            outcome: T | Exception = action()
        except Exception as error:  # noqa: BLE001 (returned for the test to look at)
            outcome = error
        return outcome, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def silence(path: Path, seconds: int, *, seekable: bool = True) -> Path:
    """An hour of silence compresses to a few hundred KB of FLAC. Written to a pipe, the
    encoder cannot go back to write the length into the header: it says nothing."""
    source = ["-f", "lavfi", "-i", "anullsrc=r=8000:cl=mono", "-t", str(seconds), "-c:a", "flac"]
    command = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *source]
    if seekable:
        subprocess.run([*command, str(path)], check=True)
    else:
        with path.open("wb") as out:
            subprocess.run([*command, "-f", "flac", "pipe:1"], check=True, stdout=out)
    return path


@pytest.fixture(scope="module")
def hour_of_flac(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return silence(tmp_path_factory.mktemp("bombs") / "hour.flac", 3600)


@pytest.fixture(scope="module")
def hour_of_flac_without_length(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return silence(tmp_path_factory.mktemp("bombs") / "hidden.flac", 3600, seekable=False)


@needs_ffmpeg
def test_an_hour_of_flac_is_refused_from_its_header_without_decoding(
    hour_of_flac: Path, tmp_path: Path
) -> None:
    target = tmp_path / "en" / "offer.wav"
    assert hour_of_flac.stat().st_size < 1024 * 1024  # the bomb: an hour in under 1 MB
    outcome, peak = peak_memory(lambda: import_prompt(hour_of_flac, target))
    assert isinstance(outcome, PromptImportError)
    assert "3600 s is longer than a prompt can be" in str(outcome)
    assert peak < BOUND
    assert not target.exists()
    assert list(tmp_path.rglob("*.wav")) == []  # nothing decoded, nothing left behind


@needs_ffmpeg
def test_a_header_hiding_its_length_is_stopped_at_the_cap_while_decoding(
    hour_of_flac_without_length: Path, tmp_path: Path
) -> None:
    target = tmp_path / "offer.wav"
    outcome, peak = peak_memory(lambda: import_prompt(hour_of_flac_without_length, target))
    assert isinstance(outcome, PromptImportError)
    assert f"longer than a prompt can be ({MAX_IMPORT_SECONDS} s): stopped there" in str(outcome)
    assert peak < BOUND
    assert list(tmp_path.iterdir()) == []


def riff(data_bytes_claimed: int, frames: bytes, *, riff_claimed: int | None = None) -> bytes:
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    riff_size = riff_claimed if riff_claimed is not None else 4 + 24 + 8 + data_bytes_claimed
    return (
        struct.pack("<4sI4s", b"RIFF", riff_size, b"WAVE")
        + struct.pack("<4sI", b"fmt ", 16)
        + fmt
        + struct.pack("<4sI", b"data", data_bytes_claimed)
        + frames
    )


@pytest.mark.parametrize("ffmpeg", [True, False], ids=["ffmpeg", "without ffmpeg"])
def test_a_riff_header_claiming_2_gb_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ffmpeg: bool
) -> None:
    if ffmpeg and shutil.which("ffmpeg") is None:
        pytest.skip("needs ffmpeg")
    monkeypatch.setattr(prompts, "ffmpeg_available", lambda: ffmpeg)
    liar = tmp_path / "liar.wav"
    liar.write_bytes(riff(2_000_000_000, b"\x00\x01" * 800))
    outcome, peak = peak_memory(lambda: import_prompt(liar, tmp_path / "out.wav"))
    assert isinstance(outcome, PromptImportError)
    assert "claims" in str(outcome)
    assert peak < BOUND
    assert not (tmp_path / "out.wav").exists()


def test_a_wav_longer_than_a_prompt_is_refused_before_decoding(tmp_path: Path) -> None:
    long = tmp_path / "long.wav"
    with wave.open(str(long), "wb") as out:  # 11 minutes of 8 kHz 8-bit: 5 MB, all there
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(8000)
        out.writeframes(b"\x80" * 8000 * 660)
    outcome, peak = peak_memory(lambda: import_prompt(long, tmp_path / "out.wav"))
    assert isinstance(outcome, PromptImportError)
    assert "660 s is longer than a prompt can be" in str(outcome)
    assert peak < BOUND


@pytest.mark.parametrize("ffmpeg", [True, False], ids=["ffmpeg", "without ffmpeg"])
def test_a_truthful_wav_still_converts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ffmpeg: bool
) -> None:
    if ffmpeg and shutil.which("ffmpeg") is None:
        pytest.skip("needs ffmpeg")
    monkeypatch.setattr(prompts, "ffmpeg_available", lambda: ffmpeg)
    source = tmp_path / "hello.wav"
    source.write_bytes(riff(32000, b"\x00\x10" * 16000))  # 2 s of 8 kHz mono 16-bit
    seconds = import_prompt(source, tmp_path / "en" / "hello.wav")
    assert seconds == pytest.approx(2.0, abs=0.05)
    with wave.open(str(tmp_path / "en" / "hello.wav"), "rb") as converted:
        assert (converted.getframerate(), converted.getnchannels()) == (8000, 1)
        assert converted.getsampwidth() == 2
