"""Moonshine on real audio (espeak-ng at 8 kHz, as Asterisk records), and its model files."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from ivr.speech.moonshine_engine import MoonshineRecognizer, _read_tokens
from ivr.speech.recognizer import ModelError
from tests.ivr.speech.conftest import Say, write_wav


def test_an_answer_is_read_word_for_word_with_a_confidence(
    moonshine: MoonshineRecognizer, say: Say
) -> None:
    heard = moonshine.transcribe(say("my internet keeps dropping every evening", "en-us"))

    assert "internet keeps dropping every evening" in heard.text.lower()
    assert 0.5 < heard.confidence <= 1.0


def test_a_noisy_line_is_still_read(moonshine: MoonshineRecognizer, say: Say) -> None:
    heard = moonshine.transcribe(say("where is my order", "en-us", snr_db=10))

    assert "order" in heard.text.lower()


def test_silence_is_nothing_said_without_decoding(
    moonshine: MoonshineRecognizer, tmp_path: Path
) -> None:
    empty = moonshine.transcribe(write_wav(tmp_path / "empty.wav"))
    quiet = moonshine.transcribe(write_wav(tmp_path / "quiet.wav", b"\x00\x00" * 16_000))

    assert (empty.text, empty.confidence) == ("", 0.0)
    assert (quiet.text, quiet.confidence) == ("", 0.0)


def test_menu_phrases_are_accepted_and_change_nothing(
    moonshine: MoonshineRecognizer, say: Say
) -> None:
    wav = say("I would like to pay my bill", "en-us")
    plain = moonshine.transcribe(wav)
    steered = moonshine.transcribe(wav, phrases=["billing", "sales"])

    assert (steered.text, steered.confidence) == (plain.text, plain.confidence)
    assert "pay my bill" in plain.text.lower()


def test_a_directory_without_the_model_files_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.bin").write_bytes(b"")

    with pytest.raises(ModelError, match="not a Moonshine model"):
        MoonshineRecognizer(tmp_path)


def test_the_tokenizer_file_is_read_and_a_truncated_one_refused(tmp_path: Path) -> None:
    long = b"x" * 200  # a length over 127 takes two bytes
    path = tmp_path / "tokenizer.bin"
    path.write_bytes(b"\x05<unk>\x03<s>" + bytes([0x80 | (200 & 0x7F), 200 >> 7]) + long)

    assert _read_tokens(path) == [b"<unk>", b"<s>", long]

    path.write_bytes(b"\x05<un")
    with pytest.raises(ValueError, match="truncated at token 0"):
        _read_tokens(path)


def test_decodes_at_once_on_one_model_read_as_they_do_alone(
    moonshine: MoonshineRecognizer, say: Say
) -> None:
    """The speech pool's workers share one loaded model."""
    wavs = [say("where is my order", "en-us"), say("I want to pay my bill", "en")] * 2
    alone = [moonshine.transcribe(wav).text for wav in wavs]

    with ThreadPoolExecutor(2) as pool:
        together = list(pool.map(lambda wav: moonshine.transcribe(wav).text, wavs))

    assert together == alone
    assert all(alone)
