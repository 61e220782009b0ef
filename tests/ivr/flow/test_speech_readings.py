"""The pure parts of a speech turn: its readings weighed together, and yes/no answers."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from ivr.flow.steps_speech import best_reading
from ivr.intent.entities import spoken_yes_no

from .support import FakeMatch, KeywordClassifier

INTENTS = KeywordClassifier({"bill": ("billing", "billing", 2)})


def test_the_reading_the_classifier_understood_is_kept_with_its_meaning() -> None:
    reading, match = best_reading(INTENTS, "en", ["my bull  is wrong", "my bill is wrong"])

    assert reading == "my bill is wrong"
    assert match is not None
    assert (match.intent, match.known) == ("billing", True)


def test_readings_are_classified_once_each_with_spacing_and_repeats_folded() -> None:
    seen: list[list[str]] = []

    class Recording(KeywordClassifier):
        def classify_readings(
            self, readings: Sequence[str], language: str
        ) -> tuple[int, FakeMatch]:
            seen.append(list(readings))
            return super().classify_readings(readings, language)

    classifier = Recording({"bill": ("billing", "billing", 2)})
    reading, match = best_reading(classifier, "en", ["hello  there", "hello there", "", "hi"])

    assert seen == [["hello there", "hi"]]
    assert reading == "hello there"
    assert match is not None
    assert not match.known


def test_nothing_heard_is_nothing_understood() -> None:
    assert best_reading(INTENTS, "en", ["", " "]) == ("", None)


@pytest.mark.parametrize(
    ("said", "language", "answer"),
    [
        ("Yes, that's right.", "en", True),
        ("yeah", "en", True),
        ("No, it isn't.", "en", False),
        ("nope", "en", False),
        ("the weather", "en", None),
        ("yes no", "en", None),
        ("نعم صحيح", "ar", True),
        ("لا مو هذا", "ar", False),
        ("ايوه", "ar", True),
        ("مرحبا", "ar", None),
    ],
)
def test_yes_or_no(said: str, language: str, answer: bool | None) -> None:
    assert spoken_yes_no(said) is answer, language
