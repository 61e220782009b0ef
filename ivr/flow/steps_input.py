"""Steps that wait for keys (and words): menu and collect.

Both give the caller ``max_tries`` attempts. An invalid answer plays ``invalid_prompt``,
silence plays ``no_input_prompt``; after the last attempt the call goes to
``max_tries_target``, or to the fallback queue when there is none (never a dead end).
A collect step with ``speech`` takes its digits said as words too (``digit_entry``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ivr.flow.context import ALL_KEYS, CallContext, Transition
from ivr.flow.digit_entry import DigitEntry, masked
from ivr.flow.nodes import CollectStep, MenuStep
from ivr.flow.steps_speech import ask, match_phrase, understand


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


def _valid(step: CollectStep, digits: str) -> bool:
    if not digits.isdigit() or not step.min_digits <= len(digits) <= step.max_digits:
        return False
    if step.pattern is not None and re.fullmatch(step.pattern, digits) is None:
        return False
    return not step.luhn or luhn_valid(digits)


async def run_collect(step: CollectStep, ctx: CallContext) -> Transition:
    entry = DigitEntry(
        ctx, step.prompt, timeout_s=step.timeout_s, max_digits=step.max_digits, speech=step.speech
    )
    for attempt in range(1, step.max_tries + 1):
        digits = await entry.answer(lambda said: _valid(step, said))
        if digits is None:
            continue  # said, read back, not confirmed: asked again
        if digits and _valid(step, digits):
            ctx.heard(f"digits {masked(digits)}")
            ctx.state.attributes[step.attribute] = digits
            return Transition(step.next, f"{step.attribute} collected")
        ctx.heard(f"digits {masked(digits)} (invalid)" if digits else "no input")
        if attempt < step.max_tries:
            await ctx.play(step.invalid_prompt if digits else step.no_input_prompt)
    return out_of_tries(step.max_tries_target, step.max_tries)
