"""config/speech.yaml: strict shape; a model missing on this machine warns, never fails."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from ivr.speech.settings import Engine, LanguageModel, SpeechSettings, speech_warnings

SHIPPED = Path(__file__).resolve().parents[3] / "config" / "speech.yaml"


def test_shipped_file_is_valid_and_only_warns_about_models_not_installed() -> None:
    settings = SpeechSettings.model_validate(yaml.safe_load(SHIPPED.read_text(encoding="utf-8")))

    assert settings.languages["en"] == LanguageModel(
        engine="whisper", model="default", second_reading=Engine(engine="moonshine")
    )
    for location, message in speech_warnings(settings):
        assert location[:2] != ("languages", "en"), message  # English works out of the box
        assert "callers will use DTMF" in message


def test_defaults_serve_english_with_the_bundled_whisper_model() -> None:
    settings = SpeechSettings()

    assert dict(settings.languages) == {"en": LanguageModel(engine="whisper")}
    assert (settings.workers, settings.queue) == (2, 0)


def test_arabic_without_a_model_is_a_located_warning(tmp_path: Path) -> None:
    settings = SpeechSettings(
        languages={"ar": LanguageModel(engine="vosk", model=str(tmp_path / "none"))}
    )

    [(location, message)] = speech_warnings(settings)

    assert location == ("languages", "ar", "model")
    assert "not found" in message


def test_language_with_no_bundled_model_warns() -> None:
    settings = SpeechSettings(languages={"ar": LanguageModel(engine="vosk")})

    [(_, message)] = speech_warnings(settings)

    assert "no bundled vosk model for 'ar'" in message


def test_arabic_is_served_by_the_bundled_multilingual_whisper() -> None:
    settings = SpeechSettings(languages={"ar": LanguageModel(engine="whisper")})

    assert speech_warnings(settings) == []


def test_a_missing_second_reading_model_is_a_located_warning(tmp_path: Path) -> None:
    second = Engine(engine="moonshine", model=str(tmp_path / "none"))
    settings = SpeechSettings(
        languages={"en": LanguageModel(engine="whisper", second_reading=second)}
    )

    [(location, message)] = speech_warnings(settings)

    assert location == ("languages", "en", "second_reading", "model")
    assert "open questions will have one reading" in message


def test_moonshine_has_no_bundled_arabic_model() -> None:
    settings = SpeechSettings(languages={"ar": LanguageModel(engine="moonshine")})

    [(location, message)] = speech_warnings(settings)

    assert location == ("languages", "ar", "model")
    assert "no bundled moonshine model for 'ar'" in message


@pytest.mark.parametrize(
    "data",
    [
        {"workers": 0},
        {"timeout_s": 0},
        {"queue": -1},
        {"languages": {"english": {"engine": "whisper"}}},
        {"languages": {"en": {"engine": "kaldi"}}},
        {"languages": {"en": {"engine": "whisper", "modle": "x"}}},
        {"whisper": {"beam_size": 0}},
        {"wisper": {}},
        {"languages": {"en": {"engine": "whisper", "second_reading": {"engine": "kaldi"}}}},
        {"moonshine": {"cpu_threads": 0}},
    ],
    ids=[
        "no-workers",
        "no-timeout",
        "negative-queue",
        "bad-language",
        "bad-engine",
        "typo-key",
        "beam-0",
        "typo-section",
        "bad-second-engine",
        "moonshine-no-threads",
    ],
)
def test_invalid_settings_are_refused(data: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        SpeechSettings.model_validate(data)


def test_commented_out_section_means_defaults() -> None:
    settings = SpeechSettings.model_validate(yaml.safe_load("whisper:\nmoonshine:\nvosk:\n"))

    assert settings.whisper.beam_size == 5
