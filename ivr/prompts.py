"""Recorded prompts: where each one lives for hotline and for Asterisk, and whether it plays.

A prompt is a name (``main-menu``, ``offers/summer``) recorded once per language:
``<directory>/<language>/<name>.wav`` on hotline's side, played as
``<asterisk_dir>/<language>/<name>`` (Asterisk adds the extension it finds). Names listed as
*core* are Asterisk's own sounds, played by bare name; Asterisk picks the language from
CHANNEL(language) and falls back to English, so they are checked the same way.

Asterisk plays ``.wav`` only as 8 kHz mono 16-bit PCM: anything else is reported, and
``import_prompt`` converts any common format (wav, mp3, ogg, ... via pydub and ffmpeg).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import warnings
import wave
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ivr.audio_decode import (
    AudioRefused,
    decode_to_wav,
    ffmpeg_available,
    is_riff,
    probe_seconds,
    wav_header,
)
from ivr.flow.models import PromptSettings

log = logging.getLogger(__name__)

__all__ = [
    "PROMPT_CHANNELS",
    "PROMPT_RATE",
    "PROMPT_SAMPLE_WIDTH",
    "PromptImportError",
    "PromptStore",
    "audio_problem",
    "import_prompt",
]

PROMPT_RATE = 8000
PROMPT_CHANNELS = 1
PROMPT_SAMPLE_WIDTH = 2
#: Asterisk's fallback language for its own sounds.
CORE_FALLBACK_LANGUAGE = "en"
#: Longer than any prompt; refuses a mistaken path to a whole recording or a film.
MAX_IMPORT_SECONDS = 600
_CORE_EXTENSIONS = (".wav", ".gsm", ".ulaw", ".alaw", ".sln", ".g722", ".WAV")


class _Audio(Protocol):
    """The part of pydub's (untyped) AudioSegment used here."""

    raw_data: bytes

    def __len__(self) -> int: ...  # milliseconds
    def set_frame_rate(self, frame_rate: int) -> _Audio: ...
    def set_channels(self, channels: int) -> _Audio: ...
    def set_sample_width(self, sample_width: int) -> _Audio: ...


class PromptImportError(Exception):
    """The audio could not be read or converted (the message says why, for an admin)."""


@dataclass(frozen=True)
class PromptStore:
    directory: Path
    asterisk_dir: str
    core: frozenset[str]
    core_sounds_dir: Path | None = None

    @classmethod
    def from_settings(cls, settings: PromptSettings) -> PromptStore:
        return cls(
            directory=settings.directory,
            asterisk_dir=settings.asterisk_dir.rstrip("/") or "/",
            core=frozenset(settings.core),
            core_sounds_dir=settings.core_sounds_dir,
        )

    def is_core(self, name: str) -> bool:
        return name in self.core

    def asterisk_name(self, name: str, language: str) -> str:
        """What STREAM FILE gets: a core name as is, ours under ``asterisk_dir``."""
        if self.is_core(name):
            return name
        return f"{self.asterisk_dir}/{language}/{name}"

    def file(self, name: str, language: str) -> Path:
        """Hotline's copy of one of our prompts."""
        return self.directory / language / f"{name}.wav"

    def problem(self, name: str, language: str) -> str | None:
        """Why the prompt would not play in ``language`` (None: it plays)."""
        if self.is_core(name):
            return self._core_problem(name, language)
        path = self.file(name, language)
        if not path.is_file():
            return f"prompt {name!r} has no {language} recording ({path} is missing)"
        return audio_problem(path)

    def _core_problem(self, name: str, language: str) -> str | None:
        base = self.core_sounds_dir
        if base is None or not base.is_dir():
            return None  # Asterisk's sounds are not on this machine: cannot check
        for folder in dict.fromkeys((language, CORE_FALLBACK_LANGUAGE)):
            for ext in _CORE_EXTENSIONS:
                if (base / folder / f"{name}{ext}").is_file():
                    return None
        return f"core prompt {name!r} is not in {base}/{language} (nor {CORE_FALLBACK_LANGUAGE})"

    def problems(self, names: Collection[str], languages: Collection[str]) -> list[str]:
        found = (self.problem(n, lang) for n in sorted(names) for lang in languages)
        return [p for p in found if p is not None]


def audio_problem(path: Path) -> str | None:
    """Why Asterisk could not play this wav (None: 8 kHz mono 16-bit PCM with sound)."""
    try:
        with wave.open(str(path), "rb") as audio:
            rate, channels = audio.getframerate(), audio.getnchannels()
            width, frames = audio.getsampwidth(), audio.getnframes()
    except (OSError, EOFError, wave.Error) as exc:
        return f"{path} is not readable audio ({exc})"
    if (rate, channels, width) != (PROMPT_RATE, PROMPT_CHANNELS, PROMPT_SAMPLE_WIDTH):
        return (
            f"{path} is {rate} Hz, {channels} channel(s), {8 * width}-bit; Asterisk plays "
            f"8000 Hz mono 16-bit: convert it with `hotline prompts import`"
        )
    if frames == 0:
        return f"{path} is empty (no audio)"
    return None


def import_prompt(source: Path, destination: Path) -> float:
    """Converts ``source`` (any format ffmpeg reads; wav needs no ffmpeg) to an 8 kHz mono
    16-bit wav at ``destination``, atomically. Returns the length in seconds.

    The length is checked before decoding (a RIFF header's claims against the file, the
    length other headers declare) and while decoding (streamed, stopped at the cap): a
    small file that decodes to hours is refused without being decoded
    (``ivr.audio_decode``)."""
    if not source.is_file():
        raise PromptImportError(f"{source}: no such file")
    try:
        riff = is_riff(source)
        if riff:
            wav_header(source, max_seconds=MAX_IMPORT_SECONDS)
        elif (declared := probe_seconds(source)) is not None and declared > MAX_IMPORT_SECONDS:
            raise AudioRefused(f"{declared:.0f} s is longer than a prompt can be")
    except AudioRefused as refused:
        raise PromptImportError(f"{source}: {refused}") from None
    except OSError as exc:
        raise PromptImportError(f"{source}: {exc.strerror or exc}") from None
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".wav", dir=destination.parent)
    os.close(handle)
    try:
        if ffmpeg_available():
            try:
                seconds = decode_to_wav(source, Path(temporary), max_seconds=MAX_IMPORT_SECONDS)
            except AudioRefused as refused:
                raise PromptImportError(f"{source}: {refused}") from None
        elif riff:  # checked above: a bounded, truthful wav
            seconds = _convert_wav(source, Path(temporary))
        else:
            raise PromptImportError(
                f"{source}: reading {source.suffix or 'this'} files needs ffmpeg "
                "(apt-get install ffmpeg)"
            )
        if seconds <= 0:
            raise PromptImportError(f"{source}: the audio is empty")
        os.replace(temporary, destination)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return seconds


def _convert_wav(source: Path, destination: Path) -> float:
    """Without ffmpeg: a wav whose header was checked, converted by pydub in memory."""
    audio = _decode(source)
    seconds = len(audio) / 1000
    if seconds > MAX_IMPORT_SECONDS:
        raise PromptImportError(f"{source}: {seconds:.0f} s is longer than a prompt can be")
    audio = (
        audio.set_frame_rate(PROMPT_RATE)
        .set_channels(PROMPT_CHANNELS)
        .set_sample_width(PROMPT_SAMPLE_WIDTH)
    )
    with wave.open(str(destination), "wb") as out:
        out.setnchannels(PROMPT_CHANNELS)
        out.setsampwidth(PROMPT_SAMPLE_WIDTH)
        out.setframerate(PROMPT_RATE)
        out.writeframes(audio.raw_data)
    return seconds


def _decode(source: Path) -> _Audio:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pydub warns at import without ffmpeg
        warnings.simplefilter("ignore", DeprecationWarning)  # pydub imports audioop
        from pydub import AudioSegment
        from pydub.exceptions import CouldntDecodeError
    try:
        segment: _Audio = AudioSegment.from_file(str(source), format="wav")
    except CouldntDecodeError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unknown format"
        raise PromptImportError(f"{source}: not readable audio ({first[:200]})") from None
    except (OSError, EOFError, IndexError, ValueError, wave.Error) as exc:
        raise PromptImportError(f"{source}: not readable audio ({exc})") from None
    return segment
