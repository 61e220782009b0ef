"""One FastAGI call as typed async methods, over a small transport (one command at a time).

The connection feeds decoded replies in (`feed`, `connection_lost`); handlers call the methods.
Hang-up rules, from the recorded Asterisk transcripts:

* The asynchronous `HANGUP` line, a 511, or `result=-1` from a media command (stream, digits,
  record, say, Playback) mean the caller is gone: the session turns `dead` and media methods
  raise `CallerHangup`, the one exception handlers see for it. `HANGUP` follows a -1 by ~40 ms.
* `STREAM FILE` of a missing prompt also answers `result=-1 endpos=0`, on a live channel; that
  one is told apart by waiting `hangup_grace_s` for the `HANGUP` line (`Playback.played=False`).
* `EXEC Dial` answers -1 whenever the call was bridged, even if the caller is still up. `dial()`
  never raises for that: it waits the grace period for `HANGUP`, reads DIALSTATUS & co (which
  works on a dead channel) and returns a `DialOutcome` with `caller_alive`; if the caller is gone
  the session is dead and the next media method raises.
* Dead mode: GET/SET VARIABLE, GET FULL VARIABLE, VERBOSE, NOOP and EXEC still work after the
  hang-up, so cleanup code may read variables. `hangup()`/`stop_music_on_hold()` are no-ops then.

One command, one reply, except when a command is interrupted. res_agi watches the AGI socket
while STREAM FILE, CONTROL STREAM FILE, GET OPTION and GET DATA play, and while WAIT FOR
DIGIT waits: a new line written then stops the running command. WAIT FOR DIGIT still
answers (`200 result=1`, with a WARNING in Asterisk's log); the others print **no** reply
("don't print a result line, as there is a new command"), unless they had just ended on
their own. SAY NUMBER is not stopped: it ends and answers first (measured on both
Asterisks by tests/telephony/agi_interruption.py). So a command whose caller stops waiting
for it (`asyncio` cancellation: an offer arrived while the caller was on hold or hearing an
announcement) is followed at once by a *fence*, `GET FULL VARIABLE <token>`, whose reply
carries the token back: it interrupts the media, and every reply before it belongs to the
abandoned command and is dropped, whether Asterisk sent one or not.

The next command is written only once the fence is answered, never behind it: res_agi
reads commands with `fgets` from a stdio stream over the socket and waits for the next one
with `poll` on the socket, so a second line that arrived with the first sits in the stdio
buffer, unseen by `poll`, until something else is written (measured: a Dial written right
behind a fence, while an uninterruptible SAY NUMBER played, was never run). The fence
itself can land so: when the command is abandoned before res_agi has read it (an offer
coming a moment after a hold slice was written), one `read` takes both lines; the command
runs, answers, and the fence waits in the buffer while Asterisk waits for a command and
the session for the fence. So a fence not answered within ``refence_s`` is written again
under a new token (then after twice as long, up to ``REFENCE_MAX_S``): its bytes wake
`poll`, Asterisk answers every buffered line in order, and replies before the newest
fence's are dropped like any other.

Every command has a deadline (the watchdog): quick ones `command_timeout_s`, media ones
their own length plus that margin, the rest (a prompt of unknown length, a Dial) a bound
of their own. When Asterisk does not answer in time the connection is closed and the
reason logged; the dialplan then sends the call to the fallback (hotline never said it was
done: see `telephony.agi_server`'s `HOTLINE_DONE`).

A reply that breaks the protocol (a line over the cap, garbage, a reply nobody asked for)
is a *fault*, not a reason to drop the caller: the running command (or the next one)
raises `AgiProtocolFault`, a fence re-synchronises the stream, and the handler's boundary
sends the call to the fallback over the same connection, as for any other error. A second
fault on the same session closes the connection (the dialplan's guard takes over).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

from telephony import agi_codec as agi
from telephony.agi_codec import AgiEnvironment, AgiResponse, Hangup
from telephony.agi_outcomes import (
    AgiCommandError,
    AgiProtocolFault,
    CallerHangup,
    DialOutcome,
    DigitInput,
    Playback,
    Recording,
)

__all__ = [
    "MAX_BRIDGE_S",
    "AgiCommandError",
    "AgiProtocolFault",
    "AgiSession",
    "AgiTransport",
    "CallerHangup",
    "DialOutcome",
    "DigitInput",
    "Playback",
    "Recording",
]

log = logging.getLogger("telephony.agi")

# Commands that return at once; anything else may block for the prompt/dial/recording length.
_QUICK = frozenset(
    {agi.ANSWER, agi.CHANNEL_STATUS, agi.GET_VARIABLE, agi.GET_FULL_VARIABLE, agi.SET_VARIABLE}
    | {agi.VERBOSE, agi.NOOP, agi.HANGUP, agi.SET_CONTEXT, agi.SET_EXTENSION, agi.SET_PRIORITY}
    | {agi.SET_CALLERID, agi.SET_MUSIC, agi.SET_AUTOHANGUP, agi.GOSUB}
)
_DEFAULT: float = -1.0  # "use the session's timeout for this kind of command"
#: The watchdog's bound on a bridged conversation (Dial returns when it ends).
MAX_BRIDGE_S = 8 * 3600.0
#: The longest wait before an unanswered fence is written again (see the module's doc).
REFENCE_MAX_S = 4.0


class AgiTransport(Protocol):
    """The part of an asyncio transport the session writes to."""

    def write(self, data: bytes) -> None: ...
    def close(self) -> None: ...
    def is_closing(self) -> bool: ...


def _digit(code: int) -> str | None:
    return chr(code) if 0 < code < 0x110000 else None


def _to_int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


class AgiSession:
    """Typed AGI commands for one call. Not thread-safe; commands are serialised by a lock."""

    def __init__(
        self,
        env: AgiEnvironment,
        transport: AgiTransport,
        *,
        command_timeout_s: float | None = 10.0,
        media_timeout_s: float | None = 600.0,
        hangup_grace_s: float = 0.25,
        refence_s: float = 0.5,
        peer: str = "",
    ) -> None:
        self.env = env
        #: How long an unanswered fence waits before it is written again (the first time).
        self._refence_s = refence_s
        self._transport = transport
        self._command_timeout_s = command_timeout_s
        #: The bound of a command of unknown length (a prompt, GET DATA, an application).
        self._media_timeout_s = media_timeout_s
        self._grace_s = hangup_grace_s
        self._label = f"{env.channel or '?'} ({env.uniqueid or '?'}) from {peer or '?'}"
        self._lock = asyncio.Lock()
        self._pending: asyncio.Future[AgiResponse] | None = None
        #: Replies are dropped until one carries this token (see the module's doc).
        self._fence: str | None = None
        self._fences = 0
        self._settled = asyncio.Event()  # no fence outstanding: commands may be written
        self._settled.set()
        self._replied = False  # the pending command's reply came
        self._hung_up = asyncio.Event()
        self._closed = False
        self._close_reason = "connection closed"
        self._cut: bool | None = None  # cut_by_asterisk's answer, once asked
        self._deadline: float | None = None  # when the running command times out
        self._timeout_of_pending = 0.0
        self._command_of_pending = ""
        self._timer: asyncio.TimerHandle | None = None
        #: The loop's time when the last command ended (the server's idle watch reads it).
        self.last_active = 0.0
        self._faults = 0
        self._fault_next: str | None = None  # raised by the next command (none was pending)

    # -- state fed by the connection ------------------------------------------------------

    @property
    def dead(self) -> bool:
        """The channel hung up (or the connection is gone): only dead-mode commands work."""
        return self._hung_up.is_set()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def busy(self) -> bool:
        """A command is running (Asterisk has not answered it yet)."""
        return self._pending is not None

    async def wait_hangup(self) -> None:
        """Returns when the caller hangs up, even while no command runs (e.g. during hold)."""
        await self._hung_up.wait()

    def feed(self, item: AgiResponse | Hangup) -> None:
        if isinstance(item, Hangup):
            self._hung_up.set()
        elif self._fence is not None:
            if item.code == 200 and item.data == self._fence:
                self._fence = None
                self._settled.set()
            # else: the late reply of an abandoned command, or an earlier fence's: dropped
        elif self._pending is None or self._replied:
            self.fault(f"unsolicited AGI reply {item.code} {item.result}")
        else:
            self._replied = True
            if not self._pending.done():  # else: cancelled, its caller is unwinding
                self._pending.set_result(item)

    def fault(self, reason: str) -> None:
        """A protocol fault (see the module's doc): the command waiting (or the next one)
        raises ``AgiProtocolFault``; a fence then drops whatever else the fault left in the
        stream. A second fault closes the connection."""
        if self._closed:
            return
        self._faults += 1
        if self._faults > 1:
            self.abort(f"{reason} (a second protocol fault)")
            return
        log.warning("AGI %s: %s; the call goes to the fallback", self._label, reason)
        if self._pending is not None and not self._pending.done() and not self._replied:
            self._pending.set_exception(AgiProtocolFault(reason))  # its finally sends the fence
        else:
            self._fault_next = reason
            if self._fence is None:
                self._abandoned()

    def _abandoned(self) -> None:
        """The running command's caller stopped waiting: interrupt it with a fence."""
        if self._closed or self._transport.is_closing():
            return
        self._fences += 1
        self._fence = f"hotline-fence-{self._fences}"
        self._settled.clear()
        self._transport.write(agi.encode_command(agi.GET_FULL_VARIABLE, self._fence))

    def connection_lost(self, reason: str = "connection closed") -> None:
        if not self._closed:
            self._close_reason = reason
        self._closed = True
        self._hung_up.set()
        self._settled.set()  # nothing more will come: wake a command waiting on a fence
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending is not None and not self._pending.done():
            self._pending.set_exception(CallerHangup(reason))

    def abort(self, reason: str, hangup_reason: str = "connection closed") -> None:
        """Drop the connection after a protocol fault or timeout (logged here, once)."""
        if not self._closed:
            log.warning("AGI %s: %s; closing the connection", self._label, reason)
            self._transport.close()
            self.connection_lost(hangup_reason)

    def _arm(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """One lazy timer per session instead of one per command (commands are ~100 µs)."""
        self._deadline = deadline
        if self._timer is None or self._timer.when() > deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = loop.call_at(deadline, self._check_deadline, loop)

    def _check_deadline(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        if self._deadline is None or self._closed:
            return
        if loop.time() >= self._deadline:
            self.abort(
                f"no reply to {self._command_of_pending} within {self._timeout_of_pending:g} s"
                " (watchdog): the dialplan sends the call to the fallback",
                "command timeout",
            )
        else:
            self._timer = loop.call_at(self._deadline, self._check_deadline, loop)

    # -- raw command ----------------------------------------------------------------------

    async def command(
        self, name: str, *args: str | int, timeout_s: float | None = _DEFAULT
    ) -> AgiResponse:
        """Sends one command and returns its final reply (works in dead mode).

        Raises CallerHangup for 511 and a lost connection, AgiCommandError for 510/520/other."""
        line = agi.encode_command(name, *args)
        if timeout_s == _DEFAULT:
            quick = name in _QUICK or name.upper() in _QUICK
            timeout_s = self._command_timeout_s if quick else self._media_timeout_s
        async with self._lock:
            if not self._settled.is_set():
                await self._await_fence()
            if self._closed:
                raise CallerHangup(self._close_reason)
            if self._fault_next is not None:
                reason, self._fault_next = self._fault_next, None
                raise AgiProtocolFault(reason)
            loop = asyncio.get_running_loop()
            future: asyncio.Future[AgiResponse] = loop.create_future()
            self._pending = future
            self._replied = False
            try:
                self._transport.write(line)
                if timeout_s is not None:
                    self._timeout_of_pending = timeout_s
                    self._command_of_pending = name
                    self._arm(loop, loop.time() + timeout_s)
                response = await future
            finally:
                if not self._replied:
                    self._abandoned()
                self._pending = None
                self._deadline = None
                self.last_active = loop.time()
        if response.code == 511:
            self._hung_up.set()
            raise CallerHangup("dead channel")
        if response.code != 200:
            raise AgiCommandError(name, response)
        return response

    async def _await_fence(self) -> None:
        """Until the abandoned command's fence is answered: an interrupted prompt answers at
        once, an uninterruptible one (SAY NUMBER, an application) when it ends. A lost
        connection ends the wait too (``connection_lost`` sets ``_settled``). A fence stuck
        in res_agi's stdio buffer is freed by writing another (see the module's doc)."""
        loop = asyncio.get_running_loop()
        bound = self._media_timeout_s
        deadline = None if bound is None else loop.time() + bound
        every = self._refence_s
        while not self._settled.is_set():
            wait = every if deadline is None else min(every, deadline - loop.time())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(wait, 0.0)):
                    await self._settled.wait()
            if self._settled.is_set():
                return
            if deadline is not None and loop.time() >= deadline:
                self.abort(
                    f"no reply to the fence {self._fence} within {bound:g} s"
                    " (watchdog): the dialplan sends the call to the fallback",
                    "command timeout",
                )
                return
            log.info("AGI %s: fence %s not answered yet: another", self._label, self._fence)
            self._abandoned()
            every = min(every * 2, REFENCE_MAX_S)

    async def _media(
        self, name: str, *args: str | int, timeout_s: float | None = _DEFAULT
    ) -> tuple[int, AgiResponse]:
        """A command that needs a live channel; its integer result (-1 = hung up) and reply."""
        if self.dead:
            raise CallerHangup("hangup")
        response = await self.command(name, *args, timeout_s=timeout_s)
        code = response.result_int
        if code is None:
            raise AgiCommandError(name, response)
        return code, response

    def _gone(self) -> CallerHangup:
        self._hung_up.set()
        return CallerHangup("hangup")

    async def _await_hangup_line(self) -> bool:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._grace_s):
                await self._hung_up.wait()
        return self.dead

    def _bounded(self, ms: int) -> float | None:
        if self._command_timeout_s is None or ms < 0:
            return None
        return ms / 1000 + self._command_timeout_s

    # -- channel ----------------------------------------------------------------------------

    async def answer(self) -> None:
        code, _ = await self._media(agi.ANSWER, timeout_s=self._command_timeout_s)
        if code < 0:
            raise self._gone()

    async def hangup(self) -> None:
        if not self.dead:
            await self.command(agi.HANGUP)
            self._hung_up.set()

    async def channel_status(self) -> int:
        """Asterisk's channel state (4 ringing, 6 up); CallerHangup on a dead channel."""
        code, _ = await self._media(agi.CHANNEL_STATUS, timeout_s=self._command_timeout_s)
        return code

    async def continue_at(self, context: str, extension: str, priority: int | str) -> None:
        """Where the dialplan continues once this AGI connection closes."""
        if self.dead:
            raise CallerHangup("hangup")
        await self.command(agi.SET_CONTEXT, context)
        await self.command(agi.SET_EXTENSION, extension)
        await self.command(agi.SET_PRIORITY, priority)

    async def verbose(self, message: str, level: int = 1) -> None:
        await self.command(agi.VERBOSE, message, level)

    # -- variables (dead mode allowed) -------------------------------------------------------

    async def set_variable(self, name: str, value: str) -> None:
        await self.command(agi.SET_VARIABLE, name, value)

    async def get_variable(self, name: str) -> str | None:
        response = await self.command(agi.GET_VARIABLE, name)
        return response.data if response.result == "1" else None

    async def get_full_variable(self, expression: str) -> str | None:
        response = await self.command(agi.GET_FULL_VARIABLE, expression)
        return response.data if response.result == "1" else None

    async def cut_by_asterisk(self) -> bool:
        """After a hang-up: True when Asterisk ended the call itself (a restart or shutdown
        leaves ``CHANNEL(hangupsource)`` empty), not the caller; False when the caller hung
        up or it cannot be told (the connection is gone). Asked once (dead mode allows it)."""
        if self._cut is None:
            source: str | None = "?"
            if not self._closed:
                with contextlib.suppress(CallerHangup, AgiCommandError):
                    source = await self.get_full_variable(agi.EXPR_HANGUP_SOURCE)
            self._cut = not source
        return self._cut

    # -- media --------------------------------------------------------------------------------

    async def stream_file(
        self, prompt: str, escape_digits: str = "", offset: int | None = None
    ) -> Playback:
        extra = () if offset is None else (offset,)
        code, response = await self._media(agi.STREAM_FILE, prompt, escape_digits, *extra)
        endpos = response.endpos or 0
        if code < 0:
            if endpos == 0 and not await self._await_hangup_line():
                log.warning("AGI %s: prompt %r could not be played", self._label, prompt)
                return Playback(None, 0, played=False)
            raise self._gone()
        return Playback(_digit(code), endpos)

    async def get_data(
        self, prompt: str, timeout_ms: int | None = None, max_digits: int | None = None
    ) -> DigitInput:
        args: list[str | int] = [prompt]
        if timeout_ms is not None or max_digits is not None:
            args.append(timeout_ms if timeout_ms is not None else 0)  # 0: Asterisk's default
        if max_digits is not None:
            args.append(max_digits)
        if self.dead:
            raise CallerHangup("hangup")
        response = await self.command(agi.GET_DATA, *args)
        if response.result.startswith("-"):
            raise self._gone()
        return DigitInput(response.result, timed_out=response.data == "timeout")

    async def wait_for_digit(self, timeout_ms: int) -> str | None:
        bound = self._bounded(timeout_ms)
        code, _ = await self._media(agi.WAIT_FOR_DIGIT, timeout_ms, timeout_s=bound)
        if code < 0:
            raise self._gone()
        return _digit(code)

    async def record_file(
        self,
        path: str,
        fmt: str = "wav",
        escape_digits: str = "#",
        timeout_ms: int = 20000,
        silence_s: int | None = None,
        beep: bool = True,
    ) -> Recording:
        """Records until a digit, `silence_s` of silence or `timeout_ms`. A hang-up returns the
        partial recording (reason "hangup") and leaves the session dead."""
        args: list[str | int] = [path, fmt, escape_digits, timeout_ms]
        if beep or silence_s is not None:
            args.append(0)  # sample offset, needed before the optional words
        if beep:
            args.append("BEEP")
        if silence_s is not None:
            args.append(f"s={silence_s}")
        bound = self._bounded(timeout_ms + 1000)
        code, response = await self._media(agi.RECORD_FILE, *args, timeout_s=bound)
        reason, endpos = response.data, response.endpos or 0
        if reason == "hangup":
            self._hung_up.set()
            return Recording(f"{path}.{fmt}", "hangup", None, endpos)
        if reason == "dtmf" and code >= 0:
            return Recording(f"{path}.{fmt}", "dtmf", _digit(code), endpos)
        if reason == "timeout" and code >= 0:
            return Recording(f"{path}.{fmt}", "timeout", None, endpos)
        if await self._await_hangup_line():
            raise self._gone()
        raise AgiCommandError(agi.RECORD_FILE, response)  # e.g. (writefile): bad format/path

    async def say_number(self, number: int, escape_digits: str = "") -> str | None:
        return await self._say(agi.SAY_NUMBER, number, escape_digits)

    async def say_digits(self, digits: str, escape_digits: str = "") -> str | None:
        return await self._say(agi.SAY_DIGITS, digits, escape_digits)

    async def say_alpha(self, text: str, escape_digits: str = "") -> str | None:
        return await self._say(agi.SAY_ALPHA, text, escape_digits)

    async def _say(self, name: str, value: str | int, escape_digits: str) -> str | None:
        code, _ = await self._media(name, value, escape_digits)
        if code < 0:
            raise self._gone()
        return _digit(code)

    async def playback(self, *prompts: str) -> None:
        """`Playback(a&b)`: uninterruptible. A missing prompt is not an error (Asterisk's 0)."""
        code, _ = await self._media(agi.EXEC, agi.APP_PLAYBACK, "&".join(prompts))
        if code < 0:
            raise self._gone()

    async def background(self, prompt: str) -> str | None:
        """`Background(prompt)`: the digit that interrupted it, if any."""
        code, _ = await self._media(agi.EXEC, agi.APP_BACKGROUND, prompt)
        if code < 0:
            raise self._gone()
        return _digit(code)

    async def music_on_hold(self, cls: str, seconds: int) -> None:
        bound = self._bounded(seconds * 1000)
        arg = f"{cls},{seconds}"
        code, _ = await self._media(agi.EXEC, agi.APP_MUSIC_ON_HOLD, arg, timeout_s=bound)
        if code < 0:
            raise self._gone()

    async def start_music_on_hold(self, cls: str = "") -> None:
        args = (cls,) if cls else ()
        t = self._command_timeout_s
        code, _ = await self._media(agi.EXEC, agi.APP_START_MUSIC_ON_HOLD, *args, timeout_s=t)
        if code < 0:
            raise self._gone()

    async def stop_music_on_hold(self) -> None:
        if not self.dead:
            t = self._command_timeout_s
            await self._media(agi.EXEC, agi.APP_STOP_MUSIC_ON_HOLD, timeout_s=t)

    async def exec(self, app: str, *args: str, timeout_s: float | None = _DEFAULT) -> int:
        """Any dialplan application; its raw result (-2: no such application). Args are joined
        with "," into the one argument EXEC passes on. Works in dead mode."""
        words = (app, ",".join(args)) if args else (app,)
        response = await self.command(agi.EXEC, *words, timeout_s=timeout_s)
        code = response.result_int
        if code is None:
            raise AgiCommandError(agi.EXEC, response)
        return code

    async def gosub(self, context: str, extension: str, priority: int, *args: str) -> bool:
        """Runs a dialplan subroutine; False when the label does not exist."""
        words = (",".join(args),) if args else ()
        response = await self.command(agi.GOSUB, context, extension, priority, *words)
        return response.result == "0"

    # -- dial ---------------------------------------------------------------------------------

    async def dial(self, endpoint: str, timeout_s: int, options: str = "") -> DialOutcome:
        """`Dial(endpoint,timeout[,options])`, then the outcome from DIALSTATUS & co.

        Never raises for the caller hanging up during the dial: see `caller_alive`."""
        arg = f"{endpoint},{timeout_s}" + (f",{options}" if options else "")
        bound = None if self._media_timeout_s is None else timeout_s + MAX_BRIDGE_S
        code, _ = await self._media(agi.EXEC, agi.APP_DIAL, arg, timeout_s=bound)
        if code < 0:  # bridged (either side hung up) or the caller cancelled: wait for HANGUP
            await self._await_hangup_line()
        status = await self.get_variable(agi.VAR_DIALSTATUS) or ""
        answered = await self._dial_ms(agi.VAR_ANSWEREDTIME_MS, agi.VAR_ANSWEREDTIME)
        dialed = await self._dial_ms(agi.VAR_DIALEDTIME_MS, agi.VAR_DIALEDTIME)
        cause = _to_int(await self.get_variable(agi.VAR_HANGUPCAUSE))
        peer_name = await self.get_variable(agi.VAR_DIALEDPEERNAME) or None
        peer_number = await self.get_variable(agi.VAR_DIALEDPEERNUMBER) or None
        if code < 0 and not self.dead:
            with contextlib.suppress(CallerHangup):
                await self.channel_status()  # confirms the caller is still up (511 if not)
        return DialOutcome(
            status, code, not self.dead, answered, dialed, cause, peer_name, peer_number
        )

    async def _dial_ms(self, var_ms: str, var_s: str) -> int | None:
        """Asterisk 20 sets `*_MS`; older ones only the whole seconds."""
        ms = _to_int(await self.get_variable(var_ms))
        if ms is None and (seconds := _to_int(await self.get_variable(var_s))) is not None:
            ms = seconds * 1000
        return ms
