"""Speech turns: record the caller's answer, recognise it, understand it.

A turn is ``RECORD FILE`` (silence detection, keys end it) into a per-call file under the
flow's recordings directory, then ``Recogniser.recognise``; None from the recogniser means
"use keys instead" (busy, failed, too slow, no model for the language). The audio is deleted
as soon as it has been recognised.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ivr.flow.context import CallContext, Transition
from ivr.flow.nodes import AskStep
from ivr.flow.ports import IntentResult
from ivr.flow.state import WellKnown
from telephony.agi_session import CallerHangup

log = logging.getLogger("ivr.flow")

#: Longest transcript kept in the call's attributes and trace.
MAX_TRANSCRIPT = 200
_PUNCTUATION = re.compile(r"[^\w\s]")


@dataclass(frozen=True)
class SpeechTurn:
    digit: str | None = None  # a key pressed instead of speaking
    text: str | None = None  # "" when nothing was said
    failed: bool = False  # no transcript: fall back to keys


async def listen(ctx: CallContext, *, escape: str, phrases: Sequence[str] | None) -> SpeechTurn:
    recogniser = ctx.services.recogniser
    if recogniser is None:
        return SpeechTurn(failed=True)
    settings = ctx.flow.settings.speech
    ctx.turns += 1
    base = _turn_file(ctx.flow.recordings_dir, f"{ctx.file_stem}-{ctx.turns}")
    recording = await ctx.session.record_file(
        str(base),
        "wav",
        escape,
        timeout_ms=round(settings.max_s * 1000),
        silence_s=settings.silence_s,
        beep=settings.beep,
    )
    wav = Path(recording.path)
    try:
        if recording.reason == "hangup":
            raise CallerHangup("hangup")
        if recording.reason == "dtmf":
            ctx.heard(f"dtmf {recording.digit}")
            return SpeechTurn(digit=recording.digit)
        transcript = await recogniser.recognise(wav, language=ctx.language, phrases=phrases)
    finally:
        _discard(wav)
    if transcript is None:
        ctx.heard("speech (not recognised: keys instead)")
        return SpeechTurn(failed=True)
    text = " ".join(transcript.text.split())[:MAX_TRANSCRIPT]
    ctx.heard(f"said {text!r}" if text else "silence")
    return SpeechTurn(text=text)


def _turn_file(directory: Path, stem: str) -> Path:
    """Where Asterisk records the turn (the directory made on first use; a local syscall)."""
    directory.mkdir(parents=True, exist_ok=True)
    return directory / stem


def _discard(wav: Path) -> None:
    """The caller's voice is not kept once it has been recognised."""
    wav.unlink(missing_ok=True)


def normalise(text: str) -> str:
    return " ".join(_PUNCTUATION.sub(" ", text.casefold()).split())


def match_phrase(text: str, phrases: Mapping[str, str]) -> str | None:
    """The target of the first phrase heard as whole words in ``text``."""
    heard = f" {normalise(text)} "
    for phrase, target in phrases.items():
        wanted = normalise(phrase)
        if wanted and f" {wanted} " in heard:
            return target
    return None


def understand(ctx: CallContext, text: str) -> IntentResult | None:
    """The classifier's answer, recorded on the call when it is a known intent."""
    classifier = ctx.services.classifier
    if classifier is None or not text:
        return None
    match = classifier.classify(text, ctx.language)
    attributes = ctx.state.attributes
    attributes[WellKnown.TRANSCRIPT] = text
    for entity, value in match.entities:
        attributes[WellKnown.ENTITY_PREFIX + entity] = value
    if match.known:
        attributes[WellKnown.INTENT] = match.intent
        attributes[WellKnown.INTENT_CONFIDENCE] = f"{match.confidence:.2f}"
        attributes[WellKnown.CALL_TYPE] = match.call_type
        current = ctx.state.number(WellKnown.COMPLEXITY) or 0
        attributes[WellKnown.COMPLEXITY] = str(max(int(current), match.complexity))
    return match


async def run_ask(step: AskStep, ctx: CallContext) -> Transition:
    if ctx.services.recogniser is None or ctx.services.classifier is None:
        return Transition(step.fallback, "no speech service: keys instead")
    for attempt in range(1, step.max_tries + 1):
        await ctx.play(step.prompt)
        turn = await listen(ctx, escape="0123456789*", phrases=None)
        if turn.failed:
            return Transition(step.fallback, "speech failed: keys instead")
        if turn.digit is not None:
            return Transition(step.fallback, "caller pressed a key: keys instead")
        match = understand(ctx, turn.text or "")
        if match is not None and match.known:
            target = step.intents.get(match.intent, step.next)
            return Transition(target, f"intent {match.intent} ({match.confidence:.2f})")
        if attempt < step.max_tries:
            await ctx.play(step.no_match_prompt)
    return Transition(step.fallback, f"no intent after {step.max_tries} tries: keys instead")
