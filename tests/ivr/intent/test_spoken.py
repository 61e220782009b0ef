"""Spoken details: numbers said as words, yes/no, product names heard approximately."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.catalog import load_catalog
from ivr.intent.entities import ProductNames, spoken_digits, spoken_yes_no

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize(
    ("said", "digits"),
    [
        ("four five six", "456"),
        ("double seven", "77"),
        ("triple zero", "000"),
        ("treble two one", "2221"),
        ("oh seven oh", "070"),
        ("double oh seven", "007"),
        ("zero five oh one two three", "050123"),
        ("my account number is 4 5 6 please", "456"),
        ("45 67-89", "456789"),
        ("twenty one", "21"),
        ("ninety nine forty", "9940"),
        ("fifteen", "15"),
        ("five hundred and twelve", "512"),
        ("a hundred", "100"),
        ("two thousand and five", "2005"),
        ("five for six", "546"),  # a recogniser's "for" between digits
        ("Five. Six, seven!", "567"),
        ("one two three four five six seven eight nine oh", "1234567890"),
        # Arabic: number words, Arabic-Indic digits, the Arabic order of compounds
        ("خمسة ستة سبعة", "567"),
        ("رقمي ٤٥٦٧", "4567"),
        ("۰۵۰", "050"),  # Eastern Arabic-Indic, as typed in Persian/Urdu layouts
        ("صفر خمسة واحد", "051"),
        ("خمسة وستة", "56"),  # a joined "and" between digits
        ("واحد وعشرين", "21"),
        ("واحد و عشرين", "21"),
        ("خمسة عشر", "15"),
        ("خمسطعش", "15"),  # Gulf
        ("دبل سبعة", "77"),
        ("خمسمية", "500"),
        ("ثلاثة تلاتة", "33"),  # MSA and Levantine spellings
        ("أربعة ثمانية تسعة", "489"),
        ("رقم الحساب 12 ثلاثة", "123"),  # mixed digits and words
    ],
)
def test_numbers_said_as_words_are_collected_as_digits(said: str, digits: str) -> None:
    assert spoken_digits(said) == digits


@pytest.mark.parametrize(
    "said",
    ["", "I don't have it", "oh I forgot", "I want to talk to someone", "ما أدري"],
)
def test_words_that_only_sound_like_digits_are_not_digits(said: str) -> None:
    assert spoken_digits(said) == ""


def test_oh_is_zero_only_beside_a_number() -> None:
    assert spoken_digits("oh it is four oh two") == "402"


@pytest.mark.parametrize(
    "said",
    [
        "yes", "Yeah.", "yep", "sure", "of course", "that's right", "correct",
        "yes please", "okay", "uh huh", "no problem",
        "نعم", "أيوه", "ايوا", "أكيد", "صح", "طبعاً", "تمام", "إي نعم", "ليش لا",
    ],
)  # fmt: skip
def test_yes(said: str) -> None:
    assert spoken_yes_no(said) is True


@pytest.mark.parametrize(
    "said",
    [
        "no", "Nope!", "nah", "that's not right", "not really", "no thanks", "wrong",
        "لا", "لأ", "لا شكرا", "مو صح", "مش صحيح", "غلط", "كلا",
    ],
)  # fmt: skip
def test_no(said: str) -> None:
    assert spoken_yes_no(said) is False


@pytest.mark.parametrize(
    "said", ["", "hello", "yes no", "maybe", "I'm not sure", "مدري", "يمكن", "نعم لا"]
)
def test_unsure_mixed_or_neither_asks_again(said: str) -> None:
    assert spoken_yes_no(said) is None


PRODUCTS = ProductNames(
    {
        "fibre-500": ["Fibre 500 Mbps", "fibre 500", "فايبر"],
        "mobile-unlimited": ["Unlimited mobile plan", "mobile unlimited"],
    }
)


@pytest.mark.parametrize(
    ("said", "product"),
    [
        ("how much is the fiber five hundred", "fibre-500"),  # words as digits
        ("the fibre 500 please", "fibre-500"),
        ("the unlimted mobile plan", "mobile-unlimited"),  # a misspelling
        ("I want mobile unlimitid", "mobile-unlimited"),
        ("أبي أشترك بالفايبر", "fibre-500"),  # joined preposition and article
        ("كم سعر الفيبر", "fibre-500"),  # a recogniser's spelling
        ("ابي unlimited mobile plan", "mobile-unlimited"),  # an English name in Arabic
    ],
)
def test_products_are_matched_fuzzily(said: str, product: str) -> None:
    assert PRODUCTS.find(said) == product


@pytest.mark.parametrize("said", ["my internet is down", "", "mobile", "fiber optic cable"])
def test_no_product_when_no_name_is_close(said: str) -> None:
    assert PRODUCTS.find(said) is None


def test_the_closest_name_wins_and_a_longer_one_on_a_tie() -> None:
    names = ProductNames({"tv": ["TV"], "tv-sports": ["TV sports"], "sports": ["sports"]})
    assert names.find("how much is the tv sports package") == "tv-sports"
    assert names.find("the sports channels") == "sports"
    assert ProductNames({}).find("anything") is None


def test_the_shipped_catalog_names_its_products() -> None:
    names = ProductNames.of_catalog(load_catalog(ROOT / "prompts" / "catalog.yaml"))
    assert names.find("price of the fiber five hundred") == "fibre-500"
    assert names.find("what's the unlimted mobile plan cost") == "mobile-unlimited"
    assert names.find("how much is the fiber 500 megabits per second") == "fibre-500"
    assert names.find("how much is a new router") is None
