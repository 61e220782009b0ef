"""Normalisation: one spelling for what callers and recognisers write many ways."""

from __future__ import annotations

import pytest

from ivr.intent.text import NUMBER_TOKEN, language_key, normalise


@pytest.mark.parametrize(
    ("variant", "canonical"),
    [
        ("أريد", "اريد"),  # alef with hamza above
        ("إلغاء", "الغاء"),  # alef with hamza below
        ("آخر", "اخر"),  # alef with madda
        ("الفاتورة", "الفاتوره"),  # teh marbuta
        ("مستشفى", "مستشفي"),  # alef maqsura
        ("مسؤول", "مسوول"),  # waw with hamza
        ("الـــعـــروض", "العروض"),  # tatweel
        ("فَاتُورَتِي", "فاتورتي"),  # diacritics
        ("كم؟ ، السعر؛", "كم السعر"),  # Arabic punctuation
    ],
)
def test_arabic_letter_forms_diacritics_and_tatweel_are_normalised(
    variant: str, canonical: str
) -> None:
    assert normalise(variant) == canonical


def test_arabic_indic_digits_are_numbers() -> None:
    assert normalise("طلب رقم ٤٥٧٨٢") == f"طلب رقم {NUMBER_TOKEN}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I CAN'T get online!", "i can not get online"),
        ("It won't start", "it will not start"),
        ("What’s the price?", "what is the price"),
        ("I'd like to pay, I'm late", "i would like to pay i am late"),
        ("they're here, we've paid, you'll see", "they are here we have paid you will see"),
        ("the router's light", "the router light"),
        ("order 45782 for 1,299.00", f"order {NUMBER_TOKEN} for {NUMBER_TOKEN}"),
        ("  spaced\tout\n", "spaced out"),
        ("'quoted'", "quoted"),
    ],
)
def test_english_case_contractions_and_numbers_are_normalised(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_code_switched_speech_keeps_both_scripts() -> None:
    assert normalise("أبغى Fibre 500") == f"ابغي fiber {NUMBER_TOKEN}"


@pytest.mark.parametrize("language", ["en", "EN", "en_US", "en-GB", " en "])
def test_language_codes_are_reduced_to_the_primary_subtag(language: str) -> None:
    assert language_key(language) == "en"


def test_british_spellings_meet_the_american_ones_a_recogniser_writes() -> None:
    assert normalise("Fibre programme cancelled") == normalise("fiber program canceled")
