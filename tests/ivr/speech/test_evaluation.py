"""Scoring: the same words written differently count as the same words."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.speech.evaluation import asterisk_prompts, corpus_wer, normalise, number_words, word_errors


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("Press 1, then #.", "press one then pound"),
        ("Dial 8500 now!", "dial eight thousand five hundred now"),
        ("a 28.8 kilobit modem", "a twenty eight point eight kilobit modem"),
        ("the 21st, the 3rd and the 90th", "the twenty first the third and the ninetieth"),
        ("It's 5 o'clock P.M.", "its five oclock pm"),
        ("Call-Forward on No Answer", "call forward on no answer"),
        ("separated by *", "separated by star"),
    ],
)
def test_normalise_spells_numbers_symbols_and_drops_punctuation(written: str, spoken: str) -> None:
    assert normalise(written) == spoken
    assert normalise(spoken) == spoken


def test_number_words_covers_scales() -> None:
    assert number_words(0) == "zero"
    assert number_words(1_000_001) == "one million one"
    assert number_words(40) == "forty"


def test_word_errors_count_substitutions_deletions_and_insertions() -> None:
    assert word_errors("press one then pound", "Press 1 then #") == (0, 4)
    assert word_errors("a b c", "a x c d") == (2, 3)
    assert word_errors("a b c", "") == (3, 3)
    assert corpus_wer([("a b", "a b"), ("c d", "x")]) == 0.5


def test_asterisk_prompts_pair_real_recordings_with_their_transcripts(
    asterisk_sounds: Path,
) -> None:
    prompts = {p.name: p for p in asterisk_prompts(asterisk_sounds)}

    assert len(prompts) > 500
    assert prompts["vm-goodbye"].text == "Goodbye"
    assert prompts["digits/7"].path == asterisk_sounds / "digits" / "7.wav"
    assert "beep" not in prompts  # "[this is a simple beep tone]" is not speech
