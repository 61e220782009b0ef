"""Digits the caller enters: keyed (as GET DATA takes them), or said as words and read back.

Shared by the collect step (an account number) and the callback step (a phone number).
With ``speech`` (``SpokenDigits``) and a recogniser, the question is a spoken turn whose
vocabulary is the language's digit words; the words become digits ("six five four",
"double seven", "oh", Arabic number words), and digits that pass the step's check are read
back ("I heard" and Asterisk's SAY DIGITS) and kept only after a yes (said, or key 1); a
no asks again. A key pressed instead of speaking goes on as GET DATA would, and a
recogniser that fails leaves the keys for the rest of the step. What was said stays out of
the call's trace (the digits are masked there).
"""

from __future__ import annotations

from collections.abc import Callable

from ivr.flow.context import ALL_KEYS, CallContext
from ivr.flow.nodes import SpokenDigits
from ivr.flow.steps_speech import YES_NO_KEYS, ask, yes_or_no
from ivr.intent.entities import DIGIT_WORDS, spoken_digits

__all__ = ["CONFIRM_WAIT_MS", "DigitEntry", "masked", "read_back"]

#: How long a read-back waits for a key when speech has failed.
CONFIRM_WAIT_MS = 5000


def masked(digits: str) -> str:
    """For the trace: all but the last four digits hidden."""
    return "*" * max(len(digits) - 4, 0) + digits[-4:]


class DigitEntry:
    """One step's way of asking for digits: ``prompt``, then keys (``#`` ends,
    ``timeout_s`` between keys, at most ``max_digits``) or, with ``speech``, words."""

    def __init__(
        self,
        ctx: CallContext,
        prompt: str,
        *,
        timeout_s: float,
        max_digits: int,
        speech: SpokenDigits | None,
    ) -> None:
        self._ctx = ctx
        self._prompt = prompt
        self._timeout_ms = round(timeout_s * 1000)
        self._max_digits = max_digits
        #: None when the digits are keyed: no recogniser, or it failed during this step.
        self.speech = speech if ctx.services.recogniser is not None else None

    async def answer(self, valid: Callable[[str], bool]) -> str | None:
        """The digits entered ("" when none), or None when they were said, passed ``valid``
        and the caller said they were not right: ask again."""
        if self.speech is None:
            return await self._keyed()
        ctx = self._ctx
        digit_words = DIGIT_WORDS.get(ctx.language)
        turn = await ask(ctx, self._prompt, escape=ALL_KEYS, phrases=digit_words, private=True)
        if turn.failed:
            self.speech = None  # keys for the rest of this step
            return await self._keyed()
        if turn.digit is not None:
            return await self._more_keys(turn.digit)
        digits = spoken_digits(turn.text or "")
        if not digits or not valid(digits):
            return digits
        speech = self.speech
        answer = await read_back(
            ctx, speech.heard_prompt, digits, speech.confirm_prompt, spoken=True
        )
        if answer == YES_NO_KEYS[0]:
            return digits
        ctx.heard(f"said {masked(digits)}, not confirmed")
        return None

    async def _keyed(self) -> str:
        ctx = self._ctx
        entered = await ctx.session.get_data(
            ctx.prompt(self._prompt), self._timeout_ms, self._max_digits
        )
        return entered.digits

    async def _more_keys(self, first: str) -> str:
        """The caller started keying over a spoken question: the rest, as GET DATA takes them."""
        digits = "" if first == "#" else first
        while first != "#" and len(digits) < self._max_digits:
            key = await self._ctx.session.wait_for_digit(self._timeout_ms)
            if key is None or key == "#":
                break
            digits += key
        return digits


async def read_back(
    ctx: CallContext,
    intro: str | None,
    digits: str,
    question: str | None,
    *,
    spoken: bool,
    wait_ms: int = CONFIRM_WAIT_MS,
) -> str | None:
    """ "I heard" (``intro``), the digits, then ``question`` ("If that is right, say yes or
    press 1; if not, say no or press 2"); any key stops the prompts. The answer as a key:
    1 for a yes, 2 for a no (said, when ``spoken``, or keyed), another key as pressed, None
    for no usable answer."""
    digit = await ctx.play(intro, YES_NO_KEYS)
    if digit is None:
        digit = await ctx.session.say_digits(digits, YES_NO_KEYS)
    if digit is None and spoken:
        turn = await ask(ctx, question, escape=YES_NO_KEYS, phrases=None)
        if turn.digit is not None:
            return turn.digit
        if not turn.failed:
            said = yes_or_no(turn)
            return None if said is None else YES_NO_KEYS[0 if said else 1]
    elif digit is None:
        digit = await ctx.play(question, YES_NO_KEYS)
    if digit is None:
        digit = await ctx.session.wait_for_digit(wait_ms)
    return digit
