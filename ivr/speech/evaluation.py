"""Scoring a recogniser: text normalisation, word error rate, and a reference corpus.

The corpus is Asterisk's own English prompts (Allison Smith's voice, real 8 kHz telephony
recordings, Debian ``asterisk-core-sounds-en-wav``) with the transcripts Digium publishes
beside them (``asterisk-core-sounds-en``: ``core-sounds-en.txt.gz``).

Normalisation makes "Press 1, then #." and "press one then pound" the same words: lower
case, numbers as words, ``#``/``*`` as "pound"/"star", apostrophes dropped, other
punctuation as spaces. It is applied to reference and hypothesis alike.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "ASTERISK_SOUNDS",
    "ASTERISK_TRANSCRIPTS",
    "Prompt",
    "asterisk_prompts",
    "corpus_wer",
    "normalise",
    "number_words",
    "word_errors",
]

ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")

_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
_SYMBOLS = {"#": " pound ", "*": " star ", "%": " percent ", "&": " and ", "+": " plus "}
_NUMBER = re.compile(r"\d+(?:,\d{3})*(?:\.\d+)?(?:st|nd|rd|th)?")
_DOTTED_LETTER = re.compile(r"\b([a-z])\.(?=[a-z]\b)")  # "p.m." -> "pm."
_APOSTROPHE = re.compile(r"['’`]")
_ANNOTATION = re.compile(r"\[[^\]]*\]|\([^)]*\)|<[^>]*>")
_NOT_WORD = re.compile(r"[^a-z0-9]+")


def number_words(value: int) -> str:
    """``1234`` -> "one thousand two hundred thirty four" (cardinal, no "and")."""
    if value < 0:
        return "minus " + number_words(-value)
    if value < 20:
        return _ONES[value]
    if value < 100:
        tens, ones = divmod(value, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    if value < 1000:
        hundreds, rest = divmod(value, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    for scale, name in _SCALES:
        if value >= scale:
            high, rest = divmod(value, scale)
            return number_words(high) + " " + name + ("" if rest == 0 else " " + number_words(rest))
    raise AssertionError("unreachable")  # pragma: no cover


def _ordinal(words: str) -> str:
    head, _, last = words.rpartition(" ")
    if last in _ORDINAL:
        last = _ORDINAL[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return f"{head} {last}".strip()


def _spell_number(match: re.Match[str]) -> str:
    token = match.group(0)
    ordinal = token[-2:] in ("st", "nd", "rd", "th")
    digits = token[:-2] if ordinal else token
    whole, _, fraction = digits.replace(",", "").partition(".")
    words = number_words(int(whole))
    if fraction:
        words += " point " + " ".join(_ONES[int(d)] for d in fraction)
    return f" {_ordinal(words) if ordinal else words} "


def normalise(text: str) -> str:
    """Lower case words separated by single spaces; numbers and key symbols spelled out."""
    text = _DOTTED_LETTER.sub(r"\1", text.lower())
    for symbol, word in _SYMBOLS.items():
        text = text.replace(symbol, word)
    text = _NUMBER.sub(_spell_number, text)
    text = _APOSTROPHE.sub("", text)
    return " ".join(_NOT_WORD.sub(" ", text).split())


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words) after normalising both.

    Sum both over a corpus and divide for the corpus WER (not the mean of per-file WERs).
    """
    ref, hyp = normalise(reference).split(), normalise(hypothesis).split()
    previous = list(range(len(hyp) + 1))
    for i, ref_word in enumerate(ref, 1):
        current = [i]
        for j, hyp_word in enumerate(hyp, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref_word != hyp_word))
            )
        previous = current
    return previous[-1], len(ref)


@dataclass(frozen=True)
class Prompt:
    name: str  # as Asterisk names it: "vm-goodbye", "digits/1"
    path: Path
    text: str


def asterisk_prompts(
    sounds: Path = ASTERISK_SOUNDS, transcripts: Path = ASTERISK_TRANSCRIPTS
) -> list[Prompt]:
    """Every spoken prompt that has both a wav and a transcript, sorted by name.

    Notes in brackets (``[ascending tones]``, ``(note: does not say "2")``, ``<beep>``,
    ``(1 second of silence)``) are not speech: they are removed, and entries left empty skipped.
    """
    prompts: list[Prompt] = []
    with gzip.open(transcripts, "rt", encoding="utf-8", errors="replace") as lines:
        for line in lines:
            name, sep, text = line.partition(":")
            text = _ANNOTATION.sub(" ", text).strip()
            if not sep or line.startswith(";") or not text:
                continue
            path = sounds / f"{name.strip()}.wav"
            if path.is_file():
                prompts.append(Prompt(name.strip(), path, text))
    return sorted(prompts, key=lambda p: p.name)


def corpus_wer(pairs: Sequence[tuple[str, str]]) -> float:
    """Corpus WER of (reference, hypothesis) pairs."""
    errors = words = 0
    for reference, hypothesis in pairs:
        e, n = word_errors(reference, hypothesis)
        errors, words = errors + e, words + n
    return errors / words if words else 0.0
