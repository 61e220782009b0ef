"""func_talkdetect on an emulated channel: ``TALK_DETECT(set)``'s thresholds, and the AMI
events the caller's speech raises while it is set.

Asterisk's DSP (dsp.c ``ast_dsp_silence``) takes a 20 ms frame whose mean absolute sample is
under the energy threshold for silence; func_talkdetect says ``ChannelTalkingStart`` at the
first frame that is not, and ``ChannelTalkingStop`` once the silence after it has lasted the
silence threshold, with the talk's ms as ``Duration``: a shorter pause is part of the talk.
Setting it again while set changes the thresholds of the detector already there (measured
on Asterisk 20.20.1: tests/asterisk/test_talk_end.py).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Final

import numpy as np

from telephony.emulator import events
from telephony.emulator.media import RATE

if TYPE_CHECKING:
    from telephony.emulator.channel import Channel

#: func_talkdetect.c DEFAULT_SILENCE_THRESHOLD (ms)
DEFAULT_SILENCE_MS: Final = 2500
#: dsp.conf ``silencethreshold``'s default, which func_talkdetect takes when given none
DEFAULT_ENERGY: Final = 256
FRAME: Final = RATE // 50  # the DSP's 20 ms frame of the caller's 8 kHz audio
_LEADING_INT: Final = re.compile(r"\s*([+-]?\d+)")


@dataclass(frozen=True)
class TalkDetect:
    silence_ms: int = DEFAULT_SILENCE_MS
    energy: int = DEFAULT_ENERGY


def parse(value: str) -> TalkDetect | None:
    """``TALK_DETECT(set)``'s ``silence_ms,energy`` (an empty one: its default, not the
    value set before); None where func_talkdetect refuses it (a WARNING, nothing changes)."""
    numbers: list[int] = []
    for part, default in zip(
        [*value.split(",", 1), ""][:2], (DEFAULT_SILENCE_MS, DEFAULT_ENERGY), strict=True
    ):
        if not part.strip():
            numbers.append(default)
            continue
        found = _LEADING_INT.match(part)  # sscanf("%30d")
        if found is None or int(found[1]) < 1:
            return None
        numbers.append(int(found[1]))
    return TalkDetect(*numbers)


def talks(pcm: Sequence[int], detect: TalkDetect) -> list[tuple[float, float]]:
    """The talks the detector hears in 8 kHz ``pcm``: (start, end) seconds of each."""
    whole = len(pcm) // FRAME * FRAME
    energy = np.abs(np.asarray(pcm[:whole], dtype=np.int32)).reshape(-1, FRAME).mean(axis=1)
    gap = detect.silence_ms / 20  # frames of silence that end a talk
    spans: list[list[int]] = []
    for frame in np.flatnonzero(energy >= detect.energy).tolist():
        if spans and frame - spans[-1][1] < gap:
            spans[-1][1] = frame + 1
        else:
            spans.append([frame, frame + 1])
    return [(start * FRAME / RATE, end * FRAME / RATE) for start, end in spans]


def hear(ch: Channel, pcm: Sequence[int], after_v: float = 0.0) -> None:
    """The caller says ``pcm`` from ``after_v`` virtual seconds on: each talk's start at
    its time, its stop the silence threshold set when the talk ends after that (a threshold
    set again while they talk applies, as on Asterisk); each said only if TALK_DETECT is
    still set then (``TALK_DETECT(remove)`` or a hang-up silences what is left)."""
    detect = ch.talk_detect
    if detect is None:
        return
    loop = asyncio.get_running_loop()

    def say(event: Callable[[], events.Pairs]) -> None:
        if ch.talk_detect is not None and not ch.hung_up:
            ch.emit(event())

    def quiet(duration_ms: int) -> None:
        """The talk has ended: its stop once the silence threshold set now has passed."""
        if ch.talk_detect is not None and not ch.hung_up:
            stop = partial(events.talking_stop, ch, duration_ms)
            later = ch.clock.real(ch.talk_detect.silence_ms / 1000)
            ch.talk_timers.append(loop.call_later(later, say, stop))

    for start, end in talks(pcm, detect):
        duration_ms = round((end - start) * 1000)
        started = partial(say, partial(events.talking_start, ch))
        ended = partial(quiet, duration_ms)
        for at_v, then in ((start, started), (end, ended)):
            ch.talk_timers.append(loop.call_later(ch.clock.real(after_v + at_v), then))
