"""Steps that wait for keys (and words): menu and collect.

Both give the caller ``max_tries`` attempts. An invalid answer plays ``invalid_prompt``,
silence plays ``no_input_prompt``; after the last attempt the call goes to
``max_tries_target``, or to the fallback queue when there is none (never a dead end).
A collect step with ``speech`` takes its digits said as words too: read back, kept on a yes
(said, or key 1), asked again on a no; what was said stays out of the trace.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ivr.flow.context import ALL_KEYS, CallContext, Transition
from ivr.flow.nodes import CollectStep, MenuStep, SpokenDigits
from ivr.flow.steps_speech import YES_NO_KEYS, ask, match_phrase, understand, yes_or_no
from ivr.intent.entities import DIGIT_WORDS, spoken_digits

#: How long a read-back waits for a key when speech has failed.
CONFIRM_WAIT_MS = 5000


@dataclass(frozen=True)
class _Answer:
    target: str | None = None  # a valid choice
    invalid: bool = False  # an answer that matched nothing (else: silence)


def out_of_tries(target: str | None, tries: int) -> Transition:
    if target is None:
        return Transition(None, f"no valid answer in {tries} tries: fallback", ending="fallback")
    return Transition(target, f"no valid answer in {tries} tries")


async def run_menu(step: MenuStep, ctx: CallContext) -> Transition:
    speech = step.speech if ctx.services.recogniser is not None else None
    phrases = speech.phrases.get(ctx.language, {}) if speech is not None else {}
    for attempt in range(1, step.max_tries + 1):
        answer: _Answer | None = None
        digit: str | None = None
        if speech is None:
            digit = await ctx.play(step.prompt, ALL_KEYS)
        else:
            hints = list(phrases) or None
            turn = await ask(
                ctx, step.prompt, escape=ALL_KEYS, phrases=hints, barge_in=speech.barge_in
            )
            if turn.failed:
                speech = None  # keys only for the rest of this menu
                await ctx.play(step.speech.fallback_prompt if step.speech else None)
            elif turn.digit is not None:
                digit = turn.digit
            elif turn.text:
                answer = _spoken(step, ctx, turn.text, phrases)
            else:
                answer = _Answer()
        if answer is None:
            if digit is None:
                digit = await ctx.session.wait_for_digit(round(step.timeout_s * 1000))
            answer = await _pressed(step, ctx, digit)
        if answer.target is not None:
            return Transition(answer.target, f"-> {answer.target}")
        if attempt < step.max_tries:
            await ctx.play(step.invalid_prompt if answer.invalid else step.no_input_prompt)
    return out_of_tries(step.max_tries_target, step.max_tries)


async def _pressed(step: MenuStep, ctx: CallContext, digit: str | None) -> _Answer:
    if digit is None:
        ctx.heard("no input")
        return _Answer()
    option = step.options.get(digit)
    if option is None:
        ctx.heard(f"dtmf {digit} (invalid)")
        return _Answer(invalid=True)
    ctx.heard(f"dtmf {digit}")
    await ctx.set_attributes(option.set)
    return _Answer(option.goto)


def _spoken(step: MenuStep, ctx: CallContext, text: str, phrases: dict[str, str]) -> _Answer:
    target = match_phrase(text, phrases)
    if target is not None:
        return _Answer(target)
    intents = step.speech.intents if step.speech is not None else {}
    match = understand(ctx, text)
    if match is not None and match.known and match.intent in intents:
        return _Answer(intents[match.intent])
    return _Answer(invalid=True)


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _masked(digits: str) -> str:
    return "*" * max(len(digits) - 4, 0) + digits[-4:]


def _valid(step: CollectStep, digits: str) -> bool:
    if not digits.isdigit() or not step.min_digits <= len(digits) <= step.max_digits:
        return False
    if step.pattern is not None and re.fullmatch(step.pattern, digits) is None:
        return False
    return not step.luhn or luhn_valid(digits)


async def run_collect(step: CollectStep, ctx: CallContext) -> Transition:
    speech = step.speech if ctx.services.recogniser is not None else None
    for attempt in range(1, step.max_tries + 1):
        if speech is None:
            digits = await _keyed(step, ctx)
        else:
            digit_words = DIGIT_WORDS.get(ctx.language)
            turn = await ask(ctx, step.prompt, escape=ALL_KEYS, phrases=digit_words, private=True)
            if turn.failed:
                speech = None  # keys for the rest of this step
                digits = await _keyed(step, ctx)
            elif turn.digit is not None:
                digits = await _more_keys(step, ctx, turn.digit)
            else:
                digits = spoken_digits(turn.text or "")
                if digits and _valid(step, digits) and not await _read_back(ctx, speech, digits):
                    ctx.heard(f"said {_masked(digits)}, not confirmed")
                    continue  # asked again
        if digits and _valid(step, digits):
            ctx.heard(f"digits {_masked(digits)}")
            ctx.state.attributes[step.attribute] = digits
            return Transition(step.next, f"{step.attribute} collected")
        ctx.heard(f"digits {_masked(digits)} (invalid)" if digits else "no input")
        if attempt < step.max_tries:
            await ctx.play(step.invalid_prompt if digits else step.no_input_prompt)
    return out_of_tries(step.max_tries_target, step.max_tries)


async def _keyed(step: CollectStep, ctx: CallContext) -> str:
    entered = await ctx.session.get_data(
        ctx.prompt(step.prompt), round(step.timeout_s * 1000), step.max_digits
    )
    return entered.digits


async def _more_keys(step: CollectStep, ctx: CallContext, first: str) -> str:
    """The caller started keying over a spoken question: the rest of the digits, as GET DATA
    takes them (``#`` ends, ``timeout_s`` between keys, at most ``max_digits``)."""
    digits = "" if first == "#" else first
    while first != "#" and len(digits) < step.max_digits:
        key = await ctx.session.wait_for_digit(round(step.timeout_s * 1000))
        if key is None or key == "#":
            break
        digits += key
    return digits


async def _read_back(ctx: CallContext, speech: SpokenDigits, digits: str) -> bool:
    """ "I heard 4 5 6 ... If that is right, say yes or press 1": True for yes."""
    digit = await ctx.play(speech.heard_prompt, YES_NO_KEYS)
    if digit is None:
        digit = await ctx.session.say_digits(digits, YES_NO_KEYS)
    if digit is None:
        turn = await ask(ctx, speech.confirm_prompt, escape=YES_NO_KEYS, phrases=None)
        if not turn.failed:
            return yes_or_no(turn) is True
        digit = await ctx.session.wait_for_digit(CONFIRM_WAIT_MS)
    return digit == YES_NO_KEYS[0]
