"""AGI commands that play, listen or record: the ones with Asterisk's timing semantics.

Positions are 8 kHz samples, except RECORD FILE's endpos: the file's (16 kHz for wav16).
Digits come back as ASCII codes, except GET DATA (the string). See the module docs of
`channel` for how scripted digits and hang-ups are timed, and of `talk` for what the
caller's speech says over AMI while TALK_DETECT is set.
"""

from __future__ import annotations

import array

from telephony import agi_codec as agi
from telephony.emulator import talk
from telephony.emulator.agi_reply import AgiContext, Reply, ok, parse_int, show_usage
from telephony.emulator.channel import ALL_DIGITS
from telephony.emulator.media import (
    RATE,
    RECORD_FORMATS,
    RECORD_RATES,
    load_speech,
    say_seconds,
    write_recording,
)

FIRST_DIGIT_TIMEOUT_V = 10.0  # the pbx's response timeout when GET DATA has no timeout
NEXT_DIGIT_TIMEOUT_V = 5.0
GET_OPTION_TIMEOUT_V = 5.0
#: res_agi's rewind of a recording ended by a key (ms); file.c rewinds 8 samples a ms
#: whatever the file's rate (0.1 s of a wav16).
DTMF_REWIND_MS = 200


def _escapes(text: str) -> str:
    return "".join(c for c in text if c in ALL_DIGITS)


def _pos(offset: int, elapsed_v: float) -> int:
    return offset + round(elapsed_v * RATE)


async def stream_file(ctx: AgiContext, args: list[str], *, control: bool = False) -> Reply:
    name = agi.CONTROL_STREAM_FILE if control else agi.STREAM_FILE
    if not 2 <= len(args) <= (7 if control else 3):
        return show_usage(name)
    samples = ctx.pbx.prompts.total(args[0], ctx.ch.language)
    if samples is None:
        return ok(-1, endpos=0)
    offset = 0 if control or len(args) < 3 else max(parse_int(args[2]) or 0, 0)
    remaining_v = max(samples - offset, 0) / RATE
    ch, accept = ctx.ch, _escapes(args[1])
    queued = ch.listens(accept, asking=False)
    audio = ch.audio
    elapsed_v = 0.0
    if audio.talks_over(args[0]) and audio.delay_v < remaining_v:
        # The caller starts answering over the prompt; it plays on (no key comes now) until
        # it ends or the AGI script writes a command (an emulator link cancels this one).
        waited = await ch.wait(audio.delay_v, accept=accept, queued=queued)
        if not waited.interrupted and not waited.digit:
            audio.start_talking(ch.logical_v)
            if audio.spoken is not None:
                talk.hear(ch, load_speech(audio.spoken[0]))
            elapsed_v = waited.elapsed_v
            waited = await ch.wait(remaining_v - elapsed_v, accept=accept, queued=False)
    else:
        waited = await ch.wait(remaining_v, accept=accept, queued=queued)
    elapsed_v += waited.elapsed_v
    if waited.interrupted:
        return ok(-1, endpos=_pos(offset, elapsed_v), failed=True)
    if waited.digit:
        return ok(ord(waited.digit), endpos=_pos(offset, elapsed_v))
    return ok(0, endpos=-1 if control else samples)


async def get_option(ctx: AgiContext, args: list[str]) -> Reply:
    if not 2 <= len(args) <= 3:
        return show_usage(agi.GET_OPTION)
    samples = ctx.pbx.prompts.total(args[0], ctx.ch.language)
    if samples is None:
        return ok(-1, endpos=0)
    timeout_ms = parse_int(args[2]) if len(args) > 2 else None
    timeout_v = GET_OPTION_TIMEOUT_V if timeout_ms is None else timeout_ms / 1000
    ch = ctx.ch
    queued = ch.listens(ALL_DIGITS, asking=True)
    waited = await ch.wait(samples / RATE, accept=_escapes(args[1]), queued=queued)
    if waited.interrupted:
        return ok(-1, endpos=_pos(0, waited.elapsed_v), failed=True)
    if waited.digit:
        return ok(ord(waited.digit), endpos=_pos(0, waited.elapsed_v))
    after = await ch.wait(None if timeout_v < 0 else timeout_v, accept=ALL_DIGITS, queued=queued)
    if after.interrupted:
        return ok(-1, endpos=samples, failed=True)
    return ok(ord(after.digit) if after.digit else 0, endpos=samples)


async def get_data(ctx: AgiContext, args: list[str]) -> Reply:
    if not 1 <= len(args) <= 3:
        return show_usage(agi.GET_DATA)
    timeout_ms = parse_int(args[1]) if len(args) > 1 else 0
    max_digits = parse_int(args[2]) if len(args) > 2 else None
    max_digits = 1024 if max_digits is None or max_digits <= 0 else max_digits
    first_v: float | None = FIRST_DIGIT_TIMEOUT_V
    next_v: float | None = NEXT_DIGIT_TIMEOUT_V
    if timeout_ms and timeout_ms > 0:
        first_v = next_v = timeout_ms / 1000
    elif timeout_ms and timeout_ms < 0:
        first_v = next_v = None
    ch = ctx.ch
    samples = ctx.pbx.prompts.total(args[0], ch.language) or 0
    queued = ch.listens(ALL_DIGITS, asking=True)
    digits = ""
    waited = await ch.wait(samples / RATE, accept=ALL_DIGITS, queued=queued)
    while True:
        if waited.interrupted:
            return ok(-1, failed=True)
        if waited.digit == "#":
            return ok(digits)
        if waited.digit:
            digits += waited.digit
            if len(digits) >= max_digits:
                return ok(digits)
        waited = await ch.wait(
            next_v if digits else first_v,
            accept=ALL_DIGITS,
            queued=queued,
            digit_at_v=ch.inter_digit_v if digits else ch.dtmf_delay_v,
        )
        if not waited.interrupted and waited.digit is None:
            if digits and queued:
                ch.dtmf.end_input()
            return ok(digits, data="timeout")


async def wait_for_digit(ctx: AgiContext, args: list[str]) -> Reply:
    timeout_ms = parse_int(args[0]) if len(args) == 1 else None
    if timeout_ms is None:
        return show_usage(agi.WAIT_FOR_DIGIT)
    ch = ctx.ch
    queued = ch.listens(ALL_DIGITS, asking=True)
    waited = await ch.wait(
        None if timeout_ms < 0 else timeout_ms / 1000, accept=ALL_DIGITS, queued=queued
    )
    if waited.interrupted:
        return ok(-1, failed=True)
    return ok(ord(waited.digit) if waited.digit else 0)


async def say(ctx: AgiContext, command: str, args: list[str]) -> Reply:
    kind = command.removeprefix("SAY ")
    counts = {"NUMBER": (2, 3), "DATETIME": (2, 4)}
    low, high = counts.get(kind, (2, 2))
    if not low <= len(args) <= high:
        return show_usage(command)
    text = args[0]
    if kind in ("NUMBER", "DATE", "TIME", "DATETIME", "DIGITS"):
        number = parse_int(text)
        if number is None:
            return show_usage(command)
        text = str(number) if kind == "NUMBER" else text
    ch, accept = ctx.ch, _escapes(args[1])
    queued = ch.listens(accept, asking=False)
    waited = await ch.wait(say_seconds(kind, text), accept=accept, queued=queued)
    if waited.interrupted:
        return ok(-1, failed=True)
    return ok(ord(waited.digit) if waited.digit else 0)


async def record_file(ctx: AgiContext, args: list[str]) -> Reply:
    """`RECORD FILE file format escape timeout [offset] [BEEP] [s=silence]`."""
    timeout_ms = parse_int(args[3]) if len(args) >= 4 else None
    if timeout_ms is None:
        return show_usage(agi.RECORD_FILE)
    base, fmt = args[0], args[1]
    if fmt not in RECORD_FORMATS:
        return ok(-1, data="writefile")
    extra = args[4:7]
    silence_s = next((parse_int(a[2:]) for a in extra if a.startswith("s=")), None)
    beep = (len(args) > 4 and parse_int(args[4]) is None and "=" not in args[4]) or (
        len(args) > 5 and "=" not in args[5]
    )
    ch = ctx.ch
    if beep and not await ch.sleep((ctx.pbx.prompts.samples("beep") or 0) / RATE):
        return ok(-1, data="hangup", endpos=0, failed=True)
    audio = ch.audio
    if audio.spoken is not None:  # an answer begun over the prompt: what is left of it
        begun, began_v = audio.spoken
        audio.spoken = None
        speech = load_speech(begun)[round((ch.logical_v - began_v) * RATE) :]
        delay_v = 0.0
    else:
        speech_file = audio.next_speech() if audio.sends_audio else None
        speech = load_speech(speech_file) if speech_file is not None else array.array("h")
        delay_v = audio.delay_v
        talk.hear(ch, speech, delay_v)
    speech_end_v = delay_v + len(speech) / RATE if speech else 0.0
    timeout_v = None if timeout_ms < 0 else timeout_ms / 1000
    silence_stop_v: float | None = None
    if silence_s and silence_s > 0 and audio.sends_audio:
        silence_stop_v = speech_end_v + silence_s if speech and delay_v < silence_s else silence_s
    plans = [v for v in (timeout_v, silence_stop_v) if v is not None]
    accept = _escapes(args[2])
    waited = await ch.wait(
        min(plans) if plans else None,
        accept=accept,
        queued=ch.listens(accept, asking=False),
        digit_at_v=(speech_end_v if speech else 0.0) + ch.dtmf_delay_v,
    )
    elapsed_v = waited.elapsed_v
    samples = round(elapsed_v * RATE) if audio.sends_audio else 0
    pcm = array.array("h", bytes(2 * samples))
    start = round(delay_v * RATE)
    chunk = speech[: max(samples - start, 0)]
    pcm[start : start + len(chunk)] = chunk
    by_silence = (
        silence_stop_v is not None
        and not waited.interrupted
        and waited.digit is None
        and (timeout_v is None or silence_stop_v < timeout_v)
    )
    rate = RECORD_RATES.get(fmt, RATE)
    rewind_ms = DTMF_REWIND_MS if waited.digit else 0
    if by_silence and silence_s:
        rewind_ms = (silence_s - 1) * 1000
    if rewind_ms:  # ast_stream_rewind: 8 file samples a ms, here in 8 kHz samples
        samples = max(samples - rewind_ms * 8 * RATE // rate, 0)
        del pcm[samples:]
    ctx.ch.log.recordings.append(write_recording(base, fmt, pcm))
    endpos = samples * rate // RATE
    if waited.interrupted:
        return ok(-1, data="hangup", endpos=endpos, failed=True)
    if waited.digit:
        return ok(ord(waited.digit), data="dtmf", endpos=endpos)
    left_ms = 0 if not by_silence or timeout_ms < 0 else timeout_ms - round(elapsed_v * 1000)
    return ok(left_ms, data="timeout", endpos=endpos)
