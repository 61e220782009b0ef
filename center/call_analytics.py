"""What a call's transcript says, without I/O: the phrases an admin asked to spot, by
category (``transcription.spot`` in ``hotline.yaml``), and a lexicon sentiment score.

Both work on English and Arabic text as a recogniser writes it. Text is *folded* before
matching: case-folded, Arabic diacritics (tashkeel) and tatweel removed, the alef forms,
alef maqsura and ta marbuta unified, punctuation made a space. A phrase matches on word
boundaries only ("cancel" is not found in "cancellation": list both if both matter).

The sentiment score is in [-1, 1]: (positive - negative) / (positive + negative) over the
lexicon's words, 0 when none is said. A negation ("not", "never", "مش", "ما", "لا", "مو")
within the two words before a sentiment word turns it round: "not happy" and "مش مبسوط"
count as negative. A lexicon is crude beside a model, but it needs nothing downloaded,
is the same in both languages, and its trends (per agent, queue, intent) are what a
supervisor reads, not one call's figure.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

__all__ = ["CallAnalysis", "analyse", "fold", "sentiment", "spot"]

_DIACRITICS = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")
_ARABIC_FOLDS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه"})
_NOT_WORD = re.compile(r"[^\w]+")
#: How many words before a sentiment word a negation reaches.
_NEGATION_REACH = 2


def fold(text: str) -> str:
    """``text`` as matching sees it: words of lower case letters and digits, one space apart."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _DIACRITICS.sub("", text).translate(_ARABIC_FOLDS)
    return " ".join(_NOT_WORD.sub(" ", text).split())


def _folded_words(words: str) -> frozenset[str]:
    """A lexicon: space-separated words, folded."""
    return frozenset(fold(w) for w in words.split())


_NEGATIONS = _folded_words(
    "not no never dont don't cannot can't won't isn't wasn't aren't didn't doesn't "
    "hardly nothing nobody"
    " مش مو ما لا لم لن ليس مب موب ابدا"
)
# "don't" folds to "don t": its first word is enough.
_NEGATIONS = _NEGATIONS | {w.split()[0] for w in _NEGATIONS if " " in w}
_POSITIVE = _folded_words(
    "good great excellent happy glad pleased satisfied thanks thank appreciate helpful "
    "perfect wonderful amazing love fine resolved fixed quick easy kind nice brilliant"
    " شكرا شكراً ممتاز ممتازه مبسوط مبسوطه سعيد سعيده راضي راضيه حلو جميل رائع "
    "تمام مشكور العافيه ممنون سريع لطيف منيح كويس زين"
)
_NEGATIVE = _folded_words(
    "bad terrible awful horrible angry upset unhappy disappointed frustrated annoyed "
    "useless worst hate problem problems complaint complain broken slow rude wrong "
    "ridiculous unacceptable waste never again"
    " سيء سيئ سيئه زعلان زعلانه غاضب معصب متضايق مشكله مشاكل شكوى خربان بطيء "
    "سخيف تعبان زفت مقرف اسوا فاشل غلط مستحيل حرام"
) - {"never", "again"}  # "never" is a negation, "again" says nothing alone


@dataclass(frozen=True, slots=True)
class CallAnalysis:
    """What was found in one transcript: category -> the configured phrases heard."""

    spotted: dict[str, list[str]] = field(default_factory=dict)
    sentiment: float = 0.0

    @property
    def categories(self) -> list[str]:
        return sorted(self.spotted)


def spot(text: str, phrases: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """The configured phrases found in ``text`` (folded, on word boundaries), by category;
    categories with nothing found are left out. Phrases are returned as configured."""
    haystack = f" {fold(text)} "
    found: dict[str, list[str]] = {}
    for category, listed in phrases.items():
        heard = [p for p in listed if (f := fold(p)) and f" {f} " in haystack]
        if heard:
            found[category] = sorted(set(heard))
    return found


def sentiment(text: str) -> float:
    """A lexicon score in [-1, 1] (0: no sentiment word, or as many of each)."""
    words = fold(text).split()
    positive = negative = 0
    for index, word in enumerate(words):
        if word in _POSITIVE:
            polarity = 1
        elif word in _NEGATIVE:
            polarity = -1
        else:
            continue
        before = words[max(0, index - _NEGATION_REACH) : index]
        if any(w in _NEGATIONS for w in before):
            polarity = -polarity
        if polarity > 0:
            positive += 1
        else:
            negative += 1
    total = positive + negative
    return 0.0 if total == 0 else round((positive - negative) / total, 4)


def analyse(text: str, phrases: Mapping[str, Iterable[str]]) -> CallAnalysis:
    return CallAnalysis(spot(text, phrases), sentiment(text))
