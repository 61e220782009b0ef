"""One emulated channel: identity, dialplan position, variables, and the media clock.

Every blocking thing a channel does (a prompt, a digit wait, ringing, talking) goes through
`Channel.wait`, which races the planned outcome (prompt end, the caller's next scripted digit,
a scripted hang-up) against live interrupts (a `press()`, BYE, AMI Hangup/Redirect). When the
planned outcome wins, the elapsed time is the exact planned value, so endpos and ANSWEREDTIME
are deterministic even with a tiny `time_scale`; live interrupts are measured.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from telephony import ami_codec as ami
from telephony.emulator import events, talk
from telephony.emulator.clock import Clock
from telephony.emulator.events import Pairs
from telephony.emulator.mixmonitor import MixMonitor
from telephony.emulator.model import DialRecord, HungUpBy

DOWN: Final = 0
RING: Final = 4
RINGING: Final = 5
UP: Final = 6
ALL_DIGITS: Final = "0123456789*#ABCD"
SILENT: Final = ","  # in a DTMF script: stay silent for one asking command
BACKSTOP_S: Final = 0.02  # real seconds a timer waits past a plan, so the exact plan wins

Emit = Callable[[Pairs], None]


class DtmfScript:
    """The caller's queued keypresses ("when asked" semantics, see `Caller.dtmf`)."""

    def __init__(self, digits: str = "") -> None:
        self._queue: deque[str] = deque(digits)

    def head(self, accept: str) -> str | None:
        if self._queue and self._queue[0] != SILENT and self._queue[0] in accept:
            return self._queue[0]
        return None

    def pop(self) -> str:
        return self._queue.popleft()

    def push(self, digits: str) -> None:
        self._queue.extend(digits)

    def begin_answer(self) -> bool:
        """A command that listens starts: False (and the marker consumed) if the caller stays
        silent for it."""
        if self._queue and self._queue[0] == SILENT:
            self._queue.popleft()
            return False
        return True

    def end_input(self) -> None:
        """A `,` right after some digits ended a GET DATA: it is used up with it."""
        if self._queue and self._queue[0] == SILENT:
            self._queue.popleft()

    def __len__(self) -> int:
        return len(self._queue)


@dataclass(frozen=True)
class Waited:
    """How a wait ended: after `elapsed_v` virtual seconds, by a digit, or interrupted."""

    elapsed_v: float
    digit: str | None = None
    interrupted: bool = False  # hung up or redirected: the running application must stop
    woken: bool = False  # `Channel.wake` (e.g. the bridged peer hung up)


@dataclass
class CallLog:
    """What happened to a caller's channel, for `CallResult`."""

    commands: list[str] = field(default_factory=list)
    agi_status: str = ""
    after_agi: tuple[str, str, int] | None = None
    visited: list[tuple[str, str, int, str]] = field(default_factory=list)
    fallback_used: bool = False
    fallback_phone: str | None = None
    dials: list[DialRecord] = field(default_factory=list)
    recordings: list[Path] = field(default_factory=list)
    hung_up_by: HungUpBy = ""


@dataclass
class CallerAudio:
    """What the far end sends: speech wavs for RECORD FILE, or nothing at all.

    A caller who ``speaks_over`` a prompt (by a part of its name) starts their next answer
    ``delay_v`` into it instead of at the recording, once (asked again, they wait for the
    beep): ``spoken`` holds that answer and the channel's logical time it began at, and the
    next recording hears what is left of it."""

    speech: deque[Path] = field(default_factory=deque)
    repeat: Path | None = None
    delay_v: float = 0.5
    sends_audio: bool = True
    speaks_over: str = ""
    spoken: tuple[Path, float] | None = None

    def next_speech(self) -> Path | None:
        return self.speech.popleft() if self.speech else self.repeat

    def talks_over(self, prompt: str) -> bool:
        """Whether the caller will start an answer over this prompt."""
        return (
            bool(self.speaks_over)
            and self.speaks_over in prompt
            and self.sends_audio
            and self.spoken is None
            and (bool(self.speech) or self.repeat is not None)
        )

    def start_talking(self, at_v: float) -> None:
        speech = self.next_speech()
        self.speaks_over = ""
        if speech is not None:
            self.spoken = (speech, at_v)


@dataclass(eq=False)
class Channel:
    name: str
    uniqueid: str
    clock: Clock
    emit: Emit
    linkedid: str = ""
    tech: str = "SIP"
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    language: str = "en"
    accountcode: str = ""
    context: str = ""
    exten: str = ""
    priority: int = 1
    dnid: str = ""
    state: int = DOWN
    app: str = ""
    appdata: str = ""
    bridge_id: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    varset_events: bool = False
    hangupcause: int = 0
    hung_up: bool = False
    #: res_mutestream's suppressed directions (MUTEAUDIO: "in", "out")
    muted: set[str] = field(default_factory=set)
    #: MixMonitor recordings of the channel (app_mixmonitor)
    mixmonitors: list[MixMonitor] = field(default_factory=list)
    #: an audiohook was ever attached (MixMonitor, MUTEAUDIO): ``MixMonitorMute`` then
    #: answers Success even with no MixMonitor left to mute, as Asterisk does
    audiohooks: bool = False
    on_hold: bool = False
    goto_target: tuple[str, str, int] | None = None
    autohangup_v: float | None = None  # SET AUTOHANGUP deadline on the logical clock
    planned_hangup_v: float | None = None  # scripted caller BYE on the logical clock
    logical_v: float = 0.0  # the channel's deterministic media clock
    dtmf: DtmfScript = field(default_factory=DtmfScript)
    dtmf_delay_v: float = 0.5
    inter_digit_v: float = 0.3
    barge_in: bool = True
    #: TALK_DETECT(set)'s thresholds while it is set (``talk.hear``: the talk's AMI events)
    talk_detect: talk.TalkDetect | None = None
    talk_timers: list[asyncio.TimerHandle] = field(default_factory=list)
    after_call_dtmf: str = ""  # queued when the agent hangs up first (see Caller)
    on_caller_hangup: Callable[[], None] | None = None  # fired when a scripted BYE lands
    created_v: float = 0.0
    created_epoch: float = 0.0  # wall clock: the CDR's start
    answered_v: float | None = None
    answered_logical_v: float | None = None
    log: CallLog = field(default_factory=CallLog)
    audio: CallerAudio = field(default_factory=CallerAudio)
    interrupted_event: asyncio.Event = field(default_factory=asyncio.Event)
    gone: asyncio.Event = field(default_factory=asyncio.Event)
    _waiter: tuple[asyncio.Future[tuple[str, str]], str] | None = None
    _autohangup: asyncio.TimerHandle | None = None

    def __post_init__(self) -> None:
        self.linkedid = self.linkedid or self.uniqueid
        self.created_v = self.clock.now_v()
        self.created_epoch = self.clock.epoch()

    # -- state -----------------------------------------------------------------------------
    @property
    def interrupted(self) -> bool:
        return self.hung_up or self.goto_target is not None

    @property
    def up(self) -> bool:
        return self.state == UP

    def set_state(self, state: int) -> None:
        if state != self.state:
            self.state = state
            if state == UP and self.answered_v is None:
                self.answered_v = self.clock.now_v()
                self.answered_logical_v = self.logical_v
            self.emit(events.channel_event(ami.EVENT_NEWSTATE, events.CALL, self))

    def set_var(self, name: str, value: str) -> None:
        function = name.upper().replace(" ", "")
        if function == "TALK_DETECT(SET)":  # write-only function; a bad value changes nothing
            self.talk_detect = talk.parse(value) or self.talk_detect
            return
        if function == "TALK_DETECT(REMOVE)":
            self.talk_detect = None
            return
        self.variables[name] = value
        if self.varset_events:
            self.emit(events.var_set(self, name, value))

    def mute(self, direction: str, on: bool) -> bool:
        """MUTEAUDIO(direction)=on|off (res_mutestream): False for an unknown direction."""
        sides = {"in": {"in"}, "out": {"out"}, "all": {"in", "out"}}.get(direction)
        if sides is None:
            return False
        self.audiohooks = True  # res_mutestream's audiohook, attached on first use
        self.muted = self.muted | sides if on else self.muted - sides
        return True

    def record(self, data: str) -> MixMonitor | None:
        """``MixMonitor(file[,options])`` on this channel; None if the file is unusable."""
        monitor = MixMonitor.start(data, self.clock, bridged=bool(self.bridge_id))
        if monitor is not None:
            self.audiohooks = True
            self.mixmonitors.append(monitor)
        return monitor

    def mute_recordings(self, on: bool) -> bool:
        """``MixMonitorMute`` (both directions): False when the channel has no audiohook."""
        if not self.audiohooks:
            return False
        for monitor in self.mixmonitors:
            monitor.update(muted=on)
        return True

    def bridge_changed(self) -> None:
        """The channel entered or left a bridge (``bridge_id``): recordings follow."""
        for monitor in self.mixmonitors:
            monitor.update(bridged=bool(self.bridge_id))

    def close_recordings(self) -> None:
        for monitor in self.mixmonitors:
            monitor.close()

    def hold(self, on: bool) -> None:
        """The phone on this channel holds its peer (a re-INVITE): AMI Hold/Unhold."""
        if on != self.on_hold and not self.hung_up:
            self.on_hold = on
            name = ami.EVENT_HOLD if on else ami.EVENT_UNHOLD
            self.emit(events.channel_event(name, events.CALL, self))

    def age_v(self) -> float:
        return self.clock.now_v() - self.created_v

    # -- interrupts ------------------------------------------------------------------------
    def hang_up(self, cause: int | None = None, by: HungUpBy = "") -> None:
        """The channel is gone for the application (BYE, AMI Hangup, AGI HANGUP, shutdown)."""
        if cause is not None:
            self.hangupcause = cause
        if self.hung_up:
            return
        self.hung_up = True
        if by and not self.log.hung_up_by:
            self.log.hung_up_by = by
        if self._autohangup is not None:
            self._autohangup.cancel()
        for timer in self.talk_timers:
            timer.cancel()
        self._interrupt()

    def set_autohangup(self, seconds_v: float) -> None:
        """SET AUTOHANGUP: planned on the media clock, with a real-time backstop when idle."""
        if self._autohangup is not None:
            self._autohangup.cancel()
            self._autohangup = None
        self.autohangup_v = None
        if seconds_v <= 0:
            return
        self.autohangup_v = self.logical_v + seconds_v
        loop = asyncio.get_running_loop()
        self._autohangup = loop.call_later(self.clock.real(seconds_v) + BACKSTOP_S, self.hang_up)

    def redirect(self, context: str, exten: str, priority: int) -> None:
        """AMI Redirect: the running application stops, the dialplan continues there."""
        self.goto_target = (context, exten, priority)
        self._interrupt()

    def take_goto(self) -> tuple[str, str, int] | None:
        target, self.goto_target = self.goto_target, None
        if target is not None and not self.hung_up:
            self.interrupted_event.clear()
        return target

    def _interrupt(self) -> None:
        self.interrupted_event.set()
        if self._waiter is not None and not self._waiter[0].done():
            self._waiter[0].set_result(("interrupt", ""))

    def wake(self) -> None:
        """Ends the current wait early without interrupting the channel."""
        if self._waiter is not None and not self._waiter[0].done():
            self._waiter[0].set_result(("wake", ""))

    def offer_digit(self, digit: str) -> bool:
        """A live keypress: consumed if a wait is reading this digit now, else lost."""
        if self._waiter is not None and digit in self._waiter[1] and not self._waiter[0].done():
            self._waiter[0].set_result(("digit", digit))
            return True
        return False

    def listens(self, accept: str, *, asking: bool) -> bool:
        """A command that reads `accept` digits starts: may the caller's queued digits answer
        it? Asking commands (GET DATA, WAIT FOR DIGIT...) always listen; prompts with escape
        digits only when the caller barges in. Either consumes a `,` (silence) at the head."""
        if not accept or not (asking or self.barge_in):
            return False
        return self.dtmf.begin_answer()

    def press_events(self, digit: str) -> None:
        self.emit(events.dtmf(self, digit, end=False))
        self.emit(events.dtmf(self, digit, end=True))

    # -- the one blocking primitive --------------------------------------------------------
    async def wait(
        self,
        max_v: float | None,
        *,
        accept: str = "",
        queued: bool = True,
        digit_at_v: float | None = None,
    ) -> Waited:
        """Waits up to `max_v` virtual seconds (None: forever) for an accepted digit.

        `queued`: the caller's scripted digits may answer this wait (at `digit_at_v`, default
        the caller's `dtmf_delay_s`). A scripted hang-up or autohangup due inside the wait
        happens at its exact planned time.
        """
        if self.interrupted:
            return Waited(0.0, interrupted=True)
        plans: list[tuple[float, int, str]] = []  # (when, tie-break rank, kind)
        for deadline in (self.planned_hangup_v, self.autohangup_v):
            if deadline is not None:
                plans.append((max(deadline - self.logical_v, 0.0), 0, "hangup"))
        if accept and queued and self.dtmf.head(accept) is not None:
            plans.append((self.dtmf_delay_v if digit_at_v is None else digit_at_v, 1, "digit"))
        if max_v is not None:
            plans.append((max(max_v, 0.0), 2, "end"))
        limit, _, kind = min(plans) if plans else (None, 0, "end")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[tuple[str, str]] = loop.create_future()
        self._waiter = (future, accept)
        started = loop.time()
        try:
            timeout = None if limit is None else self.clock.real(limit)
            await asyncio.wait({future}, timeout=timeout)
        finally:
            self._waiter = None
        if future.done():
            live_kind, digit = future.result()
            elapsed = (loop.time() - started) / self.clock.scale
            if limit is not None:
                elapsed = min(elapsed, limit)
            self.logical_v += elapsed
            if live_kind == "digit":
                self.press_events(digit)
                return Waited(elapsed, digit=digit)
            if live_kind == "wake":
                return Waited(elapsed, woken=True)
            return Waited(elapsed, interrupted=True)
        future.cancel()
        assert limit is not None
        self.logical_v += limit
        if kind == "hangup":
            self._planned_hangup()
            return Waited(limit, interrupted=True)
        if kind == "digit":
            digit = self.dtmf.pop()
            self.press_events(digit)
            return Waited(limit, digit=digit)
        return Waited(limit)

    def _planned_hangup(self) -> None:
        if self.autohangup_v is not None and self.autohangup_v <= self.logical_v:
            self.autohangup_v = None
            self.hang_up()
            return
        self.planned_hangup_v = None
        if self.on_caller_hangup is not None:
            self.on_caller_hangup()
        else:
            self.hang_up(16, by="caller")

    async def sleep(self, duration_v: float) -> bool:
        """A wait no digit can end; False if interrupted."""
        return not (await self.wait(duration_v)).interrupted
