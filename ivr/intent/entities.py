"""Entities in a caller's words: which product "how much is the fibre 500" is about, and
the details a caller says when asked for one (``spoken_digits``, ``spoken_yes_no``: see
"Spoken details" below), and a catalog product named loosely (``ProductNames``).

Configured as phrases per value per language (``entities.product.fibre-500.en``); a value
is found when one of its phrases occurs in the normalised text as whole words (an Arabic
word may carry a joined conjunction, preposition or article), the longest match winning
("unlimited mobile plan" over "mobile plan"). Every language's phrases are
tried whatever the call's language, since product names cross languages. Pure and cheap:
a handful of token comparisons per phrase.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
from rapidfuzz import fuzz, process

from ivr.intent.text import fold, normalise, words

if TYPE_CHECKING:
    from ivr.catalog import Catalog

__all__ = [
    "DIGIT_WORDS",
    "EntityExtractor",
    "Phrases",
    "ProductNames",
    "same_word",
    "spoken_digits",
    "spoken_yes_no",
]

#: entity name -> value -> language -> phrases
Phrases = Mapping[str, Mapping[str, Mapping[str, tuple[str, ...]]]]


class EntityExtractor:
    """Finds at most one value per entity in a phrase."""

    def __init__(self, phrases: Phrases) -> None:
        # entity -> (tokens, value), longest phrase first so it wins a tie.
        self._patterns: dict[str, list[tuple[tuple[str, ...], str]]] = {}
        for entity, values in phrases.items():
            patterns = {
                (tuple(normalise(phrase).split()), value)
                for value, languages in values.items()
                for language_phrases in languages.values()
                for phrase in language_phrases
            }
            ordered = sorted((p for p in patterns if p[0]), key=lambda p: (-len(p[0]), p))
            self._patterns[entity] = ordered

    def extract(self, text: str) -> tuple[tuple[str, str], ...]:
        """(entity, value) pairs found in ``text``, sorted by entity name."""
        tokens = tuple(normalise(text).split())
        if not tokens:
            return ()
        found = []
        for entity, patterns in sorted(self._patterns.items()):
            for pattern, value in patterns:
                if _contains(tokens, pattern):
                    found.append((entity, value))
                    break
        return tuple(found)


#: Arabic conjunctions, prepositions and the article written joined to the next word:
#: "بالفايبر" (with the fibre) mentions "فايبر" / "الفايبر".
_PROCLITICS = frozenset(
    ["و", "ب", "ل", "ف", "ك", "ال", "وال", "بال", "فال", "كال", "لل", "وب", "ول", "وبال"]
)


def _contains(tokens: tuple[str, ...], pattern: tuple[str, ...]) -> bool:
    size = len(pattern)
    return any(
        all(same_word(t, p) for t, p in zip(tokens[i : i + size], pattern, strict=True))
        for i in range(len(tokens) - size + 1)
    )


def same_word(token: str, word: str) -> bool:
    """``token`` is ``word``, or ``word`` with a joined Arabic particle or article."""
    if token == word:
        return True
    return token.endswith(word) and token[: -len(word)] in _PROCLITICS


def _strip_article(word: str) -> str:
    """ "بالفايبر" -> "فايبر": a joined article (and particle before it) off. Single-letter
    particles stay: too many words start with those letters ("فايبر")."""
    for size in (4, 3, 2):
        if word[:size] in _PROCLITICS and word[size - 1] == "ل" and len(word) - size >= 3:
            return word[size:]
    return word


# Spoken details ---------------------------------------------------------------------
#
# What a caller says when the IVR asks for one thing: a number, yes or no, a product.
# Pure functions over the recogniser's text (or typed text), English and Arabic.


def _folded(table: Mapping[str, int]) -> dict[str, int]:
    return {fold(word): value for word, value in table.items()}


_UNITS = _folded(
    {
        "zero": 0, "nought": 0, "naught": 0, "nil": 0, "one": 1, "two": 2, "three": 3,
        "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
        "صفر": 0, "واحد": 1, "واحدة": 1, "وحدة": 1, "اثنين": 2, "اثنان": 2, "اتنين": 2,
        "ثنين": 2, "تنين": 2, "ثلاثة": 3, "ثلاث": 3, "تلاتة": 3, "تلات": 3, "أربعة": 4,
        "أربع": 4, "خمسة": 5, "خمس": 5, "ستة": 6, "ست": 6, "سبعة": 7, "سبع": 7,
        "ثمانية": 8, "ثماني": 8, "ثمان": 8, "تمانية": 8, "تمنية": 8, "ثمنية": 8,
        "تسعة": 9, "تسع": 9,
    }
)  # fmt: skip
#: Said for a digit by some recognisers, but also ordinary words: a digit only beside one.
_WEAK_UNITS = {"oh": 0, "o": 0, "for": 4, "to": 2, "too": 2, "ate": 8, "won": 1}
_TEENS = _folded(
    {
        "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
        "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
        "عشرة": 10, "احدعش": 11, "اطنعش": 12, "اتنعش": 12, "ثلطعش": 13, "تلتعش": 13,
        "اربعطعش": 14, "اربعتعش": 14, "خمسطعش": 15, "خمستعش": 15, "ستطعش": 16,
        "ستعش": 16, "سبعطعش": 17, "سبعتعش": 17, "ثمنطعش": 18, "تمنتعش": 18,
        "تسعطعش": 19, "تسعتعش": 19,
    }
)  # fmt: skip
_TENS = _folded(
    {
        "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
        "seventy": 70, "eighty": 80, "ninety": 90,
        "عشرين": 20, "عشرون": 20, "ثلاثين": 30, "ثلاثون": 30, "تلاتين": 30, "أربعين": 40,
        "أربعون": 40, "خمسين": 50, "خمسون": 50, "ستين": 60, "ستون": 60, "سبعين": 70,
        "سبعون": 70, "ثمانين": 80, "ثمانون": 80, "تمانين": 80, "تسعين": 90, "تسعون": 90,
    }
)  # fmt: skip
#: Hundreds said as one word ("مية", "ميتين", "خمسمية") or after a unit ("five hundred").
_HUNDRED = frozenset(fold(w) for w in ("hundred", "مية", "مئة", "مائة", "ميه"))
_HUNDREDS = _folded({"ميتين": 200, "مئتين": 200, "مئتان": 200, "مائتين": 200})
_THOUSAND = frozenset(fold(w) for w in ("thousand", "ألف"))
#: "double seven" -> 77, "triple zero" -> 000.
_REPEAT = _folded({"double": 2, "triple": 3, "treble": 3, "دبل": 2, "تريبل": 3})
_AND = frozenset(("and", "و"))
#: "عشر" after a unit: "خمسة عشر" -> 15.
_TEN_AFTER = fold("عشر")


def _unit(word: str) -> int | None:
    """A unit word, with a joined "و" ("وخمسة") allowed."""
    found = _UNITS.get(word)
    if found is None and word.startswith("و"):
        found = _UNITS.get(word[1:])
    return found


def _hundreds(word: str) -> int | None:
    """ "ميتين" -> 200, "خمسمية" -> 500 (a unit joined to the word for hundred)."""
    if word in _HUNDREDS:
        return _HUNDREDS[word]
    for hundred in _HUNDRED:
        if word.endswith(hundred) and word != hundred:
            unit = _UNITS.get(word[: -len(hundred)])
            if unit is not None and unit > 0:
                return unit * 100
    return None


class _Numbers:
    """Reads the numbers of a word list, left to right, as digit strings."""

    def __init__(self, tokens: Sequence[str]) -> None:
        self.tokens = tokens

    def is_number(self, index: int) -> bool:
        if not 0 <= index < len(self.tokens):
            return False
        word = self.tokens[index]
        return (
            word.isdecimal()
            or _unit(word) is not None
            or word in _TEENS
            or word in _TENS
            or word in _REPEAT
            or word in _HUNDRED
            or _hundreds(word) is not None
        )

    def unit_at(self, index: int) -> int | None:
        """A unit at ``index``, a weak one ("oh", "for") only beside a number."""
        if not 0 <= index < len(self.tokens):
            return None
        word = self.tokens[index]
        unit = _unit(word)
        if unit is not None or word not in _WEAK_UNITS:
            return unit
        before, after = self.is_number(index - 1), self.is_number(index + 1)
        # "oh" beside a number is zero; "for", "to" need numbers on both sides.
        if (before or after) if word in ("oh", "o") else (before and after):
            return _WEAK_UNITS[word]
        return None

    def below_hundred(self, index: int) -> tuple[int, int] | None:
        """(value, next index) of a number 0..99 at ``index``."""
        if index >= len(self.tokens):
            return None
        word = self.tokens[index]
        if word in _TEENS:
            return _TEENS[word], index + 1
        if word in _TENS:  # English order: "twenty one"
            unit = _unit(self.tokens[index + 1]) if index + 1 < len(self.tokens) else None
            if unit and word.isascii() and self.tokens[index + 1].isascii():
                return _TENS[word] + unit, index + 2
            return _TENS[word], index + 1
        unit = self.unit_at(index)
        if unit is None:
            return None
        after = index + 1
        if after < len(self.tokens) and self.tokens[after] == _TEN_AFTER and unit > 0:
            return 10 + unit, after + 1  # "خمسة عشر"
        # Arabic order: "واحد وعشرين", "واحد و عشرين"
        if not word.isascii():
            joined = self.tokens[after] if after < len(self.tokens) else ""
            if joined == "و" and after + 1 < len(self.tokens):
                joined, after = self.tokens[after + 1], after + 1
                joined = "و" + joined
            if joined.startswith("و") and joined[1:] in _TENS:
                return _TENS[joined[1:]] + unit, after + 1
        return unit, index + 1

    def compound(self, index: int) -> tuple[str, int] | None:
        """A number said as a whole ("five hundred and twelve", "twenty one"), or one
        digit; None when ``index`` is no number."""
        word = self.tokens[index]
        if word.isdecimal():
            return word, index + 1
        hundreds = _hundreds(word)
        if hundreds is not None:
            base = (hundreds, index + 1)
        elif word in _HUNDRED:
            base = (100, index + 1)
        else:
            first = self.below_hundred(index)
            if first is None:
                return None
            after = first[1]
            if after < len(self.tokens) and self.tokens[after] in _HUNDRED and first[0] > 0:
                base = (first[0] * 100, after + 1)
            elif after < len(self.tokens) and self.tokens[after] in _THOUSAND and first[0] > 0:
                return self._tail(first[0] * 1000, after + 1)
            else:
                return str(first[0]), after
        return self._tail(base[0], base[1])

    def _tail(self, value: int, index: int) -> tuple[str, int]:
        """ "... hundred [and] twelve": a number below a hundred added on."""
        start = index
        if index < len(self.tokens) and self.tokens[index] in _AND:
            index += 1
        rest = self.below_hundred(index)
        if rest is None:
            return str(value), start
        return str(value + rest[0]), rest[1]

    def digits(self) -> str:
        out: list[str] = []
        index = 0
        while index < len(self.tokens):
            word = self.tokens[index]
            if word in _REPEAT:
                unit = self.unit_at(index + 1)
                if unit is not None:
                    out.append(str(unit) * _REPEAT[word])
                    index += 2
                    continue
                index += 1
                continue
            found = self.compound(index)
            if found is None:
                index += 1
                continue
            out.append(found[0])
            index = found[1]
        return "".join(out)


#: The words a caller says digits with, per language: a recogniser's vocabulary when the
#: IVR asks for digits.
DIGIT_WORDS: Mapping[str, tuple[str, ...]] = {
    "en": (
        "zero", "oh", "one", "two", "three", "four", "five", "six", "seven", "eight",
        "nine", "double", "triple",
    ),
    "ar": (
        "صفر", "واحد", "اثنين", "ثلاثة", "أربعة", "خمسة", "ستة", "سبعة", "ثمانية", "تسعة",
        "دبل",
    ),
}  # fmt: skip


def spoken_digits(text: str) -> str:
    """The digits a caller said, in order, as one string ("" when none).

    "four five six" -> "456", "double seven" -> "77", "triple zero" -> "000", "oh" for
    zero beside other digits, "twenty one" -> "21", "five hundred and twelve" -> "512",
    digits as written ("45 67", Arabic-Indic "٤٥٦"); Arabic number words too ("خمسة ستة"
    -> "56", "واحد وعشرين" -> "21", "دبل سبعة" -> "77"). Other words are skipped, so
    "my account is 4 5 6 please" -> "456". Checking the length is the caller's business.
    """
    return _Numbers(words(text)).digits()


def _phrases(*texts: str) -> frozenset[tuple[str, ...]]:
    return frozenset(tuple(words(text)) for text in texts)


_YES = _phrases(
    "yes", "yeah", "yea", "yep", "yup", "ya", "yah", "aye", "sure", "correct", "right",
    "exactly", "absolutely", "definitely", "certainly", "ok", "okay", "affirmative",
    "indeed", "true", "uh huh", "mm hmm", "of course", "go ahead", "please do", "yes please",
    "that's it", "sounds good", "why not", "no problem", "no worries",
    "نعم", "أيوه", "ايوا", "إيه", "اي", "إي", "أكيد", "صح", "صحيح", "طبعا", "طبعًا", "تمام",
    "أوكي", "اوك", "بلى", "هيه", "يب", "ماشي", "مظبوط", "مزبوط", "بالضبط", "أجل", "آه",
    "موافق", "زين", "يس", "ليش لا", "ليه لا", "ولا يهمك", "اكيد",
)  # fmt: skip
_NO = _phrases(
    "no", "nope", "nah", "negative", "wrong", "incorrect", "never", "no thanks",
    "no thank you", "not at all", "no way", "not really",
    "لا", "لأ", "لاء", "كلا", "أبدا", "أبدًا", "غلط", "خطأ", "لا شكرا", "مو هذا", "مش هيك",
)  # fmt: skip
_UNSURE = _phrases(
    "maybe", "perhaps", "not sure", "i don't know", "i do not know", "dunno", "i'm not sure",
    "ما أدري", "مدري", "ما أعرف", "مش عارف", "يمكن", "مو متأكد", "مش متأكد", "ربما",
)  # fmt: skip
#: Before a yes word, these make it a no: "not right", "مو صح"; alone, a no.
_NEGATORS = frozenset(words("not isn't don't doesn't wasn't مو مش مب موب ليس مهب"))
_LONGEST = max(len(p) for p in _YES | _NO | _UNSURE)


def spoken_yes_no(text: str) -> bool | None:
    """True for yes, False for no, None when unsure, mixed or neither: ask again.

    "yeah", "sure", "that's right", "no problem", "نعم", "أيوه", "أكيد" -> True; "no",
    "nope", "that's not right", "لا", "مو صح" -> False; "maybe", "yes no", "مدري",
    "hello" -> None.
    """
    tokens = words(text)
    found: set[bool | None] = set()
    index = 0
    while index < len(tokens):
        negated = tokens[index] in _NEGATORS
        start = index + 1 if negated else index
        for size in range(min(_LONGEST, len(tokens) - start), 0, -1):
            phrase = tuple(tokens[start : start + size])
            if phrase in _UNSURE and not negated:
                found.add(None)
            elif phrase in _YES:
                found.add(not negated)
            elif phrase in _NO:
                found.add(False)
            else:
                continue
            index = start + size
            break
        else:
            if negated:
                found.add(False)
            index += 1
    return found.pop() if len(found) == 1 else None


def _matchable(text: str) -> tuple[str, ...]:
    """Words for fuzzy product matching: numbers said as digits, Arabic particles off."""
    tokens: list[str] = []
    numbers = _Numbers(words(text))
    index = 0
    while index < len(numbers.tokens):
        found = numbers.compound(index) if numbers.is_number(index) else None
        if found is None:
            tokens.append(_strip_article(numbers.tokens[index]))
            index += 1
        else:
            tokens.append(found[0])
            index = found[1]
    return tuple(tokens)


class ProductNames:
    """Which catalog product a caller's words name, allowing for misspelt or misheard words.

    Built once per catalog from product id -> the names callers use (``of_catalog``: the
    catalog's name and the id as words). Each name is compared with every run of about as
    many words in the text (numbers said as words count as digits: "fiber five hundred"
    says "Fibre 500"); the best similarity at least ``cutoff`` (0..1: twice the letters
    in common, in order, over both lengths) wins, a longer name on a tie. rapidfuzz scores
    every run against every name at once: 0.15 ms per answer on 50 products, 0.56 ms on
    500 (``bench/product_names_bench.py``).
    """

    def __init__(self, products: Mapping[str, Iterable[str]], *, cutoff: float = 0.8) -> None:
        self._cutoff = cutoff * 100
        self._products: list[str] = []
        self._names: list[str] = []
        sizes: list[int] = []
        for product, names in sorted(products.items()):
            for wanted in dict.fromkeys(_matchable(name) for name in names):
                name = " ".join(wanted)
                if len(name) >= 3:
                    self._products.append(product)
                    self._names.append(name)
                    sizes.append(len(wanted))
        self._sizes = np.array(sizes, dtype=np.int64)
        self._longest = max(sizes, default=0)

    @classmethod
    def of_catalog(cls, catalog: Catalog) -> ProductNames:
        """The catalog's products by their names and ids ("fibre-500" -> "fibre 500")."""
        return cls(
            {
                product_id: (product.name, product_id.replace("-", " ").replace("_", " "))
                for product_id, product in catalog.data.products.items()
            }
        )

    def find(self, text: str) -> str | None:
        """The product id ``text`` names, None when no name is close enough."""
        said = _matchable(text)
        runs = [
            (" ".join(said[start : start + size]), size)
            for size in range(1, self._longest + 2)
            for start in range(len(said) - size + 1)
        ]
        if not runs or not self._names:
            return None
        scores = process.cdist(
            [run for run, _ in runs], self._names, scorer=fuzz.ratio, score_cutoff=self._cutoff
        )
        run_sizes = np.array([size for _, size in runs], dtype=np.int64)
        near = np.abs(run_sizes[:, None] - self._sizes[None, :]) <= 1  # about as many words
        best = np.where(near, scores, 0).max(axis=0)  # per name
        top = best.max()
        if top <= 0:
            return None
        tied = np.flatnonzero(best == top)
        return self._products[max(tied, key=lambda i: (len(self._names[i]), -i))]
