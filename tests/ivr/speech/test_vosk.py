"""vosk with a real (small Korean) model: a mechanical test, not an accuracy claim.

espeak-ng's Korean voice is far from a Korean caller, so free recognition is only required
to produce Korean words; the point is that a menu grammar confines the answer to the menu.
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from ivr.speech.audio import AudioError
from ivr.speech.recognizer import ModelError
from ivr.speech.vosk_engine import VoskRecognizer
from tests.ivr.speech.conftest import Say, write_wav

MENU = ["안녕하세요", "요금제", "가격", "상담원"]  # hello, price plan, price, agent


def _is_hangul(text: str) -> bool:
    letters = [c for c in text if not c.isspace()]
    return bool(letters) and all("HANGUL" in unicodedata.name(c, "") for c in letters)


def test_free_recognition_hears_korean_words(vosk_korean: VoskRecognizer, say: Say) -> None:
    transcript = vosk_korean.transcribe(say("안녕하세요 가격을 알고 싶어요", voice="ko"))

    assert _is_hangul(transcript.text), transcript
    assert 0.0 < transcript.confidence <= 1.0


@pytest.mark.parametrize("spoken", ["안녕하세요", "요금제"])
def test_grammar_recognises_the_menu_option_that_was_said(
    vosk_korean: VoskRecognizer, say: Say, spoken: str
) -> None:
    transcript = vosk_korean.transcribe(say(spoken, voice="ko"), phrases=MENU)

    assert transcript.text == spoken


def test_grammar_confines_any_answer_to_menu_phrases(vosk_korean: VoskRecognizer, say: Say) -> None:
    free = vosk_korean.transcribe(say("가격을 알고 싶어요", voice="ko"))
    confined = vosk_korean.transcribe(say("가격을 알고 싶어요", voice="ko"), phrases=MENU)

    assert not set(free.text.split()) <= set(MENU)  # free decoding wanders off the menu
    assert set(confined.text.split()) <= set(MENU)


def test_phrases_with_unknown_words_are_left_out_of_the_grammar(
    vosk_korean: VoskRecognizer,
) -> None:
    grammar = vosk_korean.grammar(["요금제", "hotlinexyz"])

    assert grammar is not None
    assert json.loads(grammar) == ["요금제"]  # this model has no [unk] word
    assert vosk_korean.grammar(["hotlinexyz"]) is None  # nothing left: free recognition


def test_caller_who_said_nothing_gets_an_empty_transcript(
    vosk_korean: VoskRecognizer, tmp_path: Path
) -> None:
    transcript = vosk_korean.transcribe(write_wav(tmp_path / "nothing.wav"), phrases=MENU)

    assert (transcript.text, transcript.confidence) == ("", 0.0)


def test_corrupt_recording_raises_audio_error(vosk_korean: VoskRecognizer, tmp_path: Path) -> None:
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"\x00" * 100)

    with pytest.raises(AudioError):
        vosk_korean.transcribe(path)


def test_model_directory_that_is_not_a_model_is_refused(tmp_path: Path) -> None:
    pytest.importorskip("vosk", reason="vosk is not installed")
    with pytest.raises(ModelError):
        VoskRecognizer(tmp_path)
    with pytest.raises(ModelError, match="not found"):
        VoskRecognizer(tmp_path / "absent")
