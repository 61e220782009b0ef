"""Text normalisation before intent features: one spelling for what a caller means.

Callers' words reach the classifier from a speech recogniser or an admin's keyboard, so
the same request arrives spelt many ways. English: case, contractions ("can't" ->
"can not"), digits (an order number says "a number", not which one), British spellings
(Whisper writes "fiber" where the admin wrote "fibre"). Arabic: optional
diacritics and tatweel, and the letters writers and recognisers use interchangeably
(hamza forms of alef, alef maqsura / yeh, teh marbuta / heh, Arabic-Indic digits).

Both scripts are normalised whatever the call's language: Arabic-speaking callers say
English product names, and an English recogniser never emits Arabic letters, so doing
both is never wrong and handles code-switching.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["NUMBER_TOKEN", "fold", "language_key", "normalise", "words"]

#: Stands for any run of digits, so "order 45782" and "order 1203" look alike.
NUMBER_TOKEN = "num"

# Arabic: harakat (fathatan..sukun), Quranic marks, dagger alef; and the tatweel.
_ARABIC_MARKS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_LETTERS = str.maketrans(
    {
        "\u0622": "\u0627",  # alef with madda above -> alef
        "\u0623": "\u0627",  # alef with hamza above -> alef
        "\u0625": "\u0627",  # alef with hamza below -> alef
        "\u0671": "\u0627",  # alef wasla -> alef
        "\u0649": "\u064a",  # alef maqsura -> yeh
        "\u0629": "\u0647",  # teh marbuta -> heh
        "\u0624": "\u0648",  # waw with hamza -> waw
        "\u0626": "\u064a",  # yeh with hamza -> yeh
        "\u06cc": "\u064a",  # Farsi yeh -> yeh
        "\u06a9": "\u0643",  # keheh -> kaf
        "\u060c": " ",  # Arabic comma
        "\u061b": " ",  # Arabic semicolon
        "\u061f": " ",  # Arabic question mark
        **{chr(0x0660 + d): str(d) for d in range(10)},  # Arabic-Indic digits
        **{chr(0x06F0 + d): str(d) for d in range(10)},  # Eastern Arabic-Indic digits
    }
)

# English contractions, most specific first; "'s" is left to the generic rule below.
_CONTRACTIONS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), replacement)
    for pattern, replacement in (
        (r"\bwon't\b", "will not"),
        (r"\bcan't\b", "can not"),
        (r"\bcannot\b", "can not"),
        (r"\bshan't\b", "shall not"),
        (r"\bain't\b", "is not"),
        (r"\blet's\b", "let us"),
        (r"n't\b", " not"),
        (r"'re\b", " are"),
        (r"'ve\b", " have"),
        (r"'ll\b", " will"),
        (r"'d\b", " would"),
        (r"\bi'm\b", "i am"),
        (r"\b(it|that|what|there|here|where|who|how|he|she)'s\b", r"\1 is"),
        (r"'s\b", ""),
    )
)
# British spellings -> the American ones Whisper writes, for words callers use here.
_SPELLINGS = {
    "fibre": "fiber",
    "centre": "center",
    "colour": "color",
    "colours": "colors",
    "programme": "program",
    "programmes": "programs",
    "cancelled": "canceled",
    "cancelling": "canceling",
    "authorised": "authorized",
    "recognise": "recognize",
    "organise": "organize",
    "licence": "license",
    "favourite": "favorite",
    "metre": "meter",
    "travelling": "traveling",
    "enrol": "enroll",
    "cheque": "check",
}
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u00b4": "'"})
_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_NOT_WORD = re.compile(r"[^\w']+|_+")
_STRAY_APOSTROPHE = re.compile(r"(?<!\w)'|'(?!\w)")


def fold(text: str, *, lower: bool = True) -> str:
    """Lower case, one form per Arabic letter, no diacritics, ASCII digits; words kept.

    The letter-level half of ``normalise``, for readers that need the digits and
    contractions as said (spoken numbers, yes/no, the sentence encoder).
    """
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    text = _ARABIC_MARKS.sub("", text).translate(_ARABIC_LETTERS)
    return text.casefold() if lower else text


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces, both scripts normalised."""
    text = fold(text)
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    text = _DIGITS.sub(f" {NUMBER_TOKEN} ", text)
    text = _NOT_WORD.sub(" ", text)
    text = _STRAY_APOSTROPHE.sub(" ", text)
    return " ".join(_SPELLINGS.get(word, word) for word in text.split())


def words(text: str) -> list[str]:
    """``fold``'s words, British spellings made American; digits kept as said ("500")."""
    return [_SPELLINGS.get(word, word) for word in _WORD.findall(fold(text))]


def language_key(language: str) -> str:
    """The primary language subtag: "en_US", "EN-gb" and "en" are all "en"."""
    return re.split(r"[_-]", language.strip().lower(), maxsplit=1)[0]
