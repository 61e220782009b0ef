"""What a call's transcript says, shaped for the transcripts store: the phrases an admin
asked to spot, by category (``transcription.spot`` in ``hotline.yaml``), and a sentiment
score in [-1, 1].

The text rules are the IVR's (``ivr.intent.analytics``: whole words, case, Arabic letter
forms and diacritics forgiven, a joined Arabic article or particle too; a lexicon sentiment
with negation and intensifiers, English and Arabic), so a phrase is heard the same way in a
caller's answer and in a call's transcript. ``fold`` is the searchable form stored beside
each transcript and applied to a supervisor's query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ivr.intent.analytics import sentiment as _sentiment
from ivr.intent.analytics import spot_phrases
from ivr.intent.text import words

__all__ = ["CallAnalysis", "analyse", "fold", "sentiment", "spot"]


@dataclass(frozen=True, slots=True)
class CallAnalysis:
    """What was found in one transcript: category -> the configured phrases heard."""

    spotted: dict[str, list[str]] = field(default_factory=dict)
    sentiment: float = 0.0

    @property
    def categories(self) -> list[str]:
        return sorted(self.spotted)


def fold(text: str) -> str:
    """The words of ``text`` as the analytics read them, one space apart (searchable)."""
    return " ".join(words(text))


def spot(text: str, phrases: Mapping[str, Iterable[str]]) -> dict[str, list[str]]:
    """The configured phrases found in ``text``, by category, as configured; categories
    with nothing found are left out."""
    found: dict[str, list[str]] = {}
    spotting = {category: {"any": list(listed)} for category, listed in phrases.items()}
    for heard in spot_phrases(text, spotting):
        found.setdefault(heard.category, []).append(heard.phrase)
    return {category: sorted(set(listed)) for category, listed in found.items()}


def sentiment(text: str) -> float:
    return round(_sentiment(text), 4)


def analyse(text: str, phrases: Mapping[str, Iterable[str]]) -> CallAnalysis:
    return CallAnalysis(spot(text, phrases), sentiment(text))
