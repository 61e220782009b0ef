"""Entities in a caller's words: which product "how much is the fibre 500" is about.

Configured as phrases per value per language (``entities.product.fibre-500.en``); a value
is found when one of its phrases occurs in the normalised text as whole words (an Arabic
word may carry a joined conjunction, preposition or article), the longest match winning
("unlimited mobile plan" over "mobile plan"). Every language's phrases are
tried whatever the call's language, since product names cross languages. Pure and cheap:
a handful of token comparisons per phrase.
"""

from __future__ import annotations

from collections.abc import Mapping

from ivr.intent.text import normalise

__all__ = ["EntityExtractor", "Phrases"]

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
        all(_same_word(t, p) for t, p in zip(tokens[i : i + size], pattern, strict=True))
        for i in range(len(tokens) - size + 1)
    )


def _same_word(token: str, word: str) -> bool:
    if token == word:
        return True
    return token.endswith(word) and token[: -len(word)] in _PROCLITICS
