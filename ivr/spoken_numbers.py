"""A number as the Asterisk core sound files that say it (``digits/1``, ``digits/hundred``,
``digits/20``, ``digits/5`` for 125), each played with its own ``STREAM FILE``.

Why not ``SAY NUMBER``: res_agi does not watch the AGI socket while it speaks, so a command
written meanwhile (the fence before an agent's Dial) waits until the whole number is said,
about a second (measured on Asterisk 20.20.1; tests/telephony/agi_interruption.py). A
``STREAM FILE`` stops at once when a new line arrives, so an offer landing during a waiting
caller's position or expected-wait announcement is dispatched without waiting for it, and
the number's remaining files are never played.

The files are those Asterisk's own ``say.c`` plays, in the same order: English (US) syntax
(``ast_say_number_full_en``). A language with no syntax here is said with the English one,
as Asterisk does for every language its ``say.c`` does not know (Arabic among them); each
file is then looked up by Asterisk in the channel's language and, failing that, in ``en``
(core sounds ship no Arabic digits), so an Arabic caller hears what ``SAY NUMBER`` gave.
A syntax for another language is one more entry in ``SYNTAXES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

__all__ = ["SYNTAXES", "number_files"]

_SCALES: Final = ((10**9, "billion"), (10**6, "million"), (1000, "thousand"))


def _english(number: int) -> list[str]:
    if number < 0:
        return ["digits/minus", *_english(-number)]
    if number < 20:
        return [f"digits/{number}"]
    if number < 100:
        tens, ones = divmod(number, 10)
        return [f"digits/{tens * 10}", *([f"digits/{ones}"] if ones else [])]
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        return [f"digits/{hundreds}", "digits/hundred", *(_english(rest) if rest else [])]
    for size, word in _SCALES:
        if number >= size:
            count, rest = divmod(number, size)
            return [*_english(count), f"digits/{word}", *(_english(rest) if rest else [])]
    raise AssertionError("unreachable")  # pragma: no cover


#: Number syntax by language (the part before ``_``: ``en_US`` is ``en``).
SYNTAXES: Final[Mapping[str, Callable[[int], list[str]]]] = {"en": _english}


def number_files(number: int, language: str) -> tuple[str, ...]:
    """The core sound files that say ``number`` in ``language``, in order (bare names:
    Asterisk picks each file's language from the channel, falling back to English)."""
    syntax = SYNTAXES.get(language.split("_", 1)[0].lower(), _english)
    return tuple(syntax(number))
