"""Steps that hand the call on: queue (the ACD), callback request, voicemail."""

from __future__ import annotations

import logging

from ivr.flow.context import CallContext, Transition
from ivr.flow.digit_entry import DigitEntry, read_back
from ivr.flow.handoff import CallbackRequest
from ivr.flow.nodes import CallbackStep, QueueStep, VoicemailStep
from ivr.flow.state import WellKnown
from ivr.flow.steps_input import out_of_tries
from ivr.flow.steps_speech import YES_NO_KEYS

log = logging.getLogger("ivr.flow")

#: The caller ID confirmed: key 1 (or a yes); another number: key 2 (or a no).
CONFIRM, OTHER_NUMBER = YES_NO_KEYS[0], YES_NO_KEYS[1]


async def run_queue(step: QueueStep, ctx: CallContext) -> Transition:
    if step.queue is not None:
        ctx.state.attributes[WellKnown.QUEUE] = step.queue
    await ctx.play(step.prompt)
    call = ctx.call_attributes()
    await ctx.services.acd.enqueue(ctx.session, call)
    return Transition(None, f"queued ({call.queue or 'default queue'})", ending="queued")


async def run_callback(step: CallbackStep, ctx: CallContext) -> Transition:
    """Confirm the caller ID (1, or a yes) or enter another number (2, or a no), then book
    the callback."""
    number = ctx.caller_number
    if number is not None and not _acceptable(step, number):
        number = None
    entry = DigitEntry(
        ctx,
        step.enter_prompt,
        timeout_s=step.timeout_s,
        max_digits=step.max_digits,
        speech=step.speech,
    )
    for attempt in range(1, step.max_tries + 1):
        if number is None:
            entered = await entry.answer(lambda said: _acceptable(step, said))
            if entered is None:
                continue  # said, read back, not confirmed: asked again
            if _acceptable(step, entered):
                ctx.heard(f"entered a number ({len(entered)} digits)")
                return await _book(step, ctx, entered)
            ctx.heard("invalid number" if entered else "no input")
        else:
            spoken = entry.speech
            question = step.confirm_keys_prompt if spoken is None else spoken.confirm_prompt
            digit = await read_back(
                ctx,
                step.confirm_prompt,
                number,
                question,
                spoken=spoken is not None,
                wait_ms=round(step.timeout_s * 1000),
            )
            if digit == CONFIRM:
                ctx.heard("confirmed the caller id")
                return await _book(step, ctx, number)
            if digit == OTHER_NUMBER:
                ctx.heard("another number")
                number = None
                continue
            ctx.heard(f"dtmf {digit} (invalid)" if digit else "no input")
        if attempt < step.max_tries:
            await ctx.play(step.invalid_prompt)
    return out_of_tries(step.max_tries_target, step.max_tries)


def _acceptable(step: CallbackStep, number: str) -> bool:
    return number.isdigit() and step.min_digits <= len(number) <= step.max_digits


async def _book(step: CallbackStep, ctx: CallContext, number: str) -> Transition:
    ctx.state.attributes[WellKnown.CALLBACK_NUMBER] = number
    request = CallbackRequest(
        number=number,
        call_id=ctx.call_id,
        language=ctx.language,
        requested_at=ctx.now(),
        attributes=dict(ctx.state.attributes),
    )
    await ctx.services.callbacks.request(request)
    await ctx.play(step.done_prompt)
    return Transition(step.next, "callback booked")


async def run_voicemail(step: VoicemailStep, ctx: CallContext) -> Transition:
    await ctx.play(step.prompt)
    base = f"{step.directory.rstrip('/')}/{ctx.file_stem}"
    recording = await ctx.session.record_file(
        base,
        "wav",
        "#",
        timeout_ms=step.max_s * 1000,
        silence_s=step.silence_s,
        beep=step.beep,
    )
    ctx.state.attributes[WellKnown.VOICEMAIL] = recording.path
    seconds = recording.endpos / 8000
    ctx.heard(f"a {seconds:.1f} s message")
    if recording.reason != "hangup":  # hanging up after the message is the usual way out
        await ctx.play(step.goodbye_prompt)
        await ctx.session.hangup()
    return Transition(None, f"voicemail {recording.path}", ending="voicemail")
