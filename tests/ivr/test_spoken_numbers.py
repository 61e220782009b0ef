"""A number as the core sound files Asterisk's say.c plays for it, in its order."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.spoken_numbers import number_files
from telephony.emulator.media import number_words

CORE_SOUNDS = Path("/usr/share/asterisk/sounds/en")


@pytest.mark.parametrize(
    ("number", "files"),
    [
        (0, ["0"]),
        (7, ["7"]),
        (19, ["19"]),
        (20, ["20"]),
        (42, ["40", "2"]),
        (100, ["1", "hundred"]),
        (125, ["1", "hundred", "20", "5"]),
        (910, ["9", "hundred", "10"]),
        (1000, ["1", "thousand"]),
        (2005, ["2", "thousand", "5"]),
        (123_456, ["1", "hundred", "20", "3", "thousand", "4", "hundred", "50", "6"]),
        (3_000_017, ["3", "million", "17"]),
        (2_000_000_000, ["2", "billion"]),
        (-3, ["minus", "3"]),
    ],
)
def test_english_numbers_are_said_as_asterisk_says_them(number: int, files: list[str]) -> None:
    assert number_files(number, "en") == tuple(f"digits/{f}" for f in files)


@given(st.integers(min_value=-(10**10), max_value=10**10))
def test_one_file_per_word_of_the_number(number: int) -> None:
    assert len(number_files(number, "en")) == number_words(number)


@pytest.mark.parametrize("language", ["ar", "en_US", "EN", "xx"])
def test_a_language_with_no_syntax_of_its_own_is_said_the_english_way(language: str) -> None:
    """As Asterisk's say.c does; Asterisk then plays each file in the channel's language
    when it has it, else the English one."""
    assert number_files(321, language) == number_files(321, "en")


@pytest.mark.skipif(not CORE_SOUNDS.is_dir(), reason="no Asterisk core sounds on this machine")
@given(st.integers(min_value=-(10**10), max_value=10**10))
def test_every_file_is_an_asterisk_core_sound(number: int) -> None:
    for name in number_files(number, "en"):
        assert (CORE_SOUNDS / f"{name}.wav").is_file(), name
