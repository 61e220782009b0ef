"""After-call text analytics over a transcript: phrases spotted and a sentiment score.

Pure functions, English and Arabic, for the post-call worker to run on each transcript
(the lead wires storage and pages). Proposed configuration (``config/analytics.yaml``, or
an ``analytics`` section of the intents file): categories an admin fills with phrases::

    spotting:
      cancellation_threat: {en: [cancel my contract, switch to another provider], ar: [بلغي العقد]}
      competitor: {en: [etisalat, du], ar: [اتصالات]}
      legal: {en: [lawyer, court, regulator], ar: [محامي, محكمة]}

``spot_phrases(transcript, spotting)`` finds them as whole words (case, Arabic spelling
variants and a joined article or particle forgiven: "بالمحكمة" mentions "محكمة");
``sentiment(transcript)`` scores -1 (angry) .. +1 (pleased) from a word list with
negation ("not happy", "مو زين") and intensifiers ("very", "جدا").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ivr.intent.entities import same_word
from ivr.intent.text import fold, words

__all__ = ["Spotted", "sentiment", "spot_phrases"]

#: category -> language -> phrases (the language only groups them: all are tried).
Spotting = Mapping[str, Mapping[str, Sequence[str]]]


@dataclass(frozen=True, slots=True)
class Spotted:
    """One configured phrase found: its category, the phrase as configured, how often."""

    category: str
    phrase: str
    count: int


def spot_phrases(transcript: str, spotting: Spotting) -> list[Spotted]:
    """Every configured phrase that occurs in ``transcript``, by category then phrase."""
    tokens = words(transcript)
    found = []
    for category in sorted(spotting):
        for phrases in spotting[category].values():
            for phrase in phrases:
                pattern = words(phrase)
                count = _count(tokens, pattern) if pattern else 0
                if count:
                    found.append(Spotted(category, phrase, count))
    return sorted(found, key=lambda s: (s.category, s.phrase))


def _count(tokens: Sequence[str], pattern: Sequence[str]) -> int:
    size = len(pattern)
    return sum(
        all(same_word(t, p) for t, p in zip(tokens[i : i + size], pattern, strict=True))
        for i in range(len(tokens) - size + 1)
    )


def _lexicon(*entries: str) -> frozenset[str]:
    return frozenset(fold(entry) for entry in entries)


_POSITIVE = _lexicon(
    "thank", "thanks", "great", "good", "excellent", "perfect", "happy", "pleased",
    "helpful", "brilliant", "wonderful", "fantastic", "amazing", "appreciate", "love",
    "resolved", "sorted", "fixed", "quick", "fast", "kind", "polite", "awesome", "glad",
    "satisfied", "nice", "fine", "works", "working",
    "شكرا", "مشكور", "مشكورين", "ممتاز", "ممتازه", "زين", "حلو", "تمام", "رائع", "رائعه",
    "مبسوط", "سعيد", "مرتاح", "راضي", "الله يعطيك العافيه", "يعطيك العافيه", "جميل",
    "منيح", "كويس", "انحلت", "اشتغل", "سريع", "محترم", "خدوم", "بارك",
)  # fmt: skip
_NEGATIVE = _lexicon(
    "angry", "terrible", "awful", "horrible", "useless", "worst", "bad", "poor", "rude",
    "disgusting", "ridiculous", "unacceptable", "disappointed", "frustrated", "annoyed",
    "upset", "hate", "waste", "never", "problem", "broken", "slow", "complaint", "complain",
    "cancel", "lawyer", "scam", "joke", "fed up", "sick of", "again", "still",
    "زعلان", "معصب", "سيء", "سيئه", "زفت", "خايس", "تعبان", "تعبت", "مشكله", "خربان",
    "بطيء", "شكوي", "اشتكي", "الغي", "محامي", "غلط", "مو معقول", "حرام", "نصب", "ما ينفع",
    "قرفت", "طفشت", "مقهور", "ضايق", "متضايق", "وقح", "قليل ادب", "للاسف",
)  # fmt: skip
_NEGATORS = _lexicon(
    "not", "no", "never", "isn't", "wasn't", "don't", "doesn't", "didn't", "can't", "won't",
    "مو", "مش", "ما", "مب", "ليس", "لا", "مافي", "موب",
)  # fmt: skip
_INTENSIFIERS = _lexicon(
    "very", "really", "so", "extremely", "totally", "absolutely", "completely",
    "جدا", "كتير", "كثير", "مره", "مرا", "بالحيل", "وايد", "اوي",
)  # fmt: skip
_LONGEST = max(len(entry.split()) for entry in _POSITIVE | _NEGATIVE)
#: Damps the score of a transcript with few sentiment words toward 0.
_DAMPING = 2.0


def sentiment(transcript: str) -> float:
    """-1 (negative) .. +1 (positive); 0 when no sentiment word is said.

    A negator within two words before a sentiment word flips it ("not happy", "ما هو
    زين"); an intensifier just before doubles it. The score is (positive - negative) /
    (positive + negative + 2), so one "thanks" gives 0.33 and a long angry call nears -1.
    """
    tokens = words(transcript)
    positive = negative = 0.0
    index = 0
    while index < len(tokens):
        for size in range(min(_LONGEST, len(tokens) - index), 0, -1):
            phrase = " ".join(tokens[index : index + size])
            polarity = 1 if phrase in _POSITIVE else -1 if phrase in _NEGATIVE else 0
            if polarity:
                break
        else:
            index += 1
            continue
        before = tokens[max(0, index - 2) : index]
        weight = 2.0 if before and before[-1] in _INTENSIFIERS else 1.0
        if any(word in _NEGATORS for word in before) and phrase not in _NEGATORS:
            polarity = -polarity
        if polarity > 0:
            positive += weight
        else:
            negative += weight
        index += size
    return (positive - negative) / (positive + negative + _DAMPING)
