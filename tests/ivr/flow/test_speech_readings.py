"""The pure parts of a speech turn: n-best rescoring and yes/no answers."""

from __future__ import annotations

import pytest

from ivr.flow.steps_speech import best_reading
from ivr.intent.entities import spoken_yes_no

from .support import FakeMatch, KeywordClassifier

INTENTS = KeywordClassifier({"bill": ("billing", "billing", 2)})


def classify(text: str) -> FakeMatch:
    return INTENTS.classify(text, "en")


def test_the_first_reading_wins_when_it_is_understood() -> None:
    reading, match = best_reading(classify, ["my bill is wrong", "my bull is wrong"])

    assert reading == "my bill is wrong"
    assert match is not None
    assert match.intent == "billing"


def test_a_later_reading_wins_only_when_the_first_is_not_understood() -> None:
    reading, match = best_reading(classify, ["my bull  is wrong", "my bill is wrong"])

    assert reading == "my bill is wrong"
    assert match is not None
    assert match.known


def test_nothing_understood_keeps_the_first_reading() -> None:
    reading, match = best_reading(classify, ["hello there", "hello their", ""])

    assert reading == "hello there"
    assert match is not None
    assert not match.known
    assert best_reading(classify, ["", " "]) == ("", None)


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
