"""A placed call: the caller's script (keypresses, speech, hang-up) and the test's handle."""

from __future__ import annotations

import asyncio
from collections import deque
from pathlib import Path
from types import MappingProxyType

from telephony.emulator import events
from telephony.emulator.channel import BACKSTOP_S, CallerAudio, Channel, DtmfScript
from telephony.emulator.model import Caller, CallResult
from telephony.emulator.pbx import Pbx


def caller_bye(pbx: Pbx, ch: Channel) -> None:
    """The caller's phone sends BYE."""
    if ch.hung_up or ch.gone.is_set():
        return
    pbx.emit(events.hangup_request(ch, ch.hangupcause or 16, soft=False))
    ch.hang_up(by="caller")


def configure(ch: Channel, caller: Caller) -> None:
    """Loads the caller's script onto its channel."""
    ch.dtmf = DtmfScript(caller.dtmf)
    ch.dtmf_delay_v = caller.dtmf_delay_s
    ch.inter_digit_v = caller.inter_digit_s
    ch.barge_in = caller.barge_in
    ch.after_call_dtmf = caller.after_call_dtmf
    speech = caller.speech
    ch.audio = CallerAudio(
        speech=deque(() if isinstance(speech, Path) else speech or ()),
        repeat=speech if isinstance(speech, Path) else None,
        delay_v=caller.speech_delay_s,
        sends_audio=caller.sends_audio,
        speaks_over=caller.speaks_over,
    )


class Call:
    """The test's handle on one placed call."""

    def __init__(self, pbx: Pbx, ch: Channel, caller: Caller) -> None:
        self._pbx = pbx
        self._ch = ch
        self.caller = caller
        self.channel = ch.name
        self.uniqueid = ch.uniqueid
        self._tasks: list[asyncio.Task[None]] = []
        self._timers: list[asyncio.TimerHandle] = []
        self._done: asyncio.Future[CallResult] = asyncio.get_running_loop().create_future()
        ch.on_caller_hangup = self.hang_up

    # -- the test's side -------------------------------------------------------------------
    def press(self, digits: str) -> None:
        """Presses keys now: a digit a command is reading is taken at once, others queue up
        for the next command that asks (the caller's "when asked" queue)."""
        for digit in digits:
            if not self._ch.offer_digit(digit):
                self._ch.dtmf.push(digit)

    def hang_up(self) -> None:
        caller_bye(self._pbx, self._ch)

    @property
    def done(self) -> bool:
        return self._done.done()

    async def wait_done(self, timeout_s: float = 30.0) -> CallResult:
        """Waits (real seconds) until the caller's channel is gone."""
        async with asyncio.timeout(timeout_s):
            return await asyncio.shield(self._done)

    # -- wiring by the emulator ------------------------------------------------------------
    def start_script(self) -> None:
        caller, clock = self.caller, self._pbx.clock
        for at_s, digits in caller.timed_dtmf:
            self._tasks.append(asyncio.create_task(self._timed_press(at_s, digits)))
        if caller.hangup_after_s is not None:
            loop = asyncio.get_running_loop()
            self._timers.append(loop.call_later(clock.real(caller.hangup_after_s), self.hang_up))

    def on_command(self, index: int) -> None:
        """AGI command number `index` starts: the scripted hang-up lands inside it."""
        caller = self.caller
        if caller.hangup_on_command != index or self._ch.hung_up:
            return
        self._ch.planned_hangup_v = self._ch.logical_v + caller.hangup_delay_s
        backstop = self._pbx.clock.real(caller.hangup_delay_s) + BACKSTOP_S
        self._timers.append(asyncio.get_running_loop().call_later(backstop, self.hang_up))

    async def _timed_press(self, at_s: float, digits: str) -> None:
        await self._pbx.clock.sleep(at_s - self._ch.age_v())
        for i, digit in enumerate(digits):
            if i:
                await self._pbx.clock.sleep(self.caller.inter_digit_s)
            if self._ch.gone.is_set():
                return
            if not self._ch.offer_digit(digit):
                self._ch.press_events(digit)  # pressed, but nobody listened: lost

    def finish(self) -> None:
        for task in self._tasks:
            task.cancel()
        for timer in self._timers:
            timer.cancel()
        if not self._done.done():
            self._done.set_result(self.result())

    def result(self) -> CallResult:
        ch, log = self._ch, self._ch.log
        return CallResult(
            channel=ch.name,
            uniqueid=ch.uniqueid,
            commands=tuple(log.commands),
            agi_status=log.agi_status,
            after_agi=log.after_agi,
            visited=tuple(log.visited),
            fallback_used=log.fallback_used,
            fallback_phone=log.fallback_phone,
            dials=tuple(log.dials),
            hangup_cause=ch.hangupcause,
            hung_up_by=log.hung_up_by,
            recordings=tuple(log.recordings),
            variables=MappingProxyType(dict(ch.variables)),
        )
