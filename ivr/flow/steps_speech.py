"""Speech turns: ask, record the caller's answer, recognise it, understand it.

A turn is its question, then ``RECORD FILE`` (silence detection, keys end it) into a per-call
file under the flow's recordings directory, then ``Recogniser.recognise``; None from the
recogniser means "use keys instead" (busy, failed, too slow, no model for the language). The
audio is deleted as soon as it has been recognised.

What ends the answer is the flow's ``speech.endpoint``: RECORD FILE's own silence detection
(``silence``: whole seconds, and Asterisk reads the caller at 8 kHz for it), or (``talk``)
TALK_DETECT's ``ChannelTalkingStop`` over AMI after ``end_silence_ms`` of quiet, upon which
hotline "receives" the stop key on the channel (PlayDTMF) and RECORD FILE ends; that
recording is ``wav16``, so a wideband caller keeps the band the recognisers need. A caller
who has not started within ``silence_s`` is ended the same way; AMI down: ``silence``.

Callers answer over the question (barge-in): a key stops it and is the answer; their voice
stops it too when barge-in is on (the step's ``barge_in``, else the flow's ``speech.barge_in``)
and talk detection is wired (Asterisk's ``TALK_DETECT`` on the channel for the turn, its
``ChannelTalkingStart`` heard over AMI): the prompt is abandoned (the session's fence stops
it) and the recording starts at once. The beep is then a prompt of its own after the
question, stopped the same way (RECORD FILE's cannot be). What was said before the event
reached hotline (the AMI and AGI round trips) is not in the recording: under one 20 ms
packet on Asterisk 20 (bench/barge_in_bench.py). A recording so started that holds no words
means the line's noise stopped the question: the call's later questions play out. Without
AMI, prompts play out.

Bad input has one defined next step each, within the turn's budget (the recording's
``max_s``, the recogniser's ``timeout_s``): silence, noise or music heard as nothing, and
words in another language or off the subject, are not understood: asked again, then keys;
a key pressed: keys; a recogniser that is busy, slow (past its timeout) or crashes: keys at
once. An answer longer than ``max_s`` is cut by Asterisk and what was said is used.

An intent understood with middling confidence can be confirmed (the ask step's
``confirm``): "Billing, is that right?" -- yes (said, or key 1) goes on, no (key 2) asks
again, anything else goes to keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ivr.flow.context import CallContext, Transition
from ivr.flow.nodes import AskStep
from ivr.flow.ports import Classifier, IntentResult, Talk, TalkDetection
from ivr.flow.state import WellKnown
from ivr.intent.entities import spoken_yes_no
from telephony.agi_outcomes import Recording
from telephony.agi_session import AgiCommandError, CallerHangup
from telephony.ami_client import AmiError
from telephony.talk_detection import (
    STOP_KEY,
    TALK_DETECT_REMOVE,
    TALK_DETECT_SET,
    talk_detect_value,
)

log = logging.getLogger("ivr.flow")

#: A yes/no question's keys: 1 yes, 2 no.
YES_NO_KEYS = "12"
#: Asterisk's own beep, the one RECORD FILE plays.
BEEP = "beep"
#: The beep's length, before the caller can start answering (Asterisk's beep.gsm: 0.3 s).
_BEEP_S = 0.5
#: How often the key ending a recording is sent until the recording ends.
_RESEND_S = 1.0
#: Longest transcript kept in the call's attributes and trace.
MAX_TRANSCRIPT = 200
_PUNCTUATION = re.compile(r"[^\w\s]")


@dataclass(frozen=True)
class SpeechTurn:
    digit: str | None = None  # a key pressed instead of speaking
    text: str | None = None  # "" when nothing was said
    failed: bool = False  # no transcript: fall back to keys
    alternatives: tuple[str, ...] = ()  # the recogniser's other readings


async def ask(
    ctx: CallContext,
    prompt: str | None,
    *,
    escape: str,
    phrases: Sequence[str] | None,
    barge_in: bool | None = None,
    private: bool = False,
) -> SpeechTurn:
    """``prompt``, then the caller's answer; a key or (with barge-in: the step's, else the
    flow's) their voice stops the prompt. A key pressed during the prompt is the answer, as
    at the recording. ``private``: what was said (an account number) stays out of the
    call's trace."""
    talk = ctx.services.talk
    settings = ctx.flow.settings.speech
    voice_stops = (settings.barge_in if barge_in is None else barge_in) and ctx.voice_barge_in
    if prompt is None or talk is None or not voice_stops or ctx.session.dead:
        digit = await ctx.play(prompt, escape)
        if digit is not None:
            return SpeechTurn(digit=digit)
        return await listen(ctx, escape=escape, phrases=phrases, private=private)
    with talk.watch(ctx.call_id) as talking:
        await ctx.session.set_variable(TALK_DETECT_SET, talk_detect_value(settings.barge_in_energy))
        try:
            question = _question(ctx, prompt, escape, beep=settings.beep)
            digit, spoke = await _play_until_talk(question, talking.started)
            if digit is not None:
                return SpeechTurn(digit=digit)
            if spoke:
                ctx.heard("spoke over the prompt")
            turn = await listen(
                ctx,
                escape=escape,
                phrases=phrases,
                beep=False,
                private=private,
                detecting=True,
                talking=spoke,
            )
            if spoke and turn.text == "":  # noise, not words: from now on questions play out
                ctx.voice_barge_in = False
                ctx.note("barge-in off: the line's noise stopped a question")
            return turn
        finally:
            if not ctx.session.dead:
                with contextlib.suppress(CallerHangup, AgiCommandError):
                    await ctx.session.set_variable(TALK_DETECT_REMOVE, "")


async def _question(ctx: CallContext, prompt: str, escape: str, *, beep: bool) -> str | None:
    """The question, then the beep as a prompt of its own: RECORD FILE's beep cannot be
    stopped, and a caller who starts as the question ends would lose what they say over it."""
    digit = await ctx.play(prompt, escape)
    if digit is None and beep:
        digit = (await ctx.session.stream_file(BEEP, escape)).digit
    return digit


async def _play_until_talk(
    question: Coroutine[object, None, str | None], talking: asyncio.Event
) -> tuple[str | None, bool]:
    """Plays the question until it ends, a key stops it, or the caller starts talking (it
    is then abandoned: the session's fence stops the prompt): the key, and whether they
    spoke."""
    playing = asyncio.create_task(question)
    heard = asyncio.create_task(talking.wait())
    try:
        await asyncio.wait((playing, heard), return_when=asyncio.FIRST_COMPLETED)
        if not playing.done():
            playing.cancel()
        await asyncio.wait((playing,))
    finally:
        heard.cancel()
        playing.cancel()
    spoke = talking.is_set()
    if playing.cancelled():
        return None, spoke
    return playing.result(), spoke  # CallerHangup when the caller left during the prompt


async def listen(
    ctx: CallContext,
    *,
    escape: str,
    phrases: Sequence[str] | None,
    beep: bool = True,
    private: bool = False,
    detecting: bool = False,
    talking: bool = False,
) -> SpeechTurn:
    """The caller's answer, recorded and recognised. ``detecting``: TALK_DETECT is already
    on (the question's barge-in turns it off); ``talking``: the caller is already speaking."""
    recogniser = ctx.services.recogniser
    if recogniser is None:
        return SpeechTurn(failed=True)
    ctx.turns += 1
    base = _turn_file(ctx.flow.recordings_dir, f"{ctx.file_stem}-{ctx.turns}")
    beep = ctx.flow.settings.speech.beep and beep
    recording = await _record(
        ctx, str(base), escape, beep=beep, detecting=detecting, talking=talking
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
    ctx.heard(("spoke" if private else f"said {text!r}") if text else "silence")
    others = tuple(" ".join(t.split())[:MAX_TRANSCRIPT] for t in transcript.alternatives)
    return SpeechTurn(text=text, alternatives=others)


async def _record(
    ctx: CallContext, base: str, escape: str, *, beep: bool, detecting: bool, talking: bool
) -> Recording:
    """The answer, ended by RECORD FILE's silence detection, or (``endpoint: talk``, AMI
    up) by TALK_DETECT hearing the caller stop, at 16 kHz. AMI lost during the recording:
    it ends at ``max_s``."""
    settings = ctx.flow.settings.speech
    talk, channel = ctx.services.talk, ctx.session.env.channel
    timeout_ms = round(settings.max_s * 1000)
    if settings.endpoint != "talk" or talk is None or not talk.connected or not channel:
        return await ctx.session.record_file(
            base, "wav", escape, timeout_ms=timeout_ms, silence_s=settings.silence_s, beep=beep
        )
    with talk.watch(ctx.call_id) as heard:
        quiet = talk_detect_value(settings.barge_in_energy, settings.end_silence_ms)
        await ctx.session.set_variable(TALK_DETECT_SET, quiet)
        # The time to start answering counts from the recording's start, after the beep.
        no_answer_s = None if talking else settings.silence_s + (_BEEP_S if beep else 0.0)
        ending = asyncio.create_task(_end_when_quiet(talk, channel, heard, no_answer_s))
        try:
            recording = await ctx.session.record_file(
                base, "wav16", escape + STOP_KEY, timeout_ms=timeout_ms, beep=beep
            )
        finally:
            ending.cancel()
            if not detecting and not ctx.session.dead:
                with contextlib.suppress(CallerHangup, AgiCommandError):
                    await ctx.session.set_variable(TALK_DETECT_REMOVE, "")
    if recording.reason == "dtmf" and recording.digit == STOP_KEY:
        return replace(recording, reason="timeout", digit=None)  # as RECORD FILE's silence
    return recording


async def _end_when_quiet(
    talk: TalkDetection, channel: str, heard: Talk, no_answer_s: float | None
) -> None:
    """Ends the recording once the caller has spoken and stopped, or has not started
    within ``no_answer_s``. The key is sent again each second until the recording ends
    (cancelled then): one sent before RECORD FILE started would be lost between commands.
    Without AMI the recording's own timeout ends it."""
    if no_answer_s is None:
        await heard.stopped.wait()
    else:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(no_answer_s):
                await heard.started.wait()
        if heard.started.is_set():
            await heard.stopped.wait()
    while True:
        try:
            await talk.end_recording(channel)
        except (AmiError, OSError) as exc:
            log.warning("call on %s: cannot end the recording over AMI: %s", channel, exc)
            return
        await asyncio.sleep(_RESEND_S)


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


def best_reading(
    classifier: Classifier, language: str, readings: Sequence[str]
) -> tuple[str, IntentResult | None]:
    """What the recogniser's readings of a turn mean together (its n best, its reading without
    the vocabulary prompt: "I want to council my contract" beside "... cancel ...") and the
    reading that said it; ("", None) when nothing was heard."""
    texts = [t for t in dict.fromkeys(" ".join(r.split()) for r in readings) if t]
    if not texts:
        return "", None
    index, match = classifier.classify_readings(texts, language)
    return texts[index], match


def interpret(
    ctx: CallContext, text: str, alternatives: Sequence[str] = ()
) -> tuple[str, IntentResult | None]:
    """The best reading of a turn and the classifier's answer for it."""
    classifier = ctx.services.classifier
    if classifier is None or not text:
        return text, None
    return best_reading(classifier, ctx.language, (text, *alternatives))


def understand(
    ctx: CallContext, text: str, alternatives: Sequence[str] = ()
) -> IntentResult | None:
    """The classifier's answer, recorded on the call when it is a known intent."""
    reading, match = interpret(ctx, text, alternatives)
    if match is not None:
        remember(ctx, reading, match)
    return match


def remember(ctx: CallContext, text: str, match: IntentResult) -> None:
    """What was said and understood, in the call's attributes (for routing and the agent)."""
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


async def confirmed(step: AskStep, ctx: CallContext, match: IntentResult) -> bool | None:
    """Ask "<intent>, is that right?" when the step wants it for this match: True (yes or not
    asked), False (no), None (no usable answer: keys instead)."""
    confirm = step.confirm
    prompt = confirm.prompts.get(match.intent) if confirm is not None else None
    if confirm is None or prompt is None or match.confidence >= confirm.below:
        return True
    turn = await ask(ctx, prompt, escape=YES_NO_KEYS, phrases=None, barge_in=step.barge_in)
    return yes_or_no(turn)


def yes_or_no(turn: SpeechTurn) -> bool | None:
    """A yes/no turn's answer: key 1 or a yes, key 2 (any other key) or a no; None when
    there is no usable answer (silence, unsure words, speech failed)."""
    if turn.digit is not None:
        return turn.digit == YES_NO_KEYS[0]
    if turn.failed or not turn.text:
        return None
    return spoken_yes_no(turn.text)


async def run_ask(step: AskStep, ctx: CallContext) -> Transition:
    if ctx.services.recogniser is None or ctx.services.classifier is None:
        return Transition(step.fallback, "no speech service: keys instead")
    for attempt in range(1, step.max_tries + 1):
        turn = await ask(
            ctx, step.prompt, escape="0123456789*", phrases=None, barge_in=step.barge_in
        )
        if turn.failed:
            return Transition(step.fallback, "speech failed: keys instead")
        if turn.digit is not None:
            return Transition(step.fallback, "caller pressed a key: keys instead")
        reading, match = interpret(ctx, turn.text or "", turn.alternatives)
        if match is not None and not match.known:
            remember(ctx, reading, match)  # what was said and its entities, for the agent
        elif match is not None:
            ctx.state.attributes[WellKnown.TRANSCRIPT] = reading  # the intent once confirmed
        if match is not None and match.known:
            answer = await confirmed(step, ctx, match)
            if answer is None:
                return Transition(step.fallback, f"{match.intent} not confirmed: keys instead")
            if answer:
                remember(ctx, reading, match)
                target = step.intents.get(match.intent, step.next)
                return Transition(target, f"intent {match.intent} ({match.confidence:.2f})")
        if attempt < step.max_tries:
            await ctx.play(step.no_match_prompt)
    return Transition(step.fallback, f"no intent after {step.max_tries} tries: keys instead")
